/* Plain-C references of the device ops, in double: the oracle of the op tests and the
 * function whose finite differences check each backward. Same conventions as hvp/ops.h
 * (row-major, NCHW), but every output is overwritten. */
#ifndef HVP_TEST_REF_H
#define HVP_TEST_REF_H

#include <stddef.h>
#include <stdint.h>

/* gemm: C = alpha op(A) op(B) + beta C, row-major with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
              int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* relu */
void ref_relu_fwd(const double *x, double *y, size_t n);

/* CNN ops: conv2d, batch norm, max pool, global average pool (NCHW). */
/* conv2d: x [n,c_in,h,w], w [c_out,c_in,kh,kw], b [c_out] or NULL, y [n,c_out,ho,wo]. */
void ref_conv2d_fwd(const double *x, const double *w, const double *b, double *y, int n,
                    int c_in, int h, int wd, int c_out, int kh, int kw, int stride, int pad);
/* Its backward from dy [n,c_out,ho,wo]: dx = d(loss)/dx (overwritten), dw += d(loss)/dw. */
void ref_conv2d_bwd(const double *x, const double *w, const double *dy, double *dx, double *dw,
                    int n, int c_in, int h, int wd, int c_out, int kh, int kw, int stride,
                    int pad);
/* batch norm over (n, hw) per channel of x [n, c, hw]; gamma/beta NULL = no affine. Train
 * mode normalises with the batch mean and biased variance, returned in mean/var (may be
 * NULL); eval mode with the given running statistics. */
void ref_batchnorm_fwd_train(const double *x, const double *gamma, const double *beta,
                             double *y, double *mean, double *var, int n, int c, int hw,
                             double eps);
void ref_batchnorm_fwd_eval(const double *x, const double *gamma, const double *beta,
                            const double *run_mean, const double *run_var, double *y, int n,
                            int c, int hw, double eps);
/* max pool k x k, stride s, padding p (pads are -inf); idx (may be NULL) gets the argmax
 * h * w + col within the input plane, first maximum in row-major window order. */
void ref_maxpool_fwd(const double *x, double *y, int *idx, int n, int c, int h, int w, int k,
                     int s, int p);
/* global average pool: x [n, c, hw] -> y [n, c]. */
void ref_avgpool_fwd(const double *x, double *y, int n, int c, int hw);
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
/* ---- losses and selection (ref_l2norm.c, ref_cosine.c, ref_cross_entropy.c,
 * ref_select.c) and optimizers (ref_optim.c) ---- */
void ref_l2norm_fwd(const double *x, double *y, int rows, int cols, double eps);
void ref_cosine_fwd(const double *a, const double *b, double *s, int rows, int cols, double eps);
/* Per-sample losses of softmax(z / tau) against labels (targets NULL) or targets. */
void ref_cross_entropy_fwd(const double *z, const int *labels, const double *t, int rows,
                           int cols, double tau, double *loss);
void ref_gather_fwd(const double *x, const int *idx, double *y, int n, int cols);
void ref_argmax_fwd(const double *x, int *idx, int rows, int cols);
/* The k largest of each row, largest first, ties in column order (idx [rows, k]). */
void ref_topk_rows(const double *x, int rows, int cols, int k, int *idx);
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
/* One optimizer step over a list of tensors as PyTorch's param_groups see it (the form of
 * the multi-tensor kernels): tensor i of numel[i] elements in group[i] (lr[group],
 * wd[group]), no_decay[i] sparing it weight decay unless decay_all (SGD, AdamW) or LARS's
 * adaptation and decay when exclude (LARS); kind 0 SGD, 1 LARS, 2 AdamW; s1 the momentum
 * buffers or exp_avg, s2 exp_avg_sq. */
typedef struct ref_optim_list {
    int n;
    double **p, **g, **s1, **s2;
    const size_t *numel;
    const int *group, *no_decay;
} ref_optim_list;
void ref_optim_list_step(const ref_optim_list *l, int kind, const double *lr, const double *wd,
                         double momentum, double beta1, double beta2, double eps, double eta,
                         int clip_lr, int exclude, int decay_all, int step);
/* Gradient norms of a list: norms[i] = ||g_i||, and their norm (the total) returned. */
double ref_grad_norms(const ref_optim_list *l, double *norms);

/* The linear probe (hvp_linear_probe) with weight decay 0: train [n, d] and test [m, d] are
 * standardised in place; test_logits [m, c] and the last batch's mean loss come out. */
void ref_linear_probe(double *train, const int *labels, int n, int d, double *test, int m,
                      int c, int epochs, int batch, double lr, uint64_t seed, double *test_logits,
                      double *last_loss);
/* augmentations (tests/ref/ref_augment.c): one view of an h x w x C uint8 image with the
 * slot's settings and the given drawn parameters, into out[out_c][S][S]; and the
 * torchvision Gaussian blur (kernel k, reflect padding) of im[C][S][S] in place. */
struct hvp_view_slot;
struct hvp_view_params;
void ref_augment_view(const unsigned char *img, int h, int w, int C,
                      const struct hvp_view_slot *slot, const struct hvp_view_params *p,
                      int out_c, double *out);
void ref_augment_blur(double *im, int C, int S, int k, double sigma);

/* ---- ViT position-embedding interpolation (ref_vit_pos_interp.c): see
 * hvp_vit_pos_interp_fwd; scale is the source step per output pixel ---- */
void ref_vit_pos_interp_fwd(const double *pos, double *out, int D, int G, int g, double scale);

/* ---- ViT token embedding (ref_vit_embed.c): see hvp_vit_embed_fwd ---- */
void ref_vit_embed_fwd(const double *c, const double *cls, const double *pos, double *y, int B,
                       int D, int L);

/* ---- weight normalisation (ref_weight_norm.c): see hvp_weight_norm_fwd ---- */
void ref_weight_norm_fwd(const double *v, const double *g, double *w, int rows, int cols);

/* ---- iBOT masked patch embedding (ref_vit_mask.c): see hvp_vit_mask_fwd ---- */
void ref_vit_mask_fwd(const double *c, const int *mask, const double *e, double *y, int B, int D,
                      int L);

#endif
