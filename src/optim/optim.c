/* SGD, LARS and AdamW over a parameter list: over a packed list (hvp_params_packed) one
 * launch for all tensors (cl/optim_flat.cl, with LARS's norms two more), the optimizer
 * state then packed alike in one region per kind; over any other list a launch per tensor
 * (cl/optim_sgd.cl, cl/optim_adamw.cl). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/ops.h"
#include "hvp/optim.h"
#include "ops/op_util.h"
#include "optim/segments.h"

hvp_status hvp_params_zero_grad(hvp_ctx *ctx, const hvp_param *params, int n)
{
    hvp_tensor values, grads;
    if (hvp_params_packed(params, n, &values, &grads))
        return hvp_tensor_zero(ctx, &grads); /* the gaps are zero already: no harm */
    for (int i = 0; i < n; i++)
        HVP_TRY(hvp_tensor_zero(ctx, &params[i].grad));
    return HVP_OK;
}

hvp_optim_config hvp_optim_defaults(hvp_optim_kind kind)
{
    hvp_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.momentum = 0.9f;
    c.beta1 = 0.9f;
    c.beta2 = 0.999f;
    c.eps = 1e-8f;
    c.lars_eta = 0.02f;
    c.lars_eps = 1e-8f;
    c.lars_clip_lr = 0;
    c.lars_exclude_bias_n_norm = 1;
    c.decay_all = 0;
    return c;
}

void hvp_optim_destroy(hvp_optim *o)
{
    if (!o)
        return;
    hvp_segments_free(o->seg);
    free(o->group);
    free(o->state);
    free(o->state_of);
    free(o);
}

/* The state tensor "<param i>.<suffix>": in region (the parameters' layout) when given,
 * else allocated alone. */
static hvp_status add_state(hvp_ctx *ctx, hvp_optim *o, int i, const char *suffix,
                            const hvp_tensor *region)
{
    const hvp_param *p = &o->params[i];
    hvp_param *s = &o->state[o->nstate];
    memset(s, 0, sizeof *s);
    if ((size_t)snprintf(s->name, sizeof s->name, "%s.%s", p->name, suffix) >= sizeof s->name)
        return HVP_FAIL(HVP_ERR_ARG, "optimizer state name %s.%s is too long", p->name, suffix);
    if (region) {
        s->value = hvp_tensor_view(region, p->value.off - o->seg->values.off, p->value.ndim,
                                   p->value.shape);
    } else {
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_F32, p->value.ndim, p->value.shape, s->name,
                                 &s->value));
        HVP_TRY(hvp_tensor_zero(ctx, &s->value));
    }
    if (o->state_of[i] < 0)
        o->state_of[i] = o->nstate;
    o->nstate++;
    return HVP_OK;
}

/* What the multi-tensor kernels need to know of a parameter beside its group. */
static int segment_flags(const hvp_optim_config *c, const hvp_param *p)
{
    int flags = 0;
    if (!(p->no_decay && !c->decay_all))
        flags |= HVP_SEG_DECAY;
    if (!(p->no_decay && c->lars_exclude_bias_n_norm))
        flags |= HVP_SEG_ADAPT;
    return flags;
}

