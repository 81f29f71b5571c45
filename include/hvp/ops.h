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
 * same for wo); zero padding. Forward and backward by implicit GEMMs (no column matrix) or
 * by im2col + GEMM, per shape, over chunks of the batch (scratch stays under 64 MiB of
 * ctx->acts, rewound before returning); 1x1 stride-1 convolutions multiply the input
 * directly. */
typedef struct hvp_conv2d_desc {
    int n, c_in, h, w, c_out, kh, kw, stride, pad;
} hvp_conv2d_desc;

int hvp_conv2d_out_h(const hvp_conv2d_desc *d);
int hvp_conv2d_out_w(const hvp_conv2d_desc *d);
/* b may be NULL (no bias). y must not overlap x. */
hvp_status hvp_conv2d_fwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y);
/* dx = d(loss)/dx (skipped when dx is NULL, e.g. the first layer); dw += ... (skipped when
 * dw is NULL); db += ... when db is not NULL. All reductions are in a fixed order (no
 * atomics). */
hvp_status hvp_conv2d_bwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                          const hvp_tensor *dw, const hvp_tensor *db);
/* Sets ctx's scratch bound (floats per call; 16M = 64 MiB by default; 0 leaves it) and
 * returns the previous one. A single image whose column matrix is larger still runs. */
size_t hvp_conv2d_scratch_limit(hvp_ctx *ctx, size_t floats);
/* Implicit-GEMM kernels (no column matrix) for ctx's convolutions that are not 1x1 stride
 * 1, forward, weight gradient and input gradient (by phases when strided): 1 on, 0 off, -1
 * the default, a choice per shape and pass (HVP_CONV_IGEMM=0/1 in the environment
 * overrides -1). Returns the previous setting. */
int hvp_conv2d_igemm(hvp_ctx *ctx, int mode);
/* The three products of a convolution: y, dw and dx. Each runs by the implicit GEMM or
 * by column matrices (im2col + GEMM for y and dw, GEMM + col2im for dx). */
typedef enum { HVP_CONV2D_FWD, HVP_CONV2D_DW, HVP_CONV2D_DX, HVP_CONV2D_PASSES } hvp_conv2d_pass;
/* Whether ctx computes `pass` of convolution d by the implicit GEMM (1) or by column
 * matrices (0): as forced (hvp_conv2d_igemm, HVP_CONV_IGEMM), else as the [conv2d] section
 * of the device's tune table says, else by a heuristic measured on PoCL. 1x1 stride-1
 * convolutions multiply the input directly (0). */
int hvp_conv2d_implicit(hvp_ctx *ctx, const hvp_conv2d_desc *d, hvp_conv2d_pass pass);

/* batch norm (src/ops/batchnorm.c), one implementation for 2-d (x [n, c, h, w]: hw = h*w)
 * and 1-d (x [n, c]: hw = 1), statistics per channel over (n, hw). PyTorch semantics:
 * eps 1e-5 and momentum 0.1 by default (HVP_BATCHNORM_DESC). gamma/beta NULL: no affine.
 * relu = 1 fuses a following ReLU: y = max(bn(x), 0), and the backward's dy is the gradient
 * of that output (it recomputes the ReLU's mask from x), a pass each way fewer than
 * hvp_relu_fwd/bwd beside. */
typedef struct hvp_batchnorm_desc {
    int n, c, hw;
    float eps, momentum;
    int relu;
} hvp_batchnorm_desc;
#define HVP_BATCHNORM_DESC(n_, c_, hw_) ((hvp_batchnorm_desc){(n_), (c_), (hw_), 1e-5f, 0.1f, 0})

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
/* Train-mode backward from the forward's input, affine parameters and saved statistics:
 * dx = ...; dgamma += ..., dbeta += ... when affine (gamma, beta, dgamma, dbeta all given or
 * all NULL). dx may be dy. */
