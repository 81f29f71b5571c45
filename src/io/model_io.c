/* Model and optimizer state <-> safetensors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/model_io.h"

static hvp_status add_tensor(hvp_ctx *ctx, hvp_st_writer *w, const char *name,
                             const hvp_tensor *t)
{
    float *host = malloc(hvp_nbytes(t) ? hvp_nbytes(t) : 1);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory saving %s", name);
    hvp_status st = hvp_tensor_download(ctx, t, host);
    if (st == HVP_OK)
        st = hvp_st_add_f32(w, name, t->ndim, t->shape, host);
    free(host);
    return st;
}

/* A NaN or Inf in a model or optimizer state would only show up steps later as a NaN loss
 * (or not at all in an evaluation); refuse it where it comes in. */
static hvp_status check_finite(const hvp_st_file *f, const char *name, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return HVP_FAIL(HVP_ERR_NUMERIC, "%s: tensor '%s' holds %s at element %zu of %zu: "
                            "the file is damaged or was written after training diverged; use "
                            "an earlier checkpoint", hvp_st_name(f), name,
                            isnan(x[i]) ? "NaN" : x[i] > 0 ? "+Inf" : "-Inf", i, n);
    return HVP_OK;
}

static hvp_status get_tensor(hvp_ctx *ctx, const hvp_st_file *f, const char *name,
                             const hvp_tensor *t)
{
    float *host = malloc(hvp_nbytes(t) ? hvp_nbytes(t) : 1);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory loading %s", name);
    hvp_status st = hvp_st_get_f32(f, name, t->ndim, t->shape, host);
    if (st == HVP_OK)
        st = check_finite(f, name, host, hvp_numel(t));
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, t, host);
    free(host);
    return st;
}

hvp_status hvp_state_write(hvp_ctx *ctx, const hvp_state *s, hvp_st_writer *w)
{
    for (int i = 0; i < s->nparams; i++)
        HVP_TRY(add_tensor(ctx, w, s->params[i].name, &s->params[i].value));
    for (int i = 0; i < s->nbuffers; i++) {
        const hvp_buffer *b = &s->buffers[i];
        if (b->is_count) {
            int64_t v = b->count;
            HVP_TRY(hvp_st_add(w, b->name, HVP_ST_I64, 0, NULL, &v));
        } else {
            HVP_TRY(add_tensor(ctx, w, b->name, &b->value));
        }
    }
    return HVP_OK;
}

static int known(const hvp_state *s, const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return 0;
    name += n;
    for (int i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].name, name) == 0)
            return 1;
    for (int i = 0; i < s->nbuffers; i++)
        if (strcmp(s->buffers[i].name, name) == 0)
            return 1;
    return 0;
}

hvp_status hvp_state_read(hvp_ctx *ctx, hvp_state *s, const hvp_st_file *f, const char *prefix,
                          int strict)
{
    if (!prefix)
        prefix = "";
    if (strict)
        for (int i = 0; i < hvp_st_count(f); i++)
            if (!known(s, hvp_st_at(f, i)->name, prefix))
                return HVP_FAIL(HVP_ERR_FORMAT, "tensor %s in the checkpoint belongs to no "
                                "parameter or buffer of this model", hvp_st_at(f, i)->name);
    char name[256];
    for (int i = 0; i < s->nparams; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, s->params[i].name);
        HVP_TRY(get_tensor(ctx, f, name, &s->params[i].value));
    }
    for (int i = 0; i < s->nbuffers; i++) {
        hvp_buffer *b = &s->buffers[i];
        snprintf(name, sizeof name, "%s%s", prefix, b->name);
        if (b->is_count) {
            int64_t v;
            HVP_TRY(hvp_st_get(f, name, HVP_ST_I64, 0, NULL, &v));
            b->count = v;
        } else {
            HVP_TRY(get_tensor(ctx, f, name, &b->value));
        }
    }
    return HVP_OK;
}

hvp_status hvp_optim_write(hvp_ctx *ctx, const hvp_optim *o, hvp_st_writer *w)
{
    for (int i = 0; i < o->nstate; i++)
        HVP_TRY(add_tensor(ctx, w, o->state[i].name, &o->state[i].value));
    int64_t step = o->step;
    return hvp_st_add(w, "optimizer.step", HVP_ST_I64, 0, NULL, &step);
}

hvp_status hvp_optim_read(hvp_ctx *ctx, hvp_optim *o, const hvp_st_file *f)
{
    for (int i = 0; i < o->nstate; i++)
        HVP_TRY(get_tensor(ctx, f, o->state[i].name, &o->state[i].value));
    int64_t step;
    HVP_TRY(hvp_st_get(f, "optimizer.step", HVP_ST_I64, 0, NULL, &step));
    if (step < 0) /* AdamW's bias correction 1 - beta^step would be negative */
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: optimizer.step is %lld, expected a count >= 0",
                        hvp_st_name(f), (long long)step);
    o->step = (long)step;
    return HVP_OK;
}
