/* EMA of parameters and gradient-norm clipping (cl/optim_util.cl, cl/optim_flat.cl); norms
 * are reduced on the device and read there by the clipping kernel. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/ops.h"
#include "hvp/optim.h"
#include "ops/launch.h"
#include "ops/op_util.h"
#include "optim/segments.h"

static hvp_status ema_one(hvp_ctx *ctx, const hvp_tensor *t, const hvp_tensor *s, float m)
{
    size_t n = hvp_numel(t);
    HVP_TRY(hvp_expect_numel(t, n, "ema", "teacher"));
    HVP_TRY(hvp_expect_numel(s, n, "ema", "student"));
    return hvp_launch_elementwise(ctx, HVP_K_optim_ema, n, 1,
                                  HVP_KARGS(HVP_TENSOR(t), HVP_TENSOR(s), HVP_FLOAT(m),
                                            HVP_FLOAT((float)(1.0 - (double)m))));
}

hvp_status hvp_ema_update(hvp_ctx *ctx, const hvp_param *teacher, const hvp_param *student,
                          int n, float m)
{
    for (int i = 0; i < n; i++)
        HVP_TRY(ema_one(ctx, &teacher[i].value, &student[i].value, m));
    return HVP_OK;
}

hvp_status hvp_ema_tensors(hvp_ctx *ctx, const hvp_tensor *teacher, const hvp_tensor *student,
                           int n, float m)
{
    for (int i = 0; i < n; i++)
        HVP_TRY(ema_one(ctx, &teacher[i], &student[i], m));
    return HVP_OK;
}

/* HVP_EMA_TABLE: the teachers' chunks and per pair the online offset minus the teacher's. */
static hvp_status ema_table(hvp_ctx *ctx, hvp_ema_pairs *e)
{
    int n = e->n, *delta = malloc((size_t)n * sizeof *delta);
    size_t *start = malloc((size_t)n * 2 * sizeof *start), *numel = start + n;
    hvp_status st = HVP_OK;
    if (!delta || !start)
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int k = 0; st == HVP_OK && k < n; k++) {
        start[k] = e->teacher[k].off;
        numel[k] = hvp_numel(&e->teacher[k]);
        delta[k] = (int)e->online[k].off - (int)e->teacher[k].off;
    }
    static const hvp_kernel_id kernels[] = {HVP_K_optim_ema_pairs};
    if (st == HVP_OK)
        st = hvp_chunks(ctx, start, numel, n, kernels, 1, &e->chunks);
    if (st == HVP_OK)
        st = hvp_tensor_alloc(ctx->params, HVP_I32, 1, (int[]){n}, "EMA pairs", &e->delta);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &e->delta, delta);
    free(delta);
    free(start);
    return st;
}

hvp_status hvp_ema_pairs_prepare(hvp_ctx *ctx, const hvp_tensor *teacher,
                                 const hvp_tensor *online, int n, hvp_ema_pairs *out)
{
    hvp_ema_pairs e;
    memset(&e, 0, sizeof e);
    e.teacher = teacher;
    e.online = online;
    e.n = n;
    /* each side in one buffer below 2^31 elements: a table can address them */
    int one_buffer = n > 0;
    for (int k = 0; k < n; k++) {
        HVP_TRY(hvp_expect_numel(&teacher[k], hvp_numel(&online[k]), "ema", "teacher"));
        if (online[k].buf != online[0].buf || teacher[k].buf != teacher[0].buf ||
            online[k].off + hvp_numel(&online[k]) > (size_t)INT_MAX - 4096 ||
            teacher[k].off + hvp_numel(&teacher[k]) > (size_t)INT_MAX - 4096)
            one_buffer = 0;
    }
    if (n > 0 && hvp_tensors_packed(teacher, sizeof *teacher, n, &e.teacher_run) &&
        hvp_tensors_packed(online, sizeof *online, n, &e.online_run))
        e.mode = HVP_EMA_RUN; /* the same sizes in order: the same layout */
    else if (one_buffer) {
        e.mode = HVP_EMA_TABLE;
        HVP_TRY(ema_table(ctx, &e));
    }
    *out = e;
    return HVP_OK;
}

hvp_status hvp_ema_pairs_update(hvp_ctx *ctx, const hvp_ema_pairs *e, float m)
{
    if (e->mode == HVP_EMA_PER_PAIR)
        return hvp_ema_tensors(ctx, e->teacher, e->online, e->n, m);
    if (e->mode == HVP_EMA_RUN)
        return ema_one(ctx, &e->teacher_run, &e->online_run, m); /* gaps: zeros both */
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_optim_ema_pairs, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_mem(&a, e->teacher[0].buf);
    hvp_arg_mem(&a, e->online[0].buf);
    hvp_arg_tensor(&a, &e->chunks.table);
    hvp_arg_tensor(&a, &e->delta);
    hvp_arg_float(&a, m);
    hvp_arg_float(&a, (float)(1.0 - (double)m));
    return hvp_launch_chunks(ctx, &a, &e->chunks);
}

