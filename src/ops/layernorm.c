/* Layer norm over the last dimension (cl/layernorm.cl): row kernels with rows sharing
 * work-groups, parameter gradients as column sums in two levels. */
#include "hvp/ops.h"
#include "ops/col_sums.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

static hvp_status ln_dims(const char *op, const hvp_tensor *x, const hvp_tensor *w,
                          const hvp_tensor *mean, const hvp_tensor *rstd, int *rows, int *d)
{
    if (x->ndim < 1 || x->shape[x->ndim - 1] <= 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: x %s has no rows", op, hvp_shape_str(x, s, sizeof s));
    }
    *d = x->shape[x->ndim - 1];
    *rows = (int)(hvp_numel(x) / (size_t)*d);
    HVP_TRY(hvp_expect_numel(x, hvp_numel(x), op, "x"));
    if (w)
        HVP_TRY(hvp_expect_numel(w, (size_t)*d, op, "w"));
    HVP_TRY(hvp_expect_numel(mean, (size_t)*rows, op, "mean"));
    HVP_TRY(hvp_expect_numel(rstd, (size_t)*rows, op, "rstd"));
    return HVP_OK;
}

/* An absent optional tensor is passed as x's buffer with a flag of 0 (never read). */
static void arg_optional(hvp_args *a, const hvp_tensor *t, const hvp_tensor *stand_in)
{
    hvp_arg_tensor(a, t ? t : stand_in);
    hvp_arg_int(a, t != NULL);
}

hvp_status hvp_layernorm_fwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                             const hvp_tensor *b, float eps, const hvp_tensor *y,
                             const hvp_tensor *mean, const hvp_tensor *rstd)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 7.0 * (double)hvp_numel(x)); /* per element */
    int rows, d;
    HVP_TRY(ln_dims("layernorm_fwd", x, w, mean, rstd, &rows, &d));
    if (b)
        HVP_TRY(hvp_expect_numel(b, (size_t)d, "layernorm_fwd", "b"));
    HVP_TRY(hvp_expect_numel(y, hvp_numel(x), "layernorm_fwd", "y"));
    if (!(eps >= 0.0f))
        return HVP_FAIL(HVP_ERR_ARG, "layernorm_fwd: eps %g is negative", (double)eps);
    if (rows == 0)
        return HVP_OK;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_layernorm_fwd, &k));
    size_t local = hvp_row_group_size(k, (size_t)d, 2 * hvp_row_per_item(ctx));
    if (local == 1) /* no group reductions needed: the kernel without barriers */
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_layernorm_fwd_item, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, d);
    hvp_arg_float(&a, eps);
    hvp_arg_tensor(&a, x);
    arg_optional(&a, w, x);
    arg_optional(&a, b, x);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, mean);
    hvp_arg_tensor(&a, rstd);
    if (local == 1)
        return hvp_launch_1d(ctx, &a, (size_t)rows);
    return hvp_launch_row_groups(ctx, &a, (size_t)rows, local);
}

/* One level of the parameter gradients: into the partials pw, pb [chunks, d] (acc 0) or
 * added to dw, db (acc 1, one chunk); NULL ones are skipped. The first level on CPUs
 * (ctx->row_per_item) takes an item per chunk that streams its rows (cl/layernorm.cl). */
static hvp_status ln_params_level(hvp_ctx *ctx, int rows, int d, int chunk, const hvp_tensor *x,
                                  const hvp_tensor *mean, const hvp_tensor *rstd,
                                  const hvp_tensor *dy, const hvp_tensor *dw,
                                  const hvp_tensor *db, int acc)
{
    int by_rows = !acc && ctx->row_per_item;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(
        ctx, by_rows ? HVP_K_layernorm_bwd_params_rows : HVP_K_layernorm_bwd_params, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, d);
    hvp_arg_int(&a, chunk);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, mean);
    hvp_arg_tensor(&a, rstd);
    hvp_arg_tensor(&a, dy);
    arg_optional(&a, dw, dy);
    arg_optional(&a, db, dy);
    size_t chunks = ((size_t)rows + chunk - 1) / (size_t)chunk, one[1] = {1};
    if (by_rows)
        return hvp_launch(ctx, &a, 1, &chunks, one);
    hvp_arg_int(&a, acc);
    size_t global[2] = {((size_t)d + 15) / 16, chunks};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* dw, db (either may be NULL) in two levels with a fixed order (src/ops/col_sums.h). */
static hvp_status ln_params(hvp_ctx *ctx, int rows, int d, const hvp_tensor *x,
                            const hvp_tensor *mean, const hvp_tensor *rstd, const hvp_tensor *dy,
                            const hvp_tensor *dw, const hvp_tensor *db)
{
    int chunk = hvp_col_chunk(rows), chunks = (rows + chunk - 1) / chunk;
    if (chunks <= 1)
        return ln_params_level(ctx, rows, d, rows, x, mean, rstd, dy, dw, db, 1);
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor pw, pb;
    int shape[2] = {chunks, d};
    hvp_status s = hvp_alloc_f32(ctx->acts, "layer norm weight gradient partials", &pw, 2, shape);
    if (s == HVP_OK)
        s = hvp_alloc_f32(ctx->acts, "layer norm bias gradient partials", &pb, 2, shape);
    if (s == HVP_OK)
        s = ln_params_level(ctx, rows, d, chunk, x, mean, rstd, dy, dw ? &pw : NULL,
                            db ? &pb : NULL, 0);
    if (s == HVP_OK && dw)
        s = hvp_col_sums(ctx, &pw, chunks, d, chunks, dw, 1);
    if (s == HVP_OK && db)
        s = hvp_col_sums(ctx, &pb, chunks, d, chunks, db, 1);
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

hvp_status hvp_layernorm_bwd(hvp_ctx *ctx, const hvp_tensor *x, const hvp_tensor *w,
                             const hvp_tensor *mean, const hvp_tensor *rstd,
                             const hvp_tensor *dy, const hvp_tensor *dx, const hvp_tensor *dw,
                             const hvp_tensor *db)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 9.0 * (double)hvp_numel(x)); /* per element */
    int rows, d;
    HVP_TRY(ln_dims("layernorm_bwd", x, w, mean, rstd, &rows, &d));
    HVP_TRY(hvp_expect_numel(dy, hvp_numel(x), "layernorm_bwd", "dy"));
    if (dx)
        HVP_TRY(hvp_expect_numel(dx, hvp_numel(x), "layernorm_bwd", "dx"));
    if (dw)
        HVP_TRY(hvp_expect_numel(dw, (size_t)d, "layernorm_bwd", "dw"));
    if (db)
        HVP_TRY(hvp_expect_numel(db, (size_t)d, "layernorm_bwd", "db"));
    if (rows == 0)
        return HVP_OK;
    /* Parameter gradients first: dx may overwrite dy. */
    if (dw || db)
        HVP_TRY(ln_params(ctx, rows, d, x, mean, rstd, dy, dw, db));
    if (!dx)
        return HVP_OK;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_layernorm_bwd_dx, &k));
    size_t local = hvp_row_group_size(k, (size_t)d, 2 * hvp_row_per_item(ctx));
    if (local == 1) /* no group reductions needed: the kernel without barriers */
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_layernorm_bwd_dx_item, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, d);
    hvp_arg_tensor(&a, x);
    arg_optional(&a, w, x);
    hvp_arg_tensor(&a, mean);
    hvp_arg_tensor(&a, rstd);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dx);
    if (local == 1)
        return hvp_launch_1d(ctx, &a, (size_t)rows);
    return hvp_launch_row_groups(ctx, &a, (size_t)rows, local);
}
