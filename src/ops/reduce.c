/* Deterministic whole-tensor sums (cl/reduce.cl): per-work-group partials, then one group
 * sums them. The launch shape depends only on n and the kernel's maximum work-group size,
 * so the order of additions, and the result, is the same on every run on a device. */
#include <math.h>

#include "hvp/ops.h"
#include "ops/col_sums.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

/* Partials at most: enough groups to fill a device, few enough for one final group. */
#define MAX_PARTIALS 256

static hvp_status stage(hvp_ctx *ctx, hvp_kernel *k, int n, const hvp_tensor *x, int square,
                        const hvp_tensor *out, int take_sqrt, float div, size_t groups,
                        size_t local)
{
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, n);
    hvp_arg_tensor(&a, x);
    hvp_arg_int(&a, square);
    hvp_arg_tensor(&a, out);
    hvp_arg_int(&a, take_sqrt);
    hvp_arg_float(&a, div);
    hvp_arg_local(&a, local * sizeof(float));
    return hvp_launch_rows(ctx, &a, groups, local);
}

hvp_status hvp_reduce(hvp_ctx *ctx, hvp_reduce_op op, const hvp_tensor *x, const hvp_tensor *out)
{
    size_t n = hvp_numel(x);
    HVP_TRY(hvp_expect_numel(x, n, "reduce", "x"));
    HVP_TRY(hvp_expect_numel(out, 1, "reduce", "out"));
    if (n > INT_MAX - 4096) /* the kernel's int indices step past the end by a group */
        return HVP_FAIL(HVP_ERR_ARG, "reduce: %zu elements (at most 2^31 - 4097 supported)", n);
    if (n == 0) /* as torch: an empty sum is 0, an empty mean NaN */
        return hvp_tensor_fill_f32(ctx, out, op == HVP_REDUCE_MEAN ? NAN : 0.0f);
    int square = op == HVP_REDUCE_SUMSQ || op == HVP_REDUCE_NORM2;
    int take_sqrt = op == HVP_REDUCE_NORM2;
    float div = op == HVP_REDUCE_MEAN ? (float)n : 1.0f;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_reduce_fwd, &k));
    size_t local = hvp_row_group_size(k, n, 1);
    /* About 4 elements per item before the tree, at most MAX_PARTIALS groups. */
    size_t groups = (n + 4 * local - 1) / (4 * local);
    if (groups > MAX_PARTIALS)
        groups = MAX_PARTIALS;
    if (groups == 1)
        return stage(ctx, k, (int)n, x, square, out, take_sqrt, div, 1, local);
    hvp_tensor part;
    int np = (int)groups;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "reduce partials", &part, 1, &np));
    HVP_TRY(stage(ctx, k, (int)n, x, square, &part, 0, 1.0f, groups, local));
    return stage(ctx, k, np, &part, 0, out, take_sqrt, div, 1,
                 hvp_row_group_size(k, (size_t)np, 1));
}

hvp_status hvp_col_sums(hvp_ctx *ctx, const hvp_tensor *in, int rows, int cols, int chunk,
                        const hvp_tensor *out, int acc)
{
    /* The first level on CPUs: an item per chunk that streams its rows (cl/reduce.cl). */
    int by_rows = !acc && ctx->row_per_item;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, by_rows ? HVP_K_col_sums_rows : HVP_K_col_sums, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, cols);
    hvp_arg_int(&a, chunk);
    hvp_arg_tensor(&a, in);
    hvp_arg_tensor(&a, out);
    size_t chunks = ((size_t)rows + chunk - 1) / (size_t)chunk, one[1] = {1};
    if (by_rows)
        return hvp_launch(ctx, &a, 1, &chunks, one);
    hvp_arg_int(&a, acc);
    size_t global[2] = {((size_t)cols + 15) / 16, chunks};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

hvp_status hvp_col_sums_acc(hvp_ctx *ctx, const hvp_tensor *in, int rows, int cols,
                            const hvp_tensor *out)
{
    int chunk = hvp_col_chunk(rows), chunks = (rows + chunk - 1) / chunk;
    if (chunks <= 1)
        return hvp_col_sums(ctx, in, rows, cols, rows, out, 1);
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor part;
    hvp_status s = hvp_alloc_f32(ctx->acts, "column sum partials", &part, 2,
                                 (int[]){chunks, cols});
    if (s == HVP_OK)
        s = hvp_col_sums(ctx, in, rows, cols, chunk, &part, 0);
    if (s == HVP_OK)
        s = hvp_col_sums(ctx, &part, chunks, cols, chunks, out, 1);
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}
