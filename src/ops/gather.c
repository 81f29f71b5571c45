/* Gather rows by index and its deterministic backward (cl/gather.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

hvp_status hvp_gather_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *idx,
                          const hvp_tensor *y)
{
    const char *op = "gather_fwd";
    int m = 0, cols = 0, n = 0, ycols = 0;
    HVP_TRY(hvp_rows_cols(x, op, "x", &m, &cols));
    HVP_TRY(hvp_rows_cols(y, op, "y", &n, &ycols));
    HVP_TRY(hvp_expect_numel(x, hvp_numel(x), op, "x"));
    HVP_TRY(hvp_expect_numel(y, hvp_numel(y), op, "y"));
    HVP_TRY(hvp_expect_i32(idx, (size_t)n, op, "idx"));
    if (ycols != cols)
        return HVP_FAIL(HVP_ERR_ARG, "%s: rows of x have %d elements, rows of y %d", op, cols,
                        ycols);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_gather_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, n);
    hvp_arg_int(&a, cols);
    hvp_arg_int(&a, m);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, idx);
    hvp_arg_tensor(&a, y);
    return hvp_launch_1d(ctx, &a, hvp_numel(y));
}

hvp_status hvp_gather_bwd(hvp_ctx *ctx, const hvp_tensor *idx, const hvp_tensor *dy,
                          const hvp_tensor *dx)
{
    const char *op = "gather_bwd";
    int m = 0, cols = 0, n = 0, ycols = 0;
    HVP_TRY(hvp_rows_cols(dx, op, "dx", &m, &cols));
    HVP_TRY(hvp_rows_cols(dy, op, "dy", &n, &ycols));
    HVP_TRY(hvp_expect_numel(dx, hvp_numel(dx), op, "dx"));
    HVP_TRY(hvp_expect_numel(dy, hvp_numel(dy), op, "dy"));
    HVP_TRY(hvp_expect_i32(idx, (size_t)n, op, "idx"));
    if (ycols != cols)
        return HVP_FAIL(HVP_ERR_ARG, "%s: rows of dx have %d elements, rows of dy %d", op, cols,
                        ycols);
    hvp_tensor first, next;
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &m, "gather_bwd first", &first));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &n, "gather_bwd next", &next));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_gather_bwd_first, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, n);
    hvp_arg_int(&a, m);
    hvp_arg_tensor(&a, idx);
    hvp_arg_tensor(&a, &first);
    HVP_TRY(hvp_launch_1d(ctx, &a, (size_t)m));
    HVP_TRY(hvp_launch_elementwise(ctx, HVP_K_gather_bwd_next, (size_t)n, 1,
                                   HVP_KARGS(HVP_TENSOR(idx), HVP_TENSOR(&next))));
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_gather_bwd, &k));
    a = hvp_args_begin(k);
    hvp_arg_int(&a, m);
    hvp_arg_int(&a, cols);
    hvp_arg_tensor(&a, &first);
    hvp_arg_tensor(&a, &next);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_1d(ctx, &a, hvp_numel(dx));
}
