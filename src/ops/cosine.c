/* Cosine similarity per row (cl/cosine.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

static hvp_status check(const char *op, const hvp_tensor *a, const hvp_tensor *b, int *rows,
                        int *cols)
{
    HVP_TRY(hvp_rows_cols(a, op, "a", rows, cols));
    size_t n = hvp_numel(a);
    HVP_TRY(hvp_expect_numel(a, n, op, "a"));
    HVP_TRY(hvp_expect_numel(b, n, op, "b"));
    if (b->shape[0] != *rows)
        return HVP_FAIL(HVP_ERR_ARG, "%s: a has %d rows, b %d", op, *rows, b->shape[0]);
    return HVP_OK;
}

hvp_status hvp_cosine_fwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                          const hvp_tensor *s, float eps)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 6.0 * (double)hvp_numel(a)); /* per element */
    int rows = 0, cols = 0;
    HVP_TRY(check("cosine_fwd", a, b, &rows, &cols));
    HVP_TRY(hvp_expect_numel(s, (size_t)rows, "cosine_fwd", "s"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_cosine_fwd, &k));
    size_t local = hvp_row_group_size(k, (size_t)cols, 1);
    hvp_args ar = hvp_args_begin(k);
    hvp_arg_int(&ar, rows);
    hvp_arg_int(&ar, cols);
    hvp_arg_tensor(&ar, a);
    hvp_arg_tensor(&ar, b);
    hvp_arg_tensor(&ar, s);
    hvp_arg_float(&ar, eps);
    hvp_arg_local(&ar, local * sizeof(float));
    return hvp_launch_rows(ctx, &ar, (size_t)rows, local);
}

hvp_status hvp_cosine_bwd(hvp_ctx *ctx, const hvp_tensor *a, const hvp_tensor *b,
                          const hvp_tensor *ds, const hvp_tensor *da, const hvp_tensor *db,
                          float eps)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 10.0 * (double)hvp_numel(a)); /* per element */
    int rows = 0, cols = 0;
    HVP_TRY(check("cosine_bwd", a, b, &rows, &cols));
    HVP_TRY(hvp_expect_numel(ds, (size_t)rows, "cosine_bwd", "ds"));
    if (da)
        HVP_TRY(hvp_expect_numel(da, hvp_numel(a), "cosine_bwd", "da"));
    if (db)
        HVP_TRY(hvp_expect_numel(db, hvp_numel(a), "cosine_bwd", "db"));
    if (!da && !db)
        return HVP_OK;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_cosine_bwd, &k));
    size_t local = hvp_row_group_size(k, (size_t)cols, 1);
    hvp_args ar = hvp_args_begin(k);
    hvp_arg_int(&ar, rows);
    hvp_arg_int(&ar, cols);
    hvp_arg_tensor(&ar, a);
    hvp_arg_tensor(&ar, b);
    hvp_arg_tensor(&ar, ds);
    hvp_arg_int(&ar, da != NULL);
    hvp_arg_tensor(&ar, da ? da : a); /* a stand-in that is never written */
    hvp_arg_int(&ar, db != NULL);
    hvp_arg_tensor(&ar, db ? db : b);
    hvp_arg_float(&ar, eps);
    hvp_arg_local(&ar, local * sizeof(float));
    return hvp_launch_rows(ctx, &ar, (size_t)rows, local);
}