hvp_status hvp_batchnorm_bwd(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                             const hvp_tensor *gamma, const hvp_tensor *beta,
                             const hvp_tensor *save_mean, const hvp_tensor *save_invstd,
                             const hvp_tensor *dy, const hvp_tensor *dx,
                             const hvp_tensor *dgamma, const hvp_tensor *dbeta);

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
/* The bias part of hvp_linear_bwd: db[N] += column sums of dy [M, N] (any shape with a
 * multiple of N elements), in a fixed order. */
hvp_status hvp_linear_bwd_bias(hvp_ctx *ctx, const hvp_tensor *dy, const hvp_tensor *db);

/* Layer norm over the last dimension D of x (M rows of D; D = x's last dimension):
 * y = (x - mean) / sqrt(var + eps) * w + b, biased variance, eps e.g. 1e-6 as in timm ViT.
 * w, b: [D] or NULL (no affine weight / bias). Saves mean[M] and rstd[M] for backward. */
hvp_status hvp_layernorm_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                             const hvp_tensor *b, float eps, const hvp_tensor *y,
                             const hvp_tensor *mean, const hvp_tensor *rstd);
/* dx = ..., dw += sum over rows of dy * xhat, db += sum over rows of dy (column reductions
 * in a fixed order); dx / dw / db NULL to skip, w NULL when the forward had none. dx may
 * be dy. */
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
/* y = max(a + b, 0), the sum and ReLU closing a residual block, in one pass; y may be a or
 * b. Its backward: hvp_relu_bwd on y, then the identity as for hvp_add_fwd. */
hvp_status hvp_add_relu_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                            const hvp_tensor *y);
/* y += x */
hvp_status hvp_add_acc(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *x);
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
/* y = alpha a + beta b; y may be a or b. */
hvp_status hvp_axpby(hvp_ctx *ctx, float alpha, const hvp_tensor *a, float beta,
                     const hvp_tensor *b, const hvp_tensor *y);
/* x[i, i] += value on the diagonal of a matrix [rows, cols] (SimCLR masks self-similarity
 * with it); its gradient is the identity. */
hvp_status hvp_add_diagonal(hvp_ctx *ctx, const hvp_tensor *x, float value);
/* ---- GEMM algorithms, dispatch and tuning (src/ops/gemm.c) ------------------------ */

/* hvp_gemm and hvp_gemm_strided_batched run one of several algorithms: "clblast", or our
 * own kernels (cl/gemm.cl): register-tiled "regTMxTN" (work-groups of one item; a "g"
 * suffix lets the launcher pick the work-group) and local-memory tiled "lds16"/"lds8".
 * The choice is per device and shape class ("small", "skinny", "large", "batched"): from
 * the table `hvp tune` measured (tune-<device hash>.ini in the cache directory), else
 * derived from the device type (CPU: own register kernel; others: CLBlast).
 * HVP_GEMM=<algorithm> forces one algorithm everywhere. Every algorithm handles every
 * transpose, size (including k == 0), leading dimension, offset and batch stride; beta == 0
 * never reads C. */
const char *const *hvp_gemm_algo_names(void);  /* NULL-terminated */
const char *const *hvp_gemm_class_names(void); /* NULL-terminated */
/* As hvp_gemm_strided_batched with a named algorithm (NULL: the dispatcher's choice). */
hvp_status hvp_gemm_strided_batched_with(hvp_ctx *ctx, const char *algo, int trans_a,
                                         int trans_b, int m, int n, int k, float alpha,
                                         hvp_mat a, size_t stride_a, hvp_mat b, size_t stride_b,
                                         float beta, hvp_mat c, size_t stride_c, int batch);
/* The algorithm the dispatcher picks for this shape on ctx's device. */
const char *hvp_gemm_chosen(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k,
                            int batch);
/* One line: the algorithm per class and where the choice came from (table or default). */
void hvp_gemm_describe(hvp_ctx *ctx, char *buf, size_t size);
/* Reads the tune table of ctx's device again, for ctx (each context reads it once, at its
 * first GEMM). */
void hvp_gemm_reload_table(hvp_ctx *ctx);
/* Median seconds of `runs` calls (after one warm-up), each bounded by clFinish, of one
 * algorithm on scratch matrices from ctx->acts (share_a: the batch shares A). */
