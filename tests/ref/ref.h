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

/* transformer / MLP ops */
void ref_linear_fwd(const double *x, const double *w, const double *b, double *y, int m, int n,
                    int k);
void ref_layernorm_fwd(const double *x, const double *w, const double *b, double eps, double *y,
                       double *mean, double *rstd, int m, int d);
void ref_gelu_fwd(const double *x, double *y, size_t n);
void ref_softmax_fwd(const double *x, double scale, double *y, int m, int n);
void ref_attention_fwd(const double *qkv, double *out, int B, int T, int H, int Dh);
void ref_dropout_mask(double *mask, size_t n, double p, unsigned long long seed, unsigned step,
                      unsigned layer);
void ref_drop_path_mask(double *mask, int samples, double p, unsigned long long seed,
                        unsigned step, unsigned layer);
void ref_add_fwd(const double *a, const double *b, double *y, size_t n);

#endif
