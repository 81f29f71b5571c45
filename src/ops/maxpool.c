/* Max pool (cl/maxpool.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"

int hvp_maxpool_out(int size, int k, int s, int p) { return (size + 2 * p - k) / s + 1; }

static hvp_status check(const hvp_maxpool_desc *d, const char *op)
{
    if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1 || d->k < 1 || d->stride < 1 ||
        d->pad < 0 || 2 * d->pad > d->k || d->h + 2 * d->pad < d->k ||
        d->w + 2 * d->pad < d->k)
        return HVP_FAIL(HVP_ERR_ARG,
                        "%s: bad descriptor (n=%d c=%d h=%d w=%d k=%d stride=%d pad=%d; pad "
                        "must be at most k/2)",
                        op, d->n, d->c, d->h, d->w, d->k, d->stride, d->pad);
    return HVP_OK;
}

static hvp_status check_idx(const hvp_tensor *idx, size_t n, const char *op)
{
    if (idx->dtype != HVP_I32 || hvp_numel(idx) != n || idx->off + n > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: idx must be I32 with %zu elements", op, n);
    return HVP_OK;
}

static void add_geometry(hvp_args *a, const hvp_maxpool_desc *d)
{
    hvp_arg_int(a, d->n * d->c);
    hvp_arg_int(a, d->h);
    hvp_arg_int(a, d->w);
    hvp_arg_int(a, d->k);
    hvp_arg_int(a, d->stride);
    hvp_arg_int(a, d->pad);
    hvp_arg_int(a, hvp_maxpool_out(d->h, d->k, d->stride, d->pad));
    hvp_arg_int(a, hvp_maxpool_out(d->w, d->k, d->stride, d->pad));
}

hvp_status hvp_maxpool_fwd(hvp_ctx *ctx, const hvp_maxpool_desc *d, const hvp_tensor *x,
                           const hvp_tensor *y, const hvp_tensor *idx)
{
    const char *op = "maxpool_fwd";
    HVP_TRY(check(d, op));
    size_t planes = (size_t)d->n * d->c;
    size_t ny = planes * hvp_maxpool_out(d->h, d->k, d->stride, d->pad) *
                hvp_maxpool_out(d->w, d->k, d->stride, d->pad);
    HVP_TRY(hvp_expect_numel(x, planes * d->h * d->w, op, "x"));
    HVP_TRY(hvp_expect_numel(y, ny, op, "y"));
    HVP_TRY(check_idx(idx, ny, op));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_maxpool_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    add_geometry(&a, d);
    int ho = hvp_maxpool_out(d->h, d->k, d->stride, d->pad);
    int rows = ctx->row_per_item ? ho : 1; /* CPUs: an item streams through a plane */
    hvp_arg_int(&a, rows);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, idx);
    size_t global[2] = {(size_t)(ho + rows - 1) / rows, planes};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

hvp_status hvp_maxpool_bwd(hvp_ctx *ctx, const hvp_maxpool_desc *d, const hvp_tensor *dy,
                           const hvp_tensor *idx, const hvp_tensor *dx)
{
    const char *op = "maxpool_bwd";
    HVP_TRY(check(d, op));
    size_t planes = (size_t)d->n * d->c;
    size_t ny = planes * hvp_maxpool_out(d->h, d->k, d->stride, d->pad) *
                hvp_maxpool_out(d->w, d->k, d->stride, d->pad);
    size_t nx = planes * d->h * d->w;
    HVP_TRY(hvp_expect_numel(dy, ny, op, "dy"));
    HVP_TRY(check_idx(idx, ny, op));
    HVP_TRY(hvp_expect_numel(dx, nx, op, "dx"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_maxpool_bwd, &k));
    hvp_args a = hvp_args_begin(k);
    add_geometry(&a, d);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, idx);
    hvp_arg_tensor(&a, dx);
    return hvp_launch_1d(ctx, &a, nx);
}
