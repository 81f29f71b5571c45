/* Segment tables of a packed parameter list and its per-segment norms (see segments.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"
#include "optim/segments.h"

/* hvp_reduce's launch of one tensor of n elements: items per group, groups (1: one stage),
 * items of the second stage. */
static void reduce_shape(size_t cap, size_t n, int *items, int *groups, int *items2)
{
    hvp_kernel k = {0};
    k.max_work_group_size = cap;
    size_t local = hvp_row_group_size(&k, n, 1);
    size_t g = (n + 4 * local - 1) / (4 * local);
    if (g > 256) /* hvp_reduce's MAX_PARTIALS */
        g = 256;
    if (g < 1)
        g = 1;
    *items = (int)local;
    *groups = (int)g;
    *items2 = (int)(g > 1 ? hvp_row_group_size(&k, g, 1) : 1);
}

static hvp_status upload_i32(hvp_ctx *ctx, const char *what, const int *host, int n,
                             hvp_tensor *out)
{
    HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_I32, 1, (int[]){n}, what, out));
    return hvp_tensor_upload(ctx, out, host);
}

static size_t kernel_cap(hvp_ctx *ctx, hvp_kernel_id id, size_t cap, hvp_status *st)
{
    hvp_kernel *k;
    if (*st == HVP_OK)
        *st = hvp_kernel_get(ctx, id, &k);
    return *st == HVP_OK && k->max_work_group_size < cap ? k->max_work_group_size : cap;
}

/* The norm plan: per segment hvp_reduce's shape, per stage-1 work-group its segment. */
static hvp_status plan_norms(hvp_ctx *ctx, hvp_segments *s)
{
    hvp_status st = HVP_OK;
    size_t cap1 = kernel_cap(ctx, HVP_K_reduce_fwd, 256, &st);
    size_t cap2 = kernel_cap(ctx, HVP_K_optim_seg_norm_final, cap1, &st);
    cap1 = kernel_cap(ctx, HVP_K_optim_seg_norm_partials, cap1, &st);
    HVP_TRY(st);
    int n = s->n, *seg = malloc((size_t)n * 7 * sizeof *seg);
    if (!seg)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    int work = 0;
    s->local1 = s->local2 = 1;
    for (int i = 0; i < n; i++) {
        int *r = seg + 7 * i, items, groups, items2;
        long numel = s->host_info[4 * i + 1];
        reduce_shape(cap1 < cap2 ? cap1 : cap2, (size_t)numel, &items, &groups, &items2);
        r[0] = s->host_info[4 * i];
        r[1] = (int)numel;
        r[2] = (int)(((numel + groups - 1) / groups + items - 1) / items * items);
        r[3] = items;
        r[4] = groups;
        r[5] = work;
        r[6] = items2;
        work += groups;
        if ((size_t)items > s->local1)
            s->local1 = (size_t)items;
        if ((size_t)items2 > s->local2)
            s->local2 = (size_t)items2;
    }
    s->work = s->npartials = work;
    int *table = malloc((size_t)(4 * work + 1) * sizeof *table);
    if (!table) {
        free(seg);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    for (int half = 0, w = 0; half < 2; half++)
        for (int i = 0; i < n; i++)
            for (int g = 0; g < seg[7 * i + 4]; g++, w++) {
                table[2 * w] = half * n + i;
                table[2 * w + 1] = g;
            }
    st = upload_i32(ctx, "norm plan", seg, 7 * n, &s->norm_seg);
    if (st == HVP_OK)
        st = upload_i32(ctx, "norm work", table, 4 * work, &s->norm_work);
    free(seg);
    free(table);
    HVP_TRY(st);
    HVP_TRY(hvp_alloc_f32(ctx->params, "norm partials", &s->partials, 1, (int[]){2 * work}));
    HVP_TRY(hvp_alloc_f32(ctx->params, "segment norms", &s->norms, 1, (int[]){2 * n}));
    return hvp_alloc_f32(ctx->params, "total norm", &s->total, 1, (int[]){1});
}

static hvp_status create(hvp_ctx *ctx, hvp_segments *s, const hvp_param *params,
                         const int *groups, const int *flags)
{
    int n = s->n;
    s->host_info = malloc((size_t)n * 4 * sizeof *s->host_info);
    size_t *start = malloc((size_t)n * 2 * sizeof *start), *numel = start + n;
    hvp_status st = HVP_OK;
    if (!s->host_info || !start)
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int i = 0, at = 0; st == HVP_OK && i < n; i++) {
        int *r = s->host_info + 4 * i;
        start[i] = (size_t)at;
        numel[i] = hvp_numel(&params[i].value);
        r[0] = at;
        r[1] = (int)numel[i];
        r[2] = groups ? groups[i] : 0;
        r[3] = flags ? flags[i] : 0;
        at = (int)hvp_packed_next((size_t)at, numel[i]);
    }
    static const hvp_kernel_id kernels[] = {HVP_K_optim_sgd_flat, HVP_K_optim_lars_flat,
                                            HVP_K_optim_adamw_flat, HVP_K_optim_clip_flat};
    if (st == HVP_OK)
        st = hvp_chunks(ctx, start, numel, n, kernels, (int)(sizeof kernels / sizeof kernels[0]),
                        &s->chunks);
    free(start);
    HVP_TRY(st);
    HVP_TRY(upload_i32(ctx, "segments", s->host_info, 4 * n, &s->info));
    return plan_norms(ctx, s);
}

