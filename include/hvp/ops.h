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

/* ---- transformer / MLP ops (src/ops/{linear,layernorm,gelu,softmax,attention,dropout,
 * add}.c) ------------------------------------------------------------------------------ */

#include <stdint.h>

/* Linear, PyTorch layout: y[M, N] = x[M, K] . w[N, K]^T + b[N]. x and y may have any shape
 * with M*K and M*N elements (e.g. [B, T, K]); K and N come from w, which is [N, K]. b may
 * be NULL (no bias). */
hvp_status hvp_linear_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                          const hvp_tensor *b, const hvp_tensor *y);
/* dx = dy . w (dx NULL: skipped), dw += dy^T . x, db += column sums of dy (db NULL: no
 * bias). The bias sum is a fixed-order reduction (bitwise reproducible). */
hvp_status hvp_linear_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                          const hvp_tensor *dy, const hvp_tensor *dx, const hvp_tensor *dw,
                          const hvp_tensor *db);

/* Layer norm over the last dimension D of x (M rows of D; D = x's last dimension):
 * y = (x - mean) / sqrt(var + eps) * w + b, biased variance, eps e.g. 1e-6 as in timm ViT.
 * w, b: [D] or NULL (no affine weight / bias). Saves mean[M] and rstd[M] for backward. */
hvp_status hvp_layernorm_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                             const hvp_tensor *b, float eps, const hvp_tensor *y,
                             const hvp_tensor *mean, const hvp_tensor *rstd);
/* dx = ..., dw += sum over rows of dy * xhat, db += sum over rows of dy (column reductions
 * in a fixed order); dw / db NULL to skip, w NULL when the forward had none. dx may be dy. */
hvp_status hvp_layernorm_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                             const hvp_tensor *mean, const hvp_tensor *rstd,
                             const hvp_tensor *dy, const hvp_tensor *dx, const hvp_tensor *dw,
                             const hvp_tensor *db);

/* GELU, exact erf form: y = 0.5 x (1 + erf(x / sqrt 2)); y may be x. */
hvp_status hvp_gelu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y);
/* dx = dy * gelu'(x), from the forward's INPUT x; dx may be dy. */
hvp_status hvp_gelu_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *dy,
                        const hvp_tensor *dx);

/* Row softmax over the last dimension N of x: y = softmax(scale * x), stable; y may be x. */
hvp_status hvp_softmax_fwd(hvp_ctx *ctx, const hvp_tensor *x, float scale, const hvp_tensor *y);
/* dx = scale * y * (dy - rowsum(dy * y)), from the forward's output y; dx may be dy. */
hvp_status hvp_softmax_bwd(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *dy, float scale,
                           const hvp_tensor *dx);

/* Multi-head scaled dot-product attention as in timm's ViT Attention (without the qkv and
 * proj Linears): qkv [B, T, 3*D] is read as (B, T, 3, H, Dh), D = H*Dh; per head
 * O = softmax(Q K^T / sqrt(Dh)) V, heads merged back as (B, T, H, Dh) into out [B, T, D]. */
typedef struct hvp_attn_shape {
    int B, T, H, Dh;
} hvp_attn_shape;
/* Floats of the state the forward saves for the backward: q, k, v split per head
 * ([3, B*H, T, Dh]) followed by the probabilities P ([B*H, T, T]). The caller provides this
 * tensor (any shape with this many elements), e.g. from ctx->acts. */
size_t hvp_attention_saved_numel(const hvp_attn_shape *s);
hvp_status hvp_attention_fwd(hvp_ctx *ctx, const hvp_attn_shape *s, const hvp_tensor *qkv,
                             const hvp_tensor *saved, const hvp_tensor *out);
/* dqkv [B, T, 3*D] = gradient of the forward with respect to qkv (overwritten). Scratch of
 * 4*B*H*T*Dh + B*H*T*T floats is taken from ctx->acts and given back before returning
 * (safe: the queue is in order). */
hvp_status hvp_attention_bwd(hvp_ctx *ctx, const hvp_attn_shape *s, const hvp_tensor *saved,
                             const hvp_tensor *dout, const hvp_tensor *dqkv);

/* Dropout with a mask regenerated from Philox, never stored: element i is kept when
 * hvp_u32_to_unit(word_i) >= p, word_i = hvp_philox(seed, i / 4, step, layer, 0).v[i % 4];
 * kept values are scaled by 1 / (1 - p). Give every dropout site its own `layer` and every
 * step its own `step`; the backward takes the same (seed, step, layer, p). 0 <= p < 1;
 * y may be x, dx may be dy. */
hvp_status hvp_dropout_fwd(hvp_ctx *ctx, const hvp_tensor *x, float p, uint64_t seed,
                           uint32_t step, uint32_t layer, const hvp_tensor *y);
hvp_status hvp_dropout_bwd(hvp_ctx *ctx, const hvp_tensor *dy, float p, uint64_t seed,
                           uint32_t step, uint32_t layer, const hvp_tensor *dx);
/* The words behind dropout masks (U32 stored in an I32 tensor, n = its size), for tests. */
hvp_status hvp_dropout_bits(hvp_ctx *ctx, uint64_t seed, uint32_t step, uint32_t layer,
                            const hvp_tensor *out);
/* Drop-path (stochastic depth, timm DropPath): sample n (the first dimension of x) is kept
 * when hvp_u32_to_unit(hvp_philox(seed, n, step, layer, 1).v[0]) >= p, and the whole row
 * is scaled by 1 / (1 - p), else zeroed. */
hvp_status hvp_drop_path_fwd(hvp_ctx *ctx, const hvp_tensor *x, float p, uint64_t seed,
                             uint32_t step, uint32_t layer, const hvp_tensor *y);
hvp_status hvp_drop_path_bwd(hvp_ctx *ctx, const hvp_tensor *dy, float p, uint64_t seed,
                             uint32_t step, uint32_t layer, const hvp_tensor *dx);

/* Residual add: y = a + b; y may be a or b. Backward is the identity for both inputs
 * (da = dy, db = dy): no kernel; to sum the gradients reaching a tensor from a residual
 * branch and the main path, use hvp_add_acc. */
hvp_status hvp_add_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                       const hvp_tensor *y);
/* y += x */
hvp_status hvp_add_acc(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *x);

#endif
