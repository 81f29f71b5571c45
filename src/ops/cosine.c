/* Cosine similarity per row (cl/cosine.cl): a row per work-group's row of items, or per item
 * (CPUs: hvp_row_kernel). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

/* About 8 vectors per item on GPUs; on CPUs a whole row (as l2norm). */
#define PER_ITEM (8 * HVP_VEC)

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
    return hvp_launch_rowwise(ctx, HVP_K_cosine_fwd, HVP_K_cosine_fwd_item, rows, cols, PER_ITEM,
                              HVP_KARGS(HVP_TENSOR(a), HVP_TENSOR(b), HVP_TENSOR(s),
                                        HVP_FLOAT(eps)));
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
    /* a gradient not wanted gets a stand-in that is never written */
    return hvp_launch_rowwise(ctx, HVP_K_cosine_bwd, HVP_K_cosine_bwd_item, rows, cols, PER_ITEM,
                              HVP_KARGS(HVP_TENSOR(a), HVP_TENSOR(b), HVP_TENSOR(ds),
                                        HVP_INT(da != NULL), HVP_TENSOR(da ? da : a),
                                        HVP_INT(db != NULL), HVP_TENSOR(db ? db : b),
                                        HVP_FLOAT(eps)));
}
