/* Linear layer, PyTorch layout (weight [out, in]): products through GEMM, bias kernels in
 * cl/linear.cl. */
#include "hvp/ops.h"
#include "ops/col_sums.h"
#include "ops/op_util.h"

/* K and N from w [N, K]; M from x. */
static hvp_status linear_dims(const char *op, const hvp_tensor *x, const hvp_tensor *w, int *m,
                              int *n, int *k)
{
    if (w->ndim != 2 || w->shape[0] <= 0 || w->shape[1] <= 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: weight has shape %s, expected [out, in]", op,
                        hvp_shape_str(w, s, sizeof s));
    }
    *n = w->shape[0];
    *k = w->shape[1];
    size_t nx = hvp_numel(x);
    if (nx % (size_t)*k != 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: input %s is not a whole number of rows of %d", op,
                        hvp_shape_str(x, s, sizeof s), *k);
    }
    *m = (int)(nx / (size_t)*k);
    HVP_TRY(hvp_expect_numel(x, nx, op, "x"));
    HVP_TRY(hvp_expect_numel(w, (size_t)*n * (size_t)*k, op, "w"));
    return HVP_OK;
}

hvp_status hvp_linear_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                          const hvp_tensor *b, const hvp_tensor *y)
{
    int m, n, k;
    HVP_TRY(linear_dims("linear_fwd", x, w, &m, &n, &k));
    HVP_TRY(hvp_expect_numel(y, (size_t)m * (size_t)n, "linear_fwd", "y"));
    if (b)
        HVP_TRY(hvp_expect_numel(b, (size_t)n, "linear_fwd", "b"));
    HVP_TRY(hvp_gemm(ctx, 0, 1, m, n, k, 1.0f, hvp_mat_of(x, k), hvp_mat_of(w, k), 0.0f,
                     hvp_mat_of(y, n)));
    if (!b || m == 0)
        return HVP_OK;
    hvp_kernel *kb;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_linear_fwd_bias, &kb));
    hvp_args a = hvp_args_begin(kb);
    hvp_arg_int(&a, m);
    hvp_arg_int(&a, n);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, b);
    size_t global[2] = {((size_t)n + 15) / 16, (size_t)m};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

hvp_status hvp_linear_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                          const hvp_tensor *dy, const hvp_tensor *dx, const hvp_tensor *dw,
                          const hvp_tensor *db)
{
    int m, n, k;
    HVP_TRY(linear_dims("linear_bwd", x, w, &m, &n, &k));
    HVP_TRY(hvp_expect_numel(dy, (size_t)m * (size_t)n, "linear_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dw, (size_t)n * (size_t)k, "linear_bwd", "dw"));
    if (db)
        HVP_TRY(hvp_expect_numel(db, (size_t)n, "linear_bwd", "db"));
    if (dx) {
        HVP_TRY(hvp_expect_numel(dx, (size_t)m * (size_t)k, "linear_bwd", "dx"));
        /* dx[M, K] = dy[M, N] . w[N, K] */
        HVP_TRY(hvp_gemm(ctx, 0, 0, m, k, n, 1.0f, hvp_mat_of(dy, n), hvp_mat_of(w, k), 0.0f,
                         hvp_mat_of(dx, k)));
    }
    /* dw[N, K] += dy^T[N, M] . x[M, K] */
    HVP_TRY(hvp_gemm(ctx, 1, 0, n, k, m, 1.0f, hvp_mat_of(dy, n), hvp_mat_of(x, k), 1.0f,
                     hvp_mat_of(dw, k)));
    return db ? hvp_linear_bwd_bias(ctx, dy, db) : HVP_OK;
}

hvp_status hvp_linear_bwd_bias(hvp_ctx *ctx, const hvp_tensor *dy, const hvp_tensor *db)
{
    size_t n = hvp_numel(db), ny = hvp_numel(dy);
    if (n == 0 || ny % n != 0) {
        char s[64], t[64];
        return HVP_FAIL(HVP_ERR_ARG, "linear_bwd_bias: dy %s is not rows of db %s",
                        hvp_shape_str(dy, s, sizeof s), hvp_shape_str(db, t, sizeof t));
    }
    HVP_TRY(hvp_expect_numel(dy, ny, "linear_bwd_bias", "dy"));
    HVP_TRY(hvp_expect_numel(db, n, "linear_bwd_bias", "db"));
    if (ny == 0)
        return HVP_OK;
    return hvp_col_sums_acc(ctx, dy, (int)(ny / n), (int)n, db);
}