/* norms[i] = ||g_i|| for every parameter (into a fresh [n] tensor unless given). */
static hvp_status grad_norms(hvp_ctx *ctx, const hvp_param *params, int n, const hvp_tensor *given,
                             hvp_tensor *norms)
{
    if (given) {
        HVP_TRY(hvp_expect_numel(given, (size_t)n, "clip", "norms"));
        *norms = *given;
    } else {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "gradient norms", norms, 1, &n));
    }
    for (int i = 0; i < n; i++) {
        hvp_tensor out = hvp_tensor_view(norms, (size_t)i, 1, (int[]){1});
        HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &params[i].grad, &out));
    }
    return HVP_OK;
}

static hvp_status scale_grad(hvp_ctx *ctx, const hvp_tensor *grad, const hvp_tensor *norm,
                             float max_norm)
{
    return hvp_launch_elementwise(
        ctx, HVP_K_optim_clip, hvp_numel(grad), 1,
        HVP_KARGS(HVP_TENSOR(grad), HVP_TENSOR(norm), HVP_FLOAT(max_norm)));
}

hvp_status hvp_clip_grad_norm(hvp_ctx *ctx, const hvp_param *params, int n, float max_norm,
                              const hvp_tensor *total_norm)
{
    if (n <= 0)
        return HVP_OK;
    hvp_tensor norms, total;
    HVP_TRY(grad_norms(ctx, params, n, NULL, &norms));
    if (total_norm) {
        HVP_TRY(hvp_expect_numel(total_norm, 1, "clip_grad_norm", "total_norm"));
        total = *total_norm;
    } else {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "total gradient norm", &total, 1, (int[]){1}));
    }
    HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &norms, &total));
    for (int i = 0; i < n; i++)
        HVP_TRY(scale_grad(ctx, &params[i].grad, &total, max_norm));
    return HVP_OK;
}

hvp_status hvp_clip_grad_per_param(hvp_ctx *ctx, const hvp_param *params, int n, float clip,
                                   const hvp_tensor *norms_out)
{
    if (n <= 0)
        return HVP_OK;
    hvp_tensor norms;
    HVP_TRY(grad_norms(ctx, params, n, norms_out, &norms));
    for (int i = 0; i < n; i++) {
        hvp_tensor one = hvp_tensor_view(&norms, (size_t)i, 1, (int[]){1});
        HVP_TRY(scale_grad(ctx, &params[i].grad, &one, clip));
    }
    return HVP_OK;
}

hvp_status hvp_optim_clip_grad_norm(hvp_ctx *ctx, hvp_optim *o, float max_norm,
                                    const hvp_tensor *total_norm)
{
    hvp_segments *s = o->seg;
    if (!s)
        return hvp_clip_grad_norm(ctx, o->params, o->nparams, max_norm, total_norm);
    if (total_norm)
        HVP_TRY(hvp_expect_numel(total_norm, 1, "clip_grad_norm", "total_norm"));
    const hvp_tensor *total = total_norm ? total_norm : &s->total;
    hvp_tensor norms = hvp_tensor_view(&s->norms, 0, 1, (int[]){s->n});
    HVP_TRY(hvp_segments_norms(ctx, s, 1, &norms));
    HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &norms, total)); /* as hvp_clip_grad_norm */
    /* the whole region: the gaps hold zeros, scaling them changes nothing */
    return scale_grad(ctx, &s->grads, total, max_norm);
}

hvp_status hvp_optim_clip_grad_per_param(hvp_ctx *ctx, hvp_optim *o, float clip,
                                         const hvp_tensor *norms_out)
{
    hvp_segments *s = o->seg;
    if (!s)
        return hvp_clip_grad_per_param(ctx, o->params, o->nparams, clip, norms_out);
    hvp_tensor norms = hvp_tensor_view(&s->norms, 0, 1, (int[]){s->n});
    if (norms_out) {
        HVP_TRY(hvp_expect_numel(norms_out, (size_t)s->n, "clip", "norms"));
        norms = *norms_out;
    }
    HVP_TRY(hvp_segments_norms(ctx, s, 1, &norms));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_optim_clip_flat, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_tensor(&a, &s->grads);
    hvp_arg_tensor(&a, &s->chunks.table);
    hvp_arg_tensor(&a, &norms);
    hvp_arg_float(&a, clip);
    return hvp_launch_chunks(ctx, &a, &s->chunks);
}
