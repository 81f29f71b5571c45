/* Row softmax over the last dimension (cl/softmax.cl): a row per work-group's row of items,
 * or per item (CPUs: hvp_row_kernel). */
#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

static hvp_status row_dims(const char *op, const hvp_tensor *t, int *rows, int *n)
{
    if (t->ndim < 1 || t->shape[t->ndim - 1] <= 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s has no rows", op, hvp_shape_str(t, s, sizeof s));
    }
    *n = t->shape[t->ndim - 1];
    *rows = (int)(hvp_numel(t) / (size_t)*n);
    return HVP_OK;
}

hvp_status hvp_softmax_fwd(hvp_ctx *ctx, const hvp_tensor *x, float scale, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 5.0 * (double)hvp_numel(x)); /* per element */
    int rows, n;
    HVP_TRY(row_dims("softmax_fwd", x, &rows, &n));
    size_t total = (size_t)rows * (size_t)n;
    HVP_TRY(hvp_expect_numel(x, total, "softmax_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, total, "softmax_fwd", "y"));
    if (rows == 0)
        return HVP_OK;
    hvp_kernel *k;
    size_t local;
    HVP_TRY(hvp_row_kernel(ctx, HVP_K_softmax_fwd, HVP_K_softmax_fwd_item, (size_t)n, HVP_VEC, &k,
                           &local));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, n);
    hvp_arg_float(&a, scale);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, y);
    return hvp_launch_row_groups(ctx, &a, (size_t)rows, local);
}

hvp_status hvp_softmax_bwd(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *dy, float scale,
                           const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 4.0 * (double)hvp_numel(y)); /* per element */
    int rows, n;
    HVP_TRY(row_dims("softmax_bwd", y, &rows, &n));
    size_t total = (size_t)rows * (size_t)n;
    HVP_TRY(hvp_expect_numel(y, total, "softmax_bwd", "y"));
    HVP_TRY(hvp_expect_numel(dy, total, "softmax_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, total, "softmax_bwd", "dx"));
    if (rows == 0)
        return HVP_OK;
    hvp_kernel *k;
    size_t local;
    HVP_TRY(hvp_row_kernel(ctx, HVP_K_softmax_bwd, HVP_K_softmax_bwd_item, (size_t)n, HVP_VEC, &k,
                           &local));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, n);
    hvp_arg_float(&a, scale);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_row_groups(ctx, &a, (size_t)rows, local);
}