hvp_status hvp_gemm_time(hvp_ctx *ctx, const char *algo, int trans_a, int trans_b, int m, int n,
                         int k, int batch, int share_a, int runs, double *seconds);
/* Times every algorithm on representative shapes of each class, writes the winners to the
 * device's tune table and ctx uses them from now on; progress goes to out (may be NULL). */
hvp_status hvp_gemm_tune(hvp_ctx *ctx, int quick, FILE *out);

/* ---- CLBlast's GEMM parameters per device (src/ops/clblast_params.c) ------------------ */

/* The i-th choice for CLBlast's Xgemm parameters: 0 is "database" (CLBlast's own choice
 * for the device), then named sets from CLBlast's database for other devices; NULL past
 * the last. */
const char *hvp_clblast_xgemm_set_name(int i);
/* Gives CLBlast the named set for ctx's device (process-wide, until another is given; an
 * override cannot be taken back, so "database" does nothing). */
hvp_status hvp_clblast_xgemm_apply(const hvp_ctx *ctx, const char *name);
/* Times CLBlast's GEMM with each choice on large products and writes the fastest to the
 * [clblast] section of the device's tune table ("xgemm = NAME"), used by contexts that
 * read the table from then on. Leaves the last set tried in force in this process: run it
 * in a process of its own (hvp tune does). Progress goes to out (may be NULL). */
hvp_status hvp_clblast_tune(hvp_ctx *ctx, int quick, FILE *out);

/* ---- convolution paths per device (src/ops/conv2d_tune.c) ------------------------- */

/* Convolutions other than 1x1 stride 1 fall in classes: "stem" (fewer than 16 input
 * channels), else by stride ("s1", or "s2" for any larger stride, "s2_1x1" with a 1x1
 * kernel) and output pixels per image ("_large" from 128, else "_small"). The [conv2d]
 * section of the tune table names a path per class and pass, e.g. "s1_small.dx = columns"
 * or "implicit"; what it does not name, the heuristic decides. */

/* One line: the path per class and pass and where the choice came from (the tune table,
 * the heuristic, or a forced setting). */
void hvp_conv2d_describe(hvp_ctx *ctx, char *buf, size_t size);
/* Reads the [conv2d] section of the device's tune table again, for ctx (each context reads
 * it once, at its first convolution). */
void hvp_conv2d_reload_table(hvp_ctx *ctx);
/* Times each pass of each class both ways on ResNet-18 CIFAR (batch 32 and 128) and
 * ResNet-50 (224 px, batch 16) layers, quick: ResNet-18 CIFAR at batch 32 only; writes the
 * faster per class and pass to the device's tune table, which ctx uses from now on. Run it
 * after hvp_gemm_tune: the column path's GEMMs are timed as dispatched. Progress goes to
 * out (may be NULL). */
hvp_status hvp_conv2d_tune(hvp_ctx *ctx, int quick, FILE *out);

/* ---- the tune table (src/ops/tune_table.c) ----------------------------------------- */

/* Where this device's tune table lives: tune-<device hash>.ini in the cache folder. */
hvp_status hvp_tune_table_path(const hvp_ctx *ctx, char *path, size_t size);
/* Replaces section `section` of ctx's tune table with body ("key = value" lines), keeping
 * the other ops' sections; the file is replaced atomically. */
hvp_status hvp_tune_table_write(const hvp_ctx *ctx, const char *section, const char *body);

/* ---- ViT token embedding (src/ops/vit_embed.c) --------------------------------------- */
/* c [B, D, L] (the NCHW output of the patch convolution, L = h*w patches), cls [D] (the class
 * token), pos [L+1, D] (the position embedding) -> tokens y [B, L+1, D]:
 * y[b, 0, :] = cls + pos[0], y[b, 1+t, :] = c[b, :, t] + pos[1+t]. Tensors of any shape
 * with these element counts. */
hvp_status hvp_vit_embed_fwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *c,
                             const hvp_tensor *cls, const hvp_tensor *pos, const hvp_tensor *y);
