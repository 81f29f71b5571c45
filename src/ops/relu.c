/* ReLU (cl/relu.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"

hvp_status hvp_relu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "relu_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, n, "relu_fwd", "y"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_relu_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, y);
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_relu_bwd(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *dy,
                        const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(y, n, "relu_bwd", "y"));
    HVP_TRY(hvp_expect_numel(dy, n, "relu_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, n, "relu_bwd", "dx"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_relu_bwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_1d(ctx, &a, n);
}
