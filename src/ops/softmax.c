/* Row softmax over the last dimension (cl/softmax.cl): a row per work-group's row of items,
 * or per item (CPUs: hvp_row_kernel). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

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
    return hvp_launch_rowwise(ctx, HVP_K_softmax_fwd, HVP_K_softmax_fwd_item, rows, n, HVP_VEC,
                              HVP_KARGS(HVP_FLOAT(scale), HVP_TENSOR(x), HVP_TENSOR(y)));
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
    return hvp_launch_rowwise(
        ctx, HVP_K_softmax_bwd, HVP_K_softmax_bwd_item, rows, n, HVP_VEC,
        HVP_KARGS(HVP_FLOAT(scale), HVP_TENSOR(y), HVP_TENSOR(dy), HVP_TENSOR(dx)));
}
