/* A model's parameters and buffers, allocated in ctx->params and initialised on the host
 * from the counter-based RNG, so the same seed gives the same model on every device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/nn.h"
#include "hvp/rng.h"

void hvp_state_init(hvp_state *s, uint64_t init_seed)
{
    memset(s, 0, sizeof *s);
    s->init_seed = init_seed;
}

void hvp_state_free(hvp_state *s)
{
    free(s->params);
    free(s->buffers);
    memset(s, 0, sizeof *s);
}

/* Standard normal from two uniforms (Box-Muller); u1 in (0, 1]. */
static double normal(hvp_rng_stream *r)
{
    double u1 = 1.0 - hvp_rng_uniform(r, 0.0, 1.0), u2 = hvp_rng_uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static hvp_status init_values(hvp_ctx *ctx, const hvp_tensor *t, hvp_init init, int fan,
                              uint64_t seed, uint32_t index)
{
    size_t n = hvp_numel(t);
    /* A plan's first build is thrown away: its values need not be drawn. */
    if (init == HVP_INIT_ZERO || (ctx->state_plan && hvp_state_plan_recording(ctx->state_plan)))
        return hvp_tensor_zero(ctx, t);
    if (init == HVP_INIT_ONE)
        return hvp_tensor_fill_f32(ctx, t, 1.0f);
    float *host = malloc((n ? n : 1) * sizeof *host);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory initialising a parameter");
    hvp_rng_stream r = hvp_rng_stream_init(seed, index, 0x1417u, 0);
    double std = fan > 0 ? sqrt(2.0 / fan) : 0, bound = fan > 0 ? 1.0 / sqrt((double)fan) : 0;
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        switch (init) {
        case HVP_INIT_KAIMING_FAN_OUT:
            v = std * normal(&r);
            break;
        case HVP_INIT_LINEAR_DEFAULT:
            v = hvp_rng_uniform(&r, -bound, bound);
            break;
        case HVP_INIT_TRUNC_NORMAL_02:
            do
                v = normal(&r);
            while (fabs(v) > 2.0);
            v *= 0.02;
            break;
        default:
            break;
        }
        host[i] = (float)v;
    }
    hvp_status st = hvp_tensor_upload(ctx, t, host);
    free(host);
    return st;
}

hvp_status hvp_state_param(hvp_state *s, hvp_ctx *ctx, const char *name, int ndim,
                           const int *shape, hvp_init init, int fan, int no_decay,
                           hvp_param *out)
{
    if (s->nparams == s->cap_params) {
        int cap = s->cap_params ? 2 * s->cap_params : 64;
        hvp_param *grown = realloc(s->params, (size_t)cap * sizeof *grown);
        if (!grown)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        s->params = grown;
        s->cap_params = cap;
    }
    hvp_param p;
    memset(&p, 0, sizeof p);
    if (snprintf(p.name, sizeof p.name, "%s", name) >= (int)sizeof p.name)
        return HVP_FAIL(HVP_ERR_ARG, "parameter name too long: %s", name);
    p.no_decay = no_decay;
    int taken = 0;
    if (ctx->state_plan)
        HVP_TRY(hvp_state_plan_take(ctx->state_plan, 1, name, ndim, shape, &p.value, &p.grad, s,
                                    &taken));
    if (!taken) {
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_F32, ndim, shape, name, &p.value));
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_F32, ndim, shape, name, &p.grad));
        HVP_TRY(hvp_tensor_zero(ctx, &p.grad));
    } /* else the regions came zeroed */
    HVP_TRY(init_values(ctx, &p.value, init, fan, s->init_seed, (uint32_t)s->nparams));
    s->params[s->nparams++] = p;
    *out = p;
    return HVP_OK;
}

static hvp_status add_buffer(hvp_state *s, const hvp_buffer *b)
{
    if (s->nbuffers == s->cap_buffers) {
        int cap = s->cap_buffers ? 2 * s->cap_buffers : 64;
        hvp_buffer *grown = realloc(s->buffers, (size_t)cap * sizeof *grown);
        if (!grown)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        s->buffers = grown;
        s->cap_buffers = cap;
    }
    s->buffers[s->nbuffers++] = *b;
    return HVP_OK;
}

