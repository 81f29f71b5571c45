/* Per-row argmax (cl/argmax.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

hvp_status hvp_argmax_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *idx,
                          const hvp_tensor *vals)
{
    const char *op = "argmax_fwd";
    int rows = 0, cols = 0;
    HVP_TRY(hvp_rows_cols(x, op, "x", &rows, &cols));
    HVP_TRY(hvp_expect_numel(x, hvp_numel(x), op, "x"));
    HVP_TRY(hvp_expect_i32(idx, (size_t)rows, op, "idx"));
    if (vals)
        HVP_TRY(hvp_expect_numel(vals, (size_t)rows, op, "vals"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_argmax_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, cols);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, idx);
    hvp_arg_int(&a, vals != NULL);
    hvp_arg_tensor(&a, vals ? vals : x); /* a stand-in that is never written */
    return hvp_launch_1d(ctx, &a, (size_t)rows);
}
