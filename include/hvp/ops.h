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

#endif