hvp_status hvp_segments_create(hvp_ctx *ctx, const hvp_param *params, int n, const int *groups,
                               const int *flags, hvp_segments **out)
{
    *out = NULL;
    hvp_tensor values, grads;
    if (n < 1 || !hvp_params_packed(params, n, &values, &grads))
        return HVP_OK;
    hvp_segments *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    s->n = n;
    s->values = values;
    s->grads = grads;
    hvp_status st = create(ctx, s, params, groups, flags);
    if (st != HVP_OK) {
        hvp_segments_free(s); /* device memory stays in the arena, as any failed setup */
        return st;
    }
    *out = s;
    return HVP_OK;
}

void hvp_segments_free(hvp_segments *s)
{
    if (!s)
        return;
    free(s->host_info);
    free(s);
}

void hvp_segments_set(hvp_segments *s, int i, int group, int flags)
{
    int *r = s->host_info + 4 * i;
    if (r[2] != group || r[3] != flags)
        s->info_stale = 1;
    r[2] = group;
    r[3] = flags;
}

hvp_status hvp_segments_sync(hvp_ctx *ctx, hvp_segments *s)
{
    if (!s->info_stale)
        return HVP_OK;
    HVP_TRY(hvp_tensor_upload(ctx, &s->info, s->host_info));
    s->info_stale = 0;
    return HVP_OK;
}

hvp_status hvp_segments_norms(hvp_ctx *ctx, hvp_segments *s, int grads_only,
                              const hvp_tensor *out)
{
    int nv = grads_only ? s->n : 2 * s->n; /* virtual segments reduced */
    HVP_TRY(hvp_expect_numel(out, (size_t)nv, "segment norms", "out"));
    hvp_kernel *k1, *k2;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_optim_seg_norm_partials, &k1));
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_optim_seg_norm_final, &k2));
    /* grads only: the grads' partials and norms take the values' places */
    const hvp_tensor *first = grads_only ? &s->grads : &s->values;
    hvp_args a = hvp_args_begin(k1);
    hvp_arg_tensor(&a, first);
    hvp_arg_tensor(&a, &s->grads);
    hvp_arg_int(&a, s->n);
    hvp_arg_tensor(&a, &s->norm_work);
    hvp_arg_tensor(&a, &s->norm_seg);
    hvp_arg_tensor(&a, &s->partials);
    hvp_arg_int(&a, s->npartials);
    hvp_arg_int(&a, 1); /* square */
    hvp_arg_local(&a, s->local1 * sizeof(float));
    HVP_TRY(hvp_launch_rows(ctx, &a, (size_t)(grads_only ? s->work : 2 * s->work), s->local1));
    a = hvp_args_begin(k2);
    hvp_arg_int(&a, s->n);
    hvp_arg_tensor(&a, &s->norm_seg);
    hvp_arg_tensor(&a, &s->partials);
    hvp_arg_int(&a, s->npartials);
    hvp_arg_tensor(&a, out);
    hvp_arg_int(&a, 1); /* take_sqrt */
    hvp_arg_local(&a, s->local2 * sizeof(float));
    return hvp_launch_rows(ctx, &a, (size_t)nv, s->local2);
}

hvp_status hvp_chunks(hvp_ctx *ctx, const size_t *start, const size_t *numel, int n,
                      const hvp_kernel_id *kernels, int nkernels, hvp_chunk_table *out)
{
    hvp_status st = HVP_OK;
    size_t size = 256;
    for (int k = 0; k < nkernels; k++)
        size = kernel_cap(ctx, kernels[k], size, &st);
    HVP_TRY(st);
    size_t count = 0;
    for (int i = 0; i < n; i++)
        count += (numel[i] + size - 1) / size;
    if (count > (size_t)INT_MAX / 3)
        return HVP_FAIL(HVP_ERR_ARG, "multi-tensor kernels: %zu chunks", count);
    int *table = malloc((3 * count + 1) * sizeof *table);
    if (!table)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    int c = 0;
    for (int i = 0; i < n; i++)
        for (size_t at = 0; at < numel[i]; at += size, c++) {
            size_t end = at + size < numel[i] ? at + size : numel[i];
            table[3 * c] = i;
            table[3 * c + 1] = (int)(start[i] + at);
            table[3 * c + 2] = (int)(start[i] + end);
        }
    st = upload_i32(ctx, "chunks", table, 3 * c, &out->table);
    free(table);
    out->count = c;
    out->size = size;
    return st;
}

hvp_status hvp_launch_chunks(hvp_ctx *ctx, hvp_args *a, const hvp_chunk_table *c)
{
    size_t global = (size_t)c->count * c->size;
    return hvp_launch(ctx, a, 1, &global, &c->size);
}
