/* Per-row argmax (cl/argmax.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
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
    /* one work-item per row; without vals, x stands in for it and is never written */
    return hvp_launch_elementwise(ctx, HVP_K_argmax_fwd, (size_t)rows, 1,
                                  HVP_KARGS(HVP_INT(cols), HVP_TENSOR(x), HVP_TENSOR(idx),
                                            HVP_INT(vals != NULL), HVP_TENSOR(vals ? vals : x)));
}
