/* Plain-C references of the device ops, in double: the oracle of the op tests and the
 * function whose finite differences check each backward. Same conventions as hvp/ops.h
 * (row-major, NCHW), but every output is overwritten. */
#ifndef HVP_TEST_REF_H
#define HVP_TEST_REF_H

#include <stddef.h>

/* gemm: C = alpha op(A) op(B) + beta C, row-major with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
              int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* relu */
void ref_relu_fwd(const double *x, double *y, size_t n);

/* ---- losses and selection (ref_l2norm.c, ref_cosine.c, ref_cross_entropy.c,
 * ref_select.c) and optimizers (ref_optim.c) ---- */
void ref_l2norm_fwd(const double *x, double *y, int rows, int cols, double eps);
void ref_cosine_fwd(const double *a, const double *b, double *s, int rows, int cols, double eps);
/* Per-sample losses of softmax(z / tau) against labels (targets NULL) or targets. */
void ref_cross_entropy_fwd(const double *z, const int *labels, const double *t, int rows,
                           int cols, double tau, double *loss);
void ref_gather_fwd(const double *x, const int *idx, double *y, int n, int cols);
void ref_argmax_fwd(const double *x, int *idx, int rows, int cols);
double ref_sum(const double *x, size_t n);
double ref_sumsq(const double *x, size_t n);

/* One step of torch.optim.SGD (dampening 0, no nesterov) on one tensor; buf starts at 0,
 * which gives PyTorch's buf = d on the first step. */
void ref_sgd_step(double *p, const double *g, double *buf, size_t n, double lr, double wd,
                  double momentum);
/* One step of solo-learn's LARS on one tensor (adapt 0: no trust ratio, no weight decay). */
void ref_lars_step(double *p, const double *g, double *buf, size_t n, double lr, double wd,
                   double momentum, double eta, double eps, int clip_lr, int adapt);
/* One step of torch.optim.AdamW; step counts from 1. */
void ref_adamw_step(double *p, const double *g, double *m, double *v, size_t n, double lr,
                    double wd, double beta1, double beta2, double eps, int step);

#endif
