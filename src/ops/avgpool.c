/* Global average pool (cl/avgpool.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

hvp_status hvp_avgpool_fwd(hvp_ctx *ctx, int n, int c, int hw, const hvp_tensor *x,
                           const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(x)); /* per element */
    if (n < 1 || c < 1 || hw < 1)
        return HVP_FAIL(HVP_ERR_ARG, "avgpool_fwd: bad sizes n=%d c=%d hw=%d", n, c, hw);
    size_t planes = (size_t)n * c;
    HVP_TRY(hvp_expect_numel(x, planes * hw, "avgpool_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, planes, "avgpool_fwd", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_avgpool_fwd, planes, 1, /* an item per plane */
                                  HVP_KARGS(HVP_INT(hw), HVP_TENSOR(x), HVP_TENSOR(y)));
}

hvp_status hvp_avgpool_bwd(hvp_ctx *ctx, int n, int c, int hw, const hvp_tensor *dy,
                           const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(dx)); /* per element */
    if (n < 1 || c < 1 || hw < 1)
        return HVP_FAIL(HVP_ERR_ARG, "avgpool_bwd: bad sizes n=%d c=%d hw=%d", n, c, hw);
    size_t planes = (size_t)n * c;
    HVP_TRY(hvp_expect_numel(dy, planes, "avgpool_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, planes * hw, "avgpool_bwd", "dx"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_avgpool_bwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)planes);
    hvp_arg_int(&a, hw);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_1d(ctx, &a, planes * hw);
}
