/* Weight normalisation of a Linear's rows (cl/weight_norm.cl), as DINO's last layer. */
#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

static hvp_status check(const char *op, const hvp_tensor *v, const hvp_tensor *g, int *rows,
                        int *cols)
{
    HVP_TRY(hvp_rows_cols(v, op, "v", rows, cols));
    HVP_TRY(hvp_expect_numel(v, hvp_numel(v), op, "v"));
    return hvp_expect_numel(g, (size_t)*rows, op, "g");
}

hvp_status hvp_weight_norm_fwd(hvp_ctx *ctx, const hvp_tensor *v, const hvp_tensor *g,
                               const hvp_tensor *w)
{
    int rows = 0, cols = 0;
    HVP_TRY(check("weight_norm_fwd", v, g, &rows, &cols));
    HVP_TRY(hvp_expect_numel(w, hvp_numel(v), "weight_norm_fwd", "w"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_weight_norm_fwd, &k));
    size_t local = hvp_row_group_size(k, (size_t)cols, 1);
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, cols);
    hvp_arg_tensor(&a, v);
    hvp_arg_tensor(&a, g);
    hvp_arg_tensor(&a, w);
    hvp_arg_local(&a, local * sizeof(float));
    return hvp_launch_rows(ctx, &a, (size_t)rows, local);
}

hvp_status hvp_weight_norm_bwd(hvp_ctx *ctx, const hvp_tensor *v, const hvp_tensor *g,
                               const hvp_tensor *dw, const hvp_tensor *dv, const hvp_tensor *dg)
{
    int rows = 0, cols = 0;
    HVP_TRY(check("weight_norm_bwd", v, g, &rows, &cols));
    HVP_TRY(hvp_expect_numel(dw, hvp_numel(v), "weight_norm_bwd", "dw"));
    HVP_TRY(hvp_expect_numel(dv, hvp_numel(v), "weight_norm_bwd", "dv"));
    if (dg)
        HVP_TRY(hvp_expect_numel(dg, (size_t)rows, "weight_norm_bwd", "dg"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_weight_norm_bwd, &k));
    size_t local = hvp_row_group_size(k, (size_t)cols, 1);
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, cols);
    hvp_arg_tensor(&a, v);
    hvp_arg_tensor(&a, g);
    hvp_arg_tensor(&a, dw);
    hvp_arg_tensor(&a, dv);
    hvp_arg_int(&a, dg != NULL);
    hvp_arg_tensor(&a, dg ? dg : g); /* unused without dg; a valid buffer all the same */
    hvp_arg_local(&a, local * sizeof(float));
    return hvp_launch_rows(ctx, &a, (size_t)rows, local);
}
