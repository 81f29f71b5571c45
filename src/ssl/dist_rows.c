/* Gathering the rows of all data-parallel ranks in the one-device order (dist_rows.h). */
#include <stdlib.h>
#include <string.h>

#include "hvp/dist.h"
#include "ssl/dist_rows.h"

/* Elements per row of a tensor of rows. */
static size_t row_size(const hvp_tensor *t)
{
    return hvp_numel(t) / (size_t)t->shape[0];
}

/* Row (v, image k of rank r) of the global layout, for b images per rank. */
static size_t global_row(int v, int k, int r, int b, int world)
{
    return (size_t)v * (size_t)b * (size_t)world + (size_t)k * (size_t)world + (size_t)r;
}

hvp_status hvp_rows_allgather(hvp_ctx *ctx, const hvp_tensor *local, int views,
                              hvp_tensor *global)
{
    int world = hvp_dist_world(), n = local->shape[0], b = n / views;
    if (n % views)
        return HVP_FAIL(HVP_ERR_ARG, "gathering rows: %d rows are not %d views per image", n,
                        views);
    size_t d = row_size(local), per_rank = (size_t)n * d;
    int shape[HVP_MAX_DIMS];
    memcpy(shape, local->shape, sizeof shape);
    shape[0] = n * world;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "rows of all ranks", global, local->ndim, shape));
    float *mine = malloc(per_rank * sizeof *mine);
    float *all = malloc(per_rank * (size_t)world * sizeof *all);
    float *out = malloc(per_rank * (size_t)world * sizeof *out);
    hvp_status st = mine && all && out ? HVP_OK
                                       : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory gathering rows");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, local, mine);
    if (st == HVP_OK)
        st = hvp_dist_allgather(mine, per_rank * sizeof *mine, all);
    for (int r = 0; st == HVP_OK && r < world; r++)
        for (int v = 0; v < views; v++)
            for (int k = 0; k < b; k++)
                memcpy(out + global_row(v, k, r, b, world) * d,
                       all + (size_t)r * per_rank + ((size_t)v * b + k) * d, d * sizeof *out);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, global, out);
    free(mine);
    free(all);
    free(out);
    return st;
}

hvp_status hvp_rows_mine(hvp_ctx *ctx, const hvp_tensor *global, int views, float scale,
                         hvp_tensor *local)
{
    int world = hvp_dist_world(), rank = hvp_dist_rank(), n = global->shape[0];
    if (n % (views * world))
        return HVP_FAIL(HVP_ERR_ARG, "this rank's rows: %d rows are not %d views of %d ranks' "
                        "images", n, views, world);
    int b = n / views / world;
    size_t d = row_size(global);
    int shape[HVP_MAX_DIMS];
    memcpy(shape, global->shape, sizeof shape);
    shape[0] = views * b;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "this rank's rows", local, global->ndim, shape));
    float *all = malloc((size_t)n * d * sizeof *all), *out = malloc((size_t)views * b * d * sizeof *out);
    hvp_status st = all && out ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, global, all);
    for (int v = 0; st == HVP_OK && v < views; v++)
        for (int k = 0; k < b; k++) {
            const float *src = all + global_row(v, k, rank, b, world) * d;
            float *dst = out + ((size_t)v * b + k) * d;
            for (size_t j = 0; j < d; j++)
                dst[j] = src[j] * scale;
        }
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, local, out);
    free(all);
    free(out);
    return st;
}
