/* Residual add (cl/add.cl). The backward of y = a + b is da = dy, db = dy: callers pass dy
 * on (or sum it into an existing gradient with hvp_add_acc); there is no backward kernel. */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

hvp_status hvp_add_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                       const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(a, n, "add_fwd", "a"));
    HVP_TRY(hvp_expect_numel(b, n, "add_fwd", "b"));
    HVP_TRY(hvp_expect_numel(y, n, "add_fwd", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_add_fwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(a), HVP_TENSOR(b), HVP_TENSOR(y)));
}

hvp_status hvp_add_relu_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                            const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 2.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(a, n, "add_relu_fwd", "a"));
    HVP_TRY(hvp_expect_numel(b, n, "add_relu_fwd", "b"));
    HVP_TRY(hvp_expect_numel(y, n, "add_relu_fwd", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_add_relu_fwd, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(a), HVP_TENSOR(b), HVP_TENSOR(y)));
}

hvp_status hvp_add_acc(hvp_ctx *ctx, const hvp_tensor *y, const hvp_tensor *x)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 1.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(y, n, "add_acc", "y"));
    HVP_TRY(hvp_expect_numel(x, n, "add_acc", "x"));
    return hvp_launch_elementwise(ctx, HVP_K_add_fwd_acc, n, HVP_VEC,
                                  HVP_KARGS(HVP_TENSOR(y), HVP_TENSOR(x)));
}

hvp_status hvp_axpby(hvp_ctx *ctx, float alpha, const hvp_tensor *a, float beta,
                     const hvp_tensor *b, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 3.0 * (double)hvp_numel(y)); /* per element */
    size_t n = hvp_numel(y);
    HVP_TRY(hvp_expect_numel(a, n, "axpby", "a"));
    HVP_TRY(hvp_expect_numel(b, n, "axpby", "b"));
    HVP_TRY(hvp_expect_numel(y, n, "axpby", "y"));
    return hvp_launch_elementwise(ctx, HVP_K_add_axpby, n, HVP_VEC,
                                  HVP_KARGS(HVP_FLOAT(alpha), HVP_TENSOR(a), HVP_FLOAT(beta),
                                            HVP_TENSOR(b), HVP_TENSOR(y)));
}

hvp_status hvp_add_diagonal(hvp_ctx *ctx, const hvp_tensor *x, float value)
{
    if (x->ndim != 2 || x->dtype != HVP_F32)
        return HVP_FAIL(HVP_ERR_ARG, "add_diagonal: x must be an F32 matrix, not %d-d",
                        x->ndim);
    int rows = x->shape[0], cols = x->shape[1], n = rows < cols ? rows : cols;
    return hvp_launch_elementwise(ctx, HVP_K_add_diagonal, (size_t)n, 1,
                                  HVP_KARGS(HVP_INT(cols), HVP_FLOAT(value), HVP_TENSOR(x)));
}
