/* Launch helpers for the kernels that reduce one row per work-group (l2norm, cosine,
 * cross_entropy, reduce, softmax, layernorm). */
#ifndef HVP_ROW_UTIL_H
#define HVP_ROW_UTIL_H

#include <limits.h>

#include "hvp/tensor.h"
#include "runtime/kernels.h"

/* A work-group size for reducing rows of `cols` elements with about `per_item` elements
 * per work-item: a power of two, at most the kernel's maximum and 256. The kernels are
 * correct for any size; this one keeps small rows from idling most of a group, and on PoCL
 * (CPU) wider groups cost more in barriers than they gain (softmax at ViT-S attention,
 * [9456, 197]: 108 ms per forward with one element per work-item, 30 ms with 16). */
static inline size_t hvp_row_group_size(const hvp_kernel *k, size_t cols, size_t per_item)
{
    size_t cap = k->max_work_group_size < 256 ? k->max_work_group_size : 256, l = 1;
    while (l * 2 <= cap && l * per_item < cols)
        l *= 2;
    return l;
}

/* The row kernel `id` and its work-group size for rows of `cols`: about `per_item` elements
 * per item (hvp_row_group_size); where that is one item, and always under
 * ctx->row_per_item (CPUs), its twin `item_id` (<name>_item: same arguments, one item per
 * row), which has no barriers (row_sum in cl/common.cl). On CPUs a whole row per item
 * also keeps the item's share in its cache between its passes over it (DINO's
 * cross-entropy, [32, 65536], on PoCL: forward and backward 2.1 and 3.5 ms with one item per
 * row, 3.3-3.6 and 5.8-6.0 ms with 16 or 256 items per row). */
static inline hvp_status hvp_row_kernel(hvp_ctx *ctx, hvp_kernel_id id, hvp_kernel_id item_id,
                                        size_t cols, size_t per_item, hvp_kernel **k,
                                        size_t *local)
{
    HVP_TRY(hvp_kernel_get(ctx, id, k));
    *local = ctx->row_per_item ? 1 : hvp_row_group_size(*k, cols, per_item);
    return *local > 1 ? HVP_OK : hvp_kernel_get(ctx, item_id, k);
}

/* One work-group of `local` items per row; `scratch` floats of local memory are the
 * kernel's last argument (already appended by the caller). */
static inline hvp_status hvp_launch_rows(hvp_ctx *ctx, hvp_args *a, size_t rows, size_t local)
{
    size_t global = rows * local;
    return hvp_launch(ctx, a, 1, &global, &local);
}

/* Elements per work-item for the vectorised row kernels without a barrier-free twin (layer
 * norm): on CPUs a whole row of up to 256 per item (ViT-S attention softmax, [18912, 197],
 * forward and backward 1.7x and 2.2x faster than 16 per item: fewer items, and the group
 * reductions cost barriers); on GPUs about one vector per item. */
static inline size_t hvp_row_per_item(const hvp_ctx *ctx)
{
    return (ctx->info.type & CL_DEVICE_TYPE_CPU) ? 256 : 16;
}

/* Launches a row kernel with several rows per work-group: groups of (local, r) items, row
 * get_global_id(1), each row's `local` items reducing among themselves with their own
 * `local` floats of scratch (buf + get_local_id(1) * local, the kernel's last argument, set
 * here). r fills the group up to 256 items: short rows (softmax over 197 tokens) then cost
 * PoCL one group's barriers per r rows instead of per row. But there are at least as many
 * groups as compute units while the rows allow (SimSiam's l2norm, 32 rows of 2048: one
 * group of 32 rows kept one of two cores busy, 0.052 ms per call). */
static inline hvp_status hvp_launch_row_groups(hvp_ctx *ctx, hvp_args *a, size_t rows,
                                               size_t local)
{
    size_t cap = a->k->max_work_group_size < 256 ? a->k->max_work_group_size : 256;
    size_t r = cap / local > 0 ? cap / local : 1, units = ctx->info.compute_units;
    if (units > 1 && r > (rows + units - 1) / units)
        r = (rows + units - 1) / units;
    hvp_arg_local(a, local * r * sizeof(float));
    size_t global[2] = {local, rows}, loc[2] = {local, r};
    return hvp_launch(ctx, a, 2, global, loc);
}

/* rows = the first dimension, cols = the rest; fails for fewer than 2 dimensions or an
 * empty tensor. */
static inline hvp_status hvp_rows_cols(const hvp_tensor *t, const char *op, const char *what,
                                       int *rows, int *cols)
{
    if (t->ndim < 2 || t->shape[0] <= 0 || hvp_numel(t) == 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s has shape %s, expected [rows, ...] with rows > 0",
                        op, what, hvp_shape_str(t, s, sizeof s));
    }
    *rows = t->shape[0];
    *cols = (int)(hvp_numel(t) / (size_t)t->shape[0]);
    return HVP_OK;
}

/* Fails unless t is I32 with exactly n elements. */
static inline hvp_status hvp_expect_i32(const hvp_tensor *t, size_t n, const char *op,
                                        const char *what)
{
    if (t->dtype != HVP_I32 || hvp_numel(t) != n) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s is %s %s, expected I32 with %zu elements", op, what,
                        hvp_dtype_name(t->dtype), hvp_shape_str(t, s, sizeof s), n);
    }
    if (t->off + n > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s reaches past element 2^31 of its buffer", op, what);
    return HVP_OK;
}

#endif
