/* ReLU (cl/relu.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

hvp_status hvp_relu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "relu_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, n, "relu_fwd", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_relu_fwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(y)));
}

hvp_status hvp_relu_bwd(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *dy,
                        const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(y, n, "relu_bwd", "y"));
    HVP_TRY(hvp_expect_numel(dy, n, "relu_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, n, "relu_bwd", "dx"));
    return hvp_launch_elementwise(ctx, HVP_K_relu_bwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(y), HVP_TENSOR(dy), HVP_TENSOR(dx)));
}