/* dc[b, d, t] = dy[b, 1+t, d] (overwritten; dc NULL: skipped); dcls[d] += sum_b dy[b, 0, d];
 * dpos[t, d] += sum_b dy[b, t, d] (sums in increasing b, bitwise reproducible). */
hvp_status hvp_vit_embed_bwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *dy,
                             const hvp_tensor *dc, const hvp_tensor *dcls,
                             const hvp_tensor *dpos);
/* The class-token rows of tokens x [B, T, D]: y [B, D] = x[:, 0, :]; backward
 * dx[b, 0, :] = dy[b, :], the other rows 0 (dx overwritten). */
hvp_status hvp_vit_cls_fwd(hvp_ctx *ctx, int B, int T, int D, const hvp_tensor *x,
                           const hvp_tensor *y);
hvp_status hvp_vit_cls_bwd(hvp_ctx *ctx, int B, int T, int D, const hvp_tensor *dy,
                           const hvp_tensor *dx);

/* ---- ViT position-embedding interpolation (src/ops/vit_pos_interp.c) -------------- */
/* DINO's interpolate_pos_encoding: pos [1 + G*G, D] (class row, then the G x G grid
 * row-major; any shape of that many elements) -> out [1 + g*g, D]: the class row copied,
 * the grid resized to g x g by PyTorch's bicubic (A = -0.75, align_corners False, indices
 * clamped at the border), output index o at source coordinate scale (o + 0.5) - 0.5. */
hvp_status hvp_vit_pos_interp_fwd(hvp_ctx *ctx, int D, int G, int g, float scale,
                                  const hvp_tensor *pos, const hvp_tensor *out);
/* dpos += the adjoint of the forward applied to dout (fixed order, no atomics). */
hvp_status hvp_vit_pos_interp_bwd(hvp_ctx *ctx, int D, int G, int g, float scale,
                                  const hvp_tensor *dout, const hvp_tensor *dpos);
/* DINO's scale from a G grid to g: 1 / ((g + 0.1) / G), its scale_factor as PyTorch uses
 * it (the 0.1 avoids a floor's rounding error; DINO issue 8). */
float hvp_vit_pos_interp_scale(int G, int g);

/* ---- weight normalisation (src/ops/weight_norm.c) --------------------------------- */

/* torch.nn.utils.weight_norm(dim=0) of a Linear weight: w[o, :] = g[o] * v[o, :] / ||v[o, :]||
 * for v, w [O, I] and g with O elements (PyTorch's weight_g is [O, 1]). No eps (as PyTorch). */
hvp_status hvp_weight_norm_fwd(hvp_ctx *ctx, const hvp_tensor *v, const hvp_tensor *g,
                               const hvp_tensor *w);
/* From dw (the gradient of w): dv += g/||v|| (dw - u (u . dw)) with u = v/||v||, and
 * dg += u . dw per row (dg NULL: g is frozen, skipped). Both accumulate (parameters). */
hvp_status hvp_weight_norm_bwd(hvp_ctx *ctx, const hvp_tensor *v, const hvp_tensor *g,
                               const hvp_tensor *dw, const hvp_tensor *dv, const hvp_tensor *dg);

/* ---- iBOT masked patch embedding (src/ops/vit_mask.c) ------------------------------ */
/* The official VisionTransformer.mask_model on the patch-convolution output c [B, D, L]
 * (L = h*w) with mask [B, L] (I32, non-zero: masked) and masked_embed e [D]:
 * y[b, d, t] = mask[b, t] ? e[d] : c[b, d, t] (y may be c). */
hvp_status hvp_vit_mask_fwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *c,
                            const hvp_tensor *mask, const hvp_tensor *e, const hvp_tensor *y);
/* dc = mask ? 0 : dy (overwritten; may be dy; NULL: skipped); de[d] += the sum of dy[b, d, t]
 * over the masked (b, t), in increasing b then t (bitwise reproducible). */
hvp_status hvp_vit_mask_bwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *dy,
                            const hvp_tensor *mask, const hvp_tensor *dc, const hvp_tensor *de);

#endif