static hvp_status create(hvp_ctx *ctx, hvp_optim *o)
{
    const hvp_optim_config *c = &o->cfg;
    if (c->kind != HVP_OPTIM_SGD && c->kind != HVP_OPTIM_LARS && c->kind != HVP_OPTIM_ADAMW)
        return HVP_FAIL(HVP_ERR_ARG, "optimizer kind %d unknown", (int)c->kind);
    if (!(c->momentum >= 0 && c->momentum < 1) || !(c->beta1 >= 0 && c->beta1 < 1) ||
        !(c->beta2 >= 0 && c->beta2 < 1) || (c->kind == HVP_OPTIM_ADAMW && !(c->eps > 0)))
        return HVP_FAIL(HVP_ERR_ARG, "optimizer: momentum %g, betas (%g, %g), eps %g out of range",
                        (double)c->momentum, (double)c->beta1, (double)c->beta2, (double)c->eps);
    int n = o->nparams;
    o->group = calloc((size_t)n + 1, sizeof *o->group);
    o->state = calloc(2 * (size_t)n + 1, sizeof *o->state);
    o->state_of = malloc(((size_t)n + 1) * sizeof *o->state_of);
    if (!o->group || !o->state || !o->state_of)
        return HVP_FAIL(HVP_ERR_NOMEM, "optimizer bookkeeping for %d parameters", n);
    for (int i = 0; i < n; i++) {
        const hvp_param *p = &o->params[i];
        size_t numel = hvp_numel(&p->value);
        char what[128];
        snprintf(what, sizeof what, "%s (value)", p->name);
        HVP_TRY(hvp_expect_numel(&p->value, numel, "optimizer", what));
        snprintf(what, sizeof what, "%s (grad)", p->name);
        HVP_TRY(hvp_expect_numel(&p->grad, numel, "optimizer", what));
    }
    int *flags = calloc((size_t)n + 1, sizeof *flags);
    if (!flags)
        return HVP_FAIL(HVP_ERR_NOMEM, "optimizer bookkeeping for %d parameters", n);
    for (int i = 0; i < n; i++)
        flags[i] = segment_flags(c, &o->params[i]);
    hvp_status st = hvp_segments_create(ctx, o->params, n, o->group, flags, &o->seg);
    free(flags);
    HVP_TRY(st);
    /* Packed: one zeroed region per kind of state, in the parameters' layout. */
    int kinds = c->kind == HVP_OPTIM_ADAMW ? 2 : c->momentum != 0 ? 1 : 0;
    hvp_tensor regions[2];
    for (int r = 0; o->seg && r < kinds; r++) {
        int total = (int)hvp_numel(&o->seg->values);
        HVP_TRY(hvp_alloc_f32(ctx->params, "optimizer state", &regions[r], 1, &total));
        HVP_TRY(hvp_tensor_zero(ctx, &regions[r]));
    }
    for (int i = 0; i < n; i++) {
        o->state_of[i] = -1;
        if (c->kind == HVP_OPTIM_ADAMW) {
            HVP_TRY(add_state(ctx, o, i, "exp_avg", o->seg ? &regions[0] : NULL));
            HVP_TRY(add_state(ctx, o, i, "exp_avg_sq", o->seg ? &regions[1] : NULL));
        } else if (c->momentum != 0) {
            HVP_TRY(add_state(ctx, o, i, "momentum_buffer", o->seg ? &regions[0] : NULL));
        }
    }
    for (int r = 0; o->seg && r < kinds; r++)
        o->state_region[r] = regions[r];
    if (c->kind == HVP_OPTIM_LARS && n > 0 && !o->seg)
        HVP_TRY(hvp_alloc_f32(ctx->params, "LARS norms", &o->norms, 1, (int[]){2 * n}));
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        o->groups[g].lr = o->groups[g].weight_decay = 0;
    return HVP_OK;
}

hvp_status hvp_optim_create(hvp_ctx *ctx, const hvp_optim_config *cfg, const hvp_param *params,
                            int nparams, hvp_optim **out)
{
    *out = NULL;
    if (nparams < 0 || (nparams > 0 && !params))
        return HVP_FAIL(HVP_ERR_ARG, "optimizer: %d parameters", nparams);
    hvp_optim *o = calloc(1, sizeof *o);
    if (!o)
        return HVP_FAIL(HVP_ERR_NOMEM, "optimizer");
    o->cfg = *cfg;
    o->params = params;
    o->nparams = nparams;
    hvp_status s = create(ctx, o);
    if (s != HVP_OK) {
        hvp_optim_destroy(o); /* device memory stays in the arena, as any failed setup */
        return s;
    }
    *out = o;
    return HVP_OK;
}