hvp_status hvp_state_buffer(hvp_state *s, hvp_ctx *ctx, const char *name, int ndim,
                            const int *shape, hvp_init init, hvp_tensor *out)
{
    hvp_buffer b;
    memset(&b, 0, sizeof b);
    if (snprintf(b.name, sizeof b.name, "%s", name) >= (int)sizeof b.name)
        return HVP_FAIL(HVP_ERR_ARG, "buffer name too long: %s", name);
    int taken = 0;
    if (ctx->state_plan)
        HVP_TRY(hvp_state_plan_take(ctx->state_plan, 0, name, ndim, shape, &b.value, NULL, s,
                                    &taken));
    if (!taken)
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_F32, ndim, shape, name, &b.value));
    HVP_TRY(init_values(ctx, &b.value, init, 0, s->init_seed, 0));
    HVP_TRY(add_buffer(s, &b));
    *out = b.value;
    return HVP_OK;
}

hvp_status hvp_state_params_to_buffers(hvp_state *s, int first)
{
    if (first < 0 || first > s->nparams)
        return HVP_FAIL(HVP_ERR_ARG, "state: no parameter %d to move", first);
    for (int i = first; i < s->nparams; i++) {
        hvp_buffer b;
        memset(&b, 0, sizeof b);
        snprintf(b.name, sizeof b.name, "%s", s->params[i].name);
        b.value = s->params[i].value;
        HVP_TRY(add_buffer(s, &b));
    }
    s->nparams = first;
    return HVP_OK;
}

hvp_status hvp_state_counter(hvp_state *s, const char *name, int *index)
{
    hvp_buffer b;
    memset(&b, 0, sizeof b);
    if (snprintf(b.name, sizeof b.name, "%s", name) >= (int)sizeof b.name)
        return HVP_FAIL(HVP_ERR_ARG, "buffer name too long: %s", name);
    b.is_count = 1;
    HVP_TRY(add_buffer(s, &b));
    *index = s->nbuffers - 1;
    return HVP_OK;
}

hvp_param *hvp_state_find_param(hvp_state *s, const char *name)
{
    for (int i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].name, name) == 0)
            return &s->params[i];
    return NULL;
}

hvp_buffer *hvp_state_find_buffer(hvp_state *s, const char *name)
{
    for (int i = 0; i < s->nbuffers; i++)
        if (strcmp(s->buffers[i].name, name) == 0)
            return &s->buffers[i];
    return NULL;
}

size_t hvp_state_numel(const hvp_state *s)
{
    size_t n = 0;
    for (int i = 0; i < s->nparams; i++)
        n += hvp_numel(&s->params[i].value);
    return n;
}

hvp_status hvp_state_param_region(const hvp_state *s, hvp_tensor *values, hvp_tensor *grads)
{
    if (!s->values.buf)
        return HVP_FAIL(HVP_ERR_ARG, "state: its tensors were allocated one by one (built "
                        "without a plan, see hvp_state_plan): it has no regions");
    hvp_tensor v = s->values, g = s->grads;
    v.shape[0] = g.shape[0] = 0;
    if (s->nparams > 0 && !hvp_params_packed(s->params, s->nparams, &v, &g))
        return HVP_FAIL(HVP_ERR_ARG, "state: its parameters (from %s) are not packed in its "
                        "regions", s->params[0].name);
    if (v.buf != s->values.buf || v.off != s->values.off || g.buf != s->grads.buf ||
        g.off != s->grads.off)
        return HVP_FAIL(HVP_ERR_ARG, "state: its first parameter %s does not start its region",
                        s->params[0].name);
    *values = v;
    *grads = g;
    return HVP_OK;
}

hvp_status hvp_state_buffer_region(const hvp_state *s, hvp_tensor *buffers)
{
    if (!s->values.buf)
        return HVP_FAIL(HVP_ERR_ARG, "state: its tensors were allocated one by one (built "
                        "without a plan, see hvp_state_plan): it has no regions");
    *buffers = s->buffer_values;
    return HVP_OK;
}
