/* Row L2 normalisation (cl/l2norm.cl): a row per work-group's row of items, or per item
 * (CPUs: hvp_row_kernel). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

/* About 8 vectors per item on GPUs; on CPUs a whole row (SimSiam's [32, 2048]: 0.041 ms with
 * 256 per item, 0.032 ms with 2048; copy: 0.014 ms). */
#define PER_ITEM (8 * HVP_VEC)

static hvp_status check(const char *op, const hvp_tensor *x, const hvp_tensor *dy,
                        const hvp_tensor *out, float eps, int *rows, int *cols)
{
    HVP_TRY(hvp_rows_cols(x, op, "x", rows, cols));
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, op, "x"));
    if (dy)
        HVP_TRY(hvp_expect_numel(dy, n, op, "dy"));
    HVP_TRY(hvp_expect_numel(out, n, op, dy ? "dx" : "y"));
    if (!(eps > 0))
        return HVP_FAIL(HVP_ERR_ARG, "%s: eps %g must be positive", op, (double)eps);
    return HVP_OK;
}

hvp_status hvp_l2norm_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y, float eps)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 3.0 * (double)hvp_numel(x)); /* per element */
    int rows = 0, cols = 0;
    HVP_TRY(check("l2norm_fwd", x, NULL, y, eps, &rows, &cols));
    return hvp_launch_rowwise(ctx, HVP_K_l2norm_fwd, HVP_K_l2norm_fwd_item, rows, cols, PER_ITEM,
                              HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(y), HVP_FLOAT(eps)));
}

hvp_status hvp_l2norm_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *dy,
                          const hvp_tensor *dx, float eps)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 5.0 * (double)hvp_numel(x)); /* per element */
    int rows = 0, cols = 0;
    HVP_TRY(check("l2norm_bwd", x, dy, dx, eps, &rows, &cols));
    return hvp_launch_rowwise(
        ctx, HVP_K_l2norm_bwd, HVP_K_l2norm_bwd_item, rows, cols, PER_ITEM,
        HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(dy), HVP_TENSOR(dx), HVP_FLOAT(eps)));
}
