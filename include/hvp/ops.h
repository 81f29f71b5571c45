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
/* Reads this device's tune table again (it is read once, at the first GEMM). */
void hvp_gemm_reload_table(hvp_ctx *ctx);
/* Where this device's tune table lives. */
hvp_status hvp_gemm_table_path(const hvp_ctx *ctx, char *path, size_t size);
/* Median seconds of `runs` calls (after one warm-up), each bounded by clFinish, of one
 * algorithm on scratch matrices from ctx->acts (share_a: the batch shares A). */
hvp_status hvp_gemm_time(hvp_ctx *ctx, const char *algo, int trans_a, int trans_b, int m, int n,
                         int k, int batch, int share_a, int runs, double *seconds);
/* Times every algorithm on representative shapes of each class, writes the winners to the
 * device's tune table and uses them from now on; progress goes to out (may be NULL). */
hvp_status hvp_gemm_tune(hvp_ctx *ctx, int quick, FILE *out);

#endif
