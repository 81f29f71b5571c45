/* GELU, exact erf form (cl/gelu.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"

hvp_status hvp_gelu_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 8.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "gelu_fwd", "x"));
    HVP_TRY(hvp_expect_numel(y, n, "gelu_fwd", "y"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_gelu_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, y);
    return hvp_launch_vec(ctx, &a, n);
}

hvp_status hvp_gelu_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *dy,
                        const hvp_tensor *dx)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 12.0 * (double)hvp_numel(x)); /* per element */
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "gelu_bwd", "x"));
    HVP_TRY(hvp_expect_numel(dy, n, "gelu_bwd", "dy"));
    HVP_TRY(hvp_expect_numel(dx, n, "gelu_bwd", "dx"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_gelu_bwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_vec(ctx, &a, n);
}
