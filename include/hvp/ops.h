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

/* ---- losses and selection (src/ops/{l2norm,cosine,cross_entropy,gather,argmax,reduce}.c)
 * Rows: a tensor's first dimension is its rows, the rest one row (x [N, D] or [N, C, H, W]). */

/* y = x / max(||x||_2, eps) per row (F.normalize; eps 1e-12 there); y may be x. */
hvp_status hvp_l2norm_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y, float eps);
/* dx from x and dy (the norm is recomputed); dx may be dy. */
hvp_status hvp_l2norm_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *dy,
                          const hvp_tensor *dx, float eps);

/* s[i] = cos(a_i, b_i) for a, b [N, D] into s [N]: F.cosine_similarity(a, b, dim=1, eps),
 * i.e. <a_i / max(||a_i||, eps), b_i / max(||b_i||, eps)> (eps 1e-8 there). */
hvp_status hvp_cosine_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                          const hvp_tensor *s, float eps);
/* da, db from ds [N]; either may be NULL (skipped, e.g. a stop-gradient target). They are
 * overwritten and must not alias a or b. */
hvp_status hvp_cosine_bwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                          const hvp_tensor *ds, const hvp_tensor *da, const hvp_tensor *db,
                          float eps);

/* Cross-entropy of softmax(logits / temperature), logits [N, C], against hard labels (I32 [N],
 * targets NULL) or soft targets (F32 [N, C], labels NULL): -sum_c t_c log_softmax(z/tau)_c.
 * Writes the per-sample losses [N] and/or their mean [1] (either may be NULL, not both; the
 * mean is hvp_reduce's deterministic one). A label outside [0, C) gives NaN. */
hvp_status hvp_cross_entropy_fwd(hvp_ctx *ctx, const hvp_tensor *logits, const hvp_tensor *labels,
                                 const hvp_tensor *targets, float temperature,
                                 const hvp_tensor *losses, const hvp_tensor *mean);
/* dlogits = scale * d(mean loss)/dlogits = scale * (softmax * sum(t) - t) / (N * tau);
 * scale is the upstream gradient of the mean (1 for a lone loss). dlogits may be logits. */
hvp_status hvp_cross_entropy_bwd(hvp_ctx *ctx, const hvp_tensor *logits, const hvp_tensor *labels,
                                 const hvp_tensor *targets, float temperature, float scale,
                                 const hvp_tensor *dlogits);

/* y[i] = x[idx[i]] (rows), x [M, ...], idx I32 [N], y [N, ...]. An index outside [0, M)
 * gives a row of NaN. */
hvp_status hvp_gather_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *idx,
                          const hvp_tensor *y);
/* dx[j] = sum of dy[i] over i with idx[i] == j, in increasing i (deterministic, no atomics);
 * rows nobody picked get 0. Two small I32 scratch arrays come from ctx->acts. */
hvp_status hvp_gather_bwd(hvp_ctx *ctx, const hvp_tensor *idx, const hvp_tensor *dy,
                          const hvp_tensor *dx);

/* idx[i] = argmax_j x[i, j] for x [N, P] into I32 idx [N]; ties go to the lowest index; NaN
 * counts as the largest value (the first NaN wins, as torch.argmax). vals [N] (NULL to skip)
 * gets the winning values. */
hvp_status hvp_argmax_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *idx,
                          const hvp_tensor *vals);

/* Whole-tensor reductions into out (F32, one element; a view into a larger array is fine),
 * in a fixed order: bitwise identical from run to run on a device. No host round trip;
 * partials come from ctx->acts. */
typedef enum hvp_reduce_op {
    HVP_REDUCE_SUM,   /* sum x */
    HVP_REDUCE_MEAN,  /* sum x / n */
    HVP_REDUCE_SUMSQ, /* sum x^2 */
    HVP_REDUCE_NORM2  /* sqrt(sum x^2) */
} hvp_reduce_op;
hvp_status hvp_reduce(hvp_ctx *ctx, hvp_reduce_op op, const hvp_tensor *x, const hvp_tensor *out);
static inline hvp_status hvp_sum(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *out)
{
    return hvp_reduce(ctx, HVP_REDUCE_SUM, x, out);
}
static inline hvp_status hvp_mean(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *out)
{
    return hvp_reduce(ctx, HVP_REDUCE_MEAN, x, out);
}

#endif