int hvp_optim_set_group(hvp_optim *o, const char *prefix, int group)
{
    if (group < 0 || group >= HVP_OPTIM_MAX_GROUPS)
        return -1;
    int count = 0;
    for (int i = 0; i < o->nparams; i++)
        if (strncmp(o->params[i].name, prefix, strlen(prefix)) == 0) {
            o->group[i] = group;
            if (o->seg)
                hvp_segments_set(o->seg, i, group, segment_flags(&o->cfg, &o->params[i]));
            count++;
        }
    return count;
}

static hvp_status sgd_or_lars(hvp_ctx *ctx, hvp_optim *o, int i, hvp_kernel *k)
{
    const hvp_param *p = &o->params[i];
    const hvp_optim_group *grp = &o->groups[o->group[i]];
    const hvp_optim_config *c = &o->cfg;
    int lars = c->kind == HVP_OPTIM_LARS;
    int adapt = !(p->no_decay && c->lars_exclude_bias_n_norm);
    float wd = grp->weight_decay;
    if (lars ? !adapt : (p->no_decay && !c->decay_all))
        wd = 0.0f;
    size_t n = hvp_numel(&p->value);
    int has_buf = o->state_of[i] >= 0;
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, &p->value);
    hvp_arg_tensor(&a, &p->grad);
    hvp_arg_int(&a, has_buf);
    hvp_arg_tensor(&a, has_buf ? &o->state[o->state_of[i]].value : &p->grad); /* stand-in */
    hvp_arg_float(&a, grp->lr);
    hvp_arg_float(&a, wd);
    hvp_arg_float(&a, c->momentum);
    if (lars) {
        if (adapt) {
            hvp_tensor pn = hvp_tensor_view(&o->norms, 2 * (size_t)i, 1, (int[]){1});
            hvp_tensor gn = hvp_tensor_view(&o->norms, 2 * (size_t)i + 1, 1, (int[]){1});
            HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &p->value, &pn));
            HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &p->grad, &gn));
        }
        hvp_arg_int(&a, adapt);
        hvp_arg_mem(&a, o->norms.buf);
        hvp_arg_int(&a, (int)o->norms.off + 2 * i);
        hvp_arg_float(&a, c->lars_eta);
        hvp_arg_float(&a, c->lars_eps);
        hvp_arg_int(&a, c->lars_clip_lr);
    }
    return hvp_launch_1d(ctx, &a, n);
}

static hvp_status adamw(hvp_ctx *ctx, hvp_optim *o, int i, hvp_kernel *k)
{
    const hvp_param *p = &o->params[i];
    const hvp_optim_group *grp = &o->groups[o->group[i]];
    const hvp_optim_config *c = &o->cfg;
    double wd = (p->no_decay && !c->decay_all) ? 0.0 : grp->weight_decay;
    double lr = grp->lr, t = (double)o->step;
    double bc1 = 1.0 - pow((double)c->beta1, t), bc2 = 1.0 - pow((double)c->beta2, t);
    size_t n = hvp_numel(&p->value);
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, &p->value);
    hvp_arg_tensor(&a, &p->grad);
    hvp_arg_tensor(&a, &o->state[o->state_of[i]].value);
    hvp_arg_tensor(&a, &o->state[o->state_of[i] + 1].value);
    hvp_arg_float(&a, (float)(1.0 - lr * wd));
    hvp_arg_float(&a, c->beta1);
    hvp_arg_float(&a, c->beta2);
    hvp_arg_float(&a, (float)(lr / bc1));
    hvp_arg_float(&a, (float)sqrt(bc2));
    hvp_arg_float(&a, c->eps);
    return hvp_launch_1d(ctx, &a, n);
}

/* The segment tables, as every flat kernel takes them after its tensors. */
static void flat_tables(hvp_args *a, const hvp_segments *s)
{
    hvp_arg_tensor(a, &s->chunks.table);
    hvp_arg_tensor(a, &s->info);
}

