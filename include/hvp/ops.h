/* Device ops, forward and backward. Conventions shared by every op:
 *  - tensors are float32, row-major, NCHW for images; shapes are checked by the op;
 *  - all work is enqueued on ctx->queue and nothing waits (no host round trip);
 *  - backward overwrites input gradients (dx = ...) and ACCUMULATES parameter gradients
 *    (dw += ...), so a parameter used twice in a step (two views) sums its gradients;
 *  - scratch memory comes from ctx->acts and lives until that arena is reset.
 * Each op has a plain-C double-precision reference in tests/ref/ and tests in tests/. */
#ifndef HVP_OPS_H
#define HVP_OPS_H

#include "hvp/tensor.h"

/* ---- GEMM (src/ops/gemm.c) --------------------------------------------------------- */

/* C = alpha * op(A) * op(B) + beta * C, row-major; op(X) = X or X^T. A matrix is a buffer,
 * an element offset and a leading dimension (elements between rows as stored). */
typedef struct hvp_mat {
    cl_mem buf;
    size_t off;
    int ld;
} hvp_mat;

static inline hvp_mat hvp_mat_of(const hvp_tensor *t, int ld)
{
    hvp_mat m = {t->buf, t->off, ld};
    return m;
}

hvp_status hvp_gemm(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    hvp_mat a, hvp_mat b, float beta, hvp_mat c);

/* `batch` GEMMs; matrix i starts stride_x elements after matrix i-1 (heads, images). */
hvp_status hvp_gemm_strided_batched(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k,
                                    float alpha, hvp_mat a, size_t stride_a, hvp_mat b,
                                    size_t stride_b, float beta, hvp_mat c, size_t stride_c,
                                    int batch);

/* ---- ReLU (src/ops/relu.c) --------------------------------------------------------- */

/* y = max(x, 0); y may be x (in place). */
hvp_status hvp_relu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y);
/* dx = dy * (y > 0), from the forward's output; dx may be dy. */
hvp_status hvp_relu_bwd(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *dy,
                        const hvp_tensor *dx);

/* ---- CNN ops: conv2d, batch norm, max pool, global average pool ------------------- */

/* conv2d (src/ops/conv2d.c): x [n, c_in, h, w], w [c_out, c_in, kh, kw] (PyTorch OIHW),
 * optional bias [c_out], y [n, c_out, ho, wo] with ho = (h + 2 pad - kh) / stride + 1 (the
 * same for wo); zero padding. Forward: im2col + GEMM over chunks of the batch (the column
 * matrix stays under 64 MiB of ctx->acts scratch, rewound before returning); 1x1 stride-1
 * convolutions multiply the input directly. */
typedef struct hvp_conv2d_desc {
    int n, c_in, h, w, c_out, kh, kw, stride, pad;
} hvp_conv2d_desc;

int hvp_conv2d_out_h(const hvp_conv2d_desc *d);
int hvp_conv2d_out_w(const hvp_conv2d_desc *d);
/* b may be NULL (no bias). y must not overlap x. */
hvp_status hvp_conv2d_fwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y);
/* dx = d(loss)/dx (skipped when dx is NULL, e.g. the first layer); dw += ...; db += ...
 * when db is not NULL. All reductions are in a fixed order (no atomics). */
hvp_status hvp_conv2d_bwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                          const hvp_tensor *dw, const hvp_tensor *db);
/* Sets the scratch bound (floats per call; 16M = 64 MiB by default; 0 leaves it) and
 * returns the previous one. A single image whose column matrix is larger still runs. */
size_t hvp_conv2d_scratch_limit(size_t floats);

/* batch norm (src/ops/batchnorm.c), one implementation for 2-d (x [n, c, h, w]: hw = h*w)
 * and 1-d (x [n, c]: hw = 1), statistics per channel over (n, hw). PyTorch semantics:
 * eps 1e-5 and momentum 0.1 by default (HVP_BATCHNORM_DESC). gamma/beta NULL: no affine. */
typedef struct hvp_batchnorm_desc {
    int n, c, hw;
    float eps, momentum;
} hvp_batchnorm_desc;
#define HVP_BATCHNORM_DESC(n_, c_, hw_) ((hvp_batchnorm_desc){(n_), (c_), (hw_), 1e-5f, 0.1f})

/* Train mode: normalise with the batch mean and biased variance; save_mean/save_invstd [c]
 * keep them for the backward (invstd = 1/sqrt(var + eps)). When running_mean/var are given
 * (both or neither) they are updated in place: r = (1 - momentum) r + momentum stat, with
 * the unbiased variance. Needs n*hw >= 2. y may be x. Reductions in a fixed order. */
hvp_status hvp_batchnorm_fwd_train(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                   const hvp_tensor *x, const hvp_tensor *gamma,
                                   const hvp_tensor *beta, const hvp_tensor *running_mean,
                                   const hvp_tensor *running_var, const hvp_tensor *y,
                                   const hvp_tensor *save_mean, const hvp_tensor *save_invstd);
/* Eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta; y may be x. */
hvp_status hvp_batchnorm_fwd_eval(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                  const hvp_tensor *x, const hvp_tensor *gamma,
                                  const hvp_tensor *beta, const hvp_tensor *running_mean,
                                  const hvp_tensor *running_var, const hvp_tensor *y);
/* Train-mode backward from the forward's input and saved statistics: dx = ...;
 * dgamma += ..., dbeta += ... when affine (gamma, dgamma, dbeta all given or all NULL).
 * dx may be dy. */
hvp_status hvp_batchnorm_bwd(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                             const hvp_tensor *gamma, const hvp_tensor *save_mean,
                             const hvp_tensor *save_invstd, const hvp_tensor *dy,
                             const hvp_tensor *dx, const hvp_tensor *dgamma,
                             const hvp_tensor *dbeta);

/* max pool (src/ops/maxpool.c): k x k window, stride, padding (pad <= k/2; pads count as
 * -inf, as in PyTorch; floor mode): x [n, c, h, w] -> y [n, c, ho, wo], ho = (h + 2 pad - k)
 * / stride + 1. The forward saves the argmax of each window (I32, position ih * w + iw in
 * its input plane, first maximum in row-major order); the backward is a gather
 * (dx = ..., deterministic). ResNet stem: k 3, stride 2, pad 1. */
typedef struct hvp_maxpool_desc {
    int n, c, h, w, k, stride, pad;
} hvp_maxpool_desc;

int hvp_maxpool_out(int size, int k, int stride, int pad);
hvp_status hvp_maxpool_fwd(hvp_ctx *ctx, const hvp_maxpool_desc *d, const hvp_tensor *x,
                           const hvp_tensor *y, const hvp_tensor *idx);
hvp_status hvp_maxpool_bwd(hvp_ctx *ctx, const hvp_maxpool_desc *d, const hvp_tensor *dy,
                           const hvp_tensor *idx, const hvp_tensor *dx);

/* global average pool (src/ops/avgpool.c): x [n, c, hw] -> y [n, c]; backward
 * dx[i, ch, j] = dy[i, ch] / hw. */
hvp_status hvp_avgpool_fwd(hvp_ctx *ctx, int n, int c, int hw, const hvp_tensor *x,
                           const hvp_tensor *y);
hvp_status hvp_avgpool_bwd(hvp_ctx *ctx, int n, int c, int hw, const hvp_tensor *dy,
                           const hvp_tensor *dx);

#endif
