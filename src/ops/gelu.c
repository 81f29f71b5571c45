/* GELU, exact erf form (cl/gelu.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

hvp_status hvp_gelu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 8.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "gelu_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, n, "gelu_fwd", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_gelu_fwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(y)));
}

hvp_status hvp_gelu_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *dy,
                        const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 12.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "gelu_bwd", "x"));
    HVP_TRY(hvp_expect_numel(dy, n, "gelu_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, n, "gelu_bwd", "dx"));
    return hvp_launch_elementwise(ctx, HVP_K_gelu_bwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(dy), HVP_TENSOR(dx)));
}