static hvp_status sgd_or_lars_flat(hvp_ctx *ctx, hvp_optim *o)
{
    hvp_segments *s = o->seg;
    const hvp_optim_config *c = &o->cfg;
    int lars = c->kind == HVP_OPTIM_LARS, has_buf = c->momentum != 0;
    if (lars)
        HVP_TRY(hvp_segments_norms(ctx, s, 0, &s->norms));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, lars ? HVP_K_optim_lars_flat : HVP_K_optim_sgd_flat, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_tensor(&a, &s->values);
    hvp_arg_tensor(&a, &s->grads);
    hvp_arg_int(&a, has_buf);
    hvp_arg_tensor(&a, has_buf ? &o->state_region[0] : &s->grads); /* stand-in */
    flat_tables(&a, s);
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        hvp_arg_float(&a, o->groups[g].lr);
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        hvp_arg_float(&a, o->groups[g].weight_decay);
    hvp_arg_float(&a, c->momentum);
    if (lars) {
        hvp_arg_tensor(&a, &s->norms);
        hvp_arg_int(&a, s->n);
        hvp_arg_float(&a, c->lars_eta);
        hvp_arg_float(&a, c->lars_eps);
        hvp_arg_int(&a, c->lars_clip_lr);
    }
    return hvp_launch_chunks(ctx, &a, &s->chunks);
}

static hvp_status adamw_flat(hvp_ctx *ctx, hvp_optim *o)
{
    hvp_segments *s = o->seg;
    const hvp_optim_config *c = &o->cfg;
    double t = (double)o->step;
    double bc1 = 1.0 - pow((double)c->beta1, t), bc2 = 1.0 - pow((double)c->beta2, t);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_optim_adamw_flat, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_tensor(&a, &s->values);
    hvp_arg_tensor(&a, &s->grads);
    hvp_arg_tensor(&a, &o->state_region[0]);
    hvp_arg_tensor(&a, &o->state_region[1]);
    flat_tables(&a, s);
    /* as adamw() computes them per tensor */
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        hvp_arg_float(&a, (float)((double)o->groups[g].lr / bc1));
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        hvp_arg_float(&a, (float)(1.0 - (double)o->groups[g].lr *
                                             (double)o->groups[g].weight_decay));
    hvp_arg_float(&a, c->beta1);
    hvp_arg_float(&a, c->beta2);
    hvp_arg_float(&a, (float)sqrt(bc2));
    hvp_arg_float(&a, c->eps);
    return hvp_launch_chunks(ctx, &a, &s->chunks);
}

/* Per parameter element: weight decay, momentum and update (SGD 4), with the trust ratio's
 * norms (LARS 8), or both moments, their bias correction and the update (AdamW 12). */
static void count_flops(hvp_ctx *ctx, const hvp_optim *o)
{
    double per = o->cfg.kind == HVP_OPTIM_ADAMW ? 12 : o->cfg.kind == HVP_OPTIM_LARS ? 8 : 4;
    for (int i = 0; i < o->nparams; i++)
        hvp_flops_add(ctx, HVP_FLOPS_OTHER, per * (double)hvp_numel(&o->params[i].value));
}

hvp_status hvp_optim_step(hvp_ctx *ctx, hvp_optim *o)
{
    count_flops(ctx, o);
    if (o->seg) {
        HVP_TRY(hvp_segments_sync(ctx, o->seg));
        o->step++;
        return o->cfg.kind == HVP_OPTIM_ADAMW ? adamw_flat(ctx, o) : sgd_or_lars_flat(ctx, o);
    }
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx,
                           o->cfg.kind == HVP_OPTIM_ADAMW  ? HVP_K_optim_adamw
                           : o->cfg.kind == HVP_OPTIM_LARS ? HVP_K_optim_lars
                                                           : HVP_K_optim_sgd,
                           &k));
    o->step++;
    for (int i = 0; i < o->nparams; i++) {
        if (hvp_numel(&o->params[i].value) == 0)
            continue;
        if (o->cfg.kind == HVP_OPTIM_ADAMW)
            HVP_TRY(adamw(ctx, o, i, k));
        else
            HVP_TRY(sgd_or_lars(ctx, o, i, k));
    }
    return HVP_OK;
}
