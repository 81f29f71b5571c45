/* The plan of a model's tensors for flat storage (see hvp_state_plan in hvp/nn.h): the
 * first build records them, the second takes consecutive slices of three regions. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/nn.h"

typedef struct planned {
    char name[96];
    int is_param;
    size_t numel;
} planned;

struct hvp_state_plan {
    planned *tensors;
    int n, cap;
    int reserved; /* 0: recording (first build); 1: handing out (second build) */
    int next;     /* handing out: the next tensor */
    size_t values_total, buffers_total; /* element ends of the layout */
    size_t values_at, buffers_at;       /* handing out: where the next slice starts */
    hvp_tensor values, grads, buffers;
};

hvp_status hvp_state_plan_create(hvp_state_plan **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
}

void hvp_state_plan_free(hvp_state_plan *p)
{
    if (!p)
        return;
    free(p->tensors);
    free(p);
}

int hvp_state_plan_recording(const hvp_state_plan *p) { return !p->reserved; }

static hvp_status record(hvp_state_plan *p, int is_param, const char *name, size_t numel)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        planned *grown = realloc(p->tensors, (size_t)cap * sizeof *grown);
        if (!grown)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        p->tensors = grown;
        p->cap = cap;
    }
    planned *t = &p->tensors[p->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->is_param = is_param;
    t->numel = numel;
    size_t *end = is_param ? &p->values_total : &p->buffers_total;
    *end = hvp_packed_next(*end, numel);
    return HVP_OK;
}

static hvp_status region(hvp_ctx *ctx, const char *what, size_t total, hvp_tensor *out)
{
    if (total > (size_t)INT_MAX - 4096)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %zu elements in one region (at most 2^31 - 4097)",
                        what, total);
    int n = (int)total;
    HVP_TRY(hvp_alloc_f32(ctx->params, what, out, 1, &n));
    return hvp_tensor_zero(ctx, out); /* the gaps between tensors stay zero */
}

hvp_status hvp_state_plan_reserve(hvp_state_plan *p, hvp_ctx *ctx)
{
    if (p->reserved)
        return HVP_FAIL(HVP_ERR_ARG, "state plan: reserved twice");
    HVP_TRY(region(ctx, "parameter values", p->values_total, &p->values));
    HVP_TRY(region(ctx, "parameter gradients", p->values_total, &p->grads));
    HVP_TRY(region(ctx, "buffers", p->buffers_total, &p->buffers));
    p->reserved = 1;
    return HVP_OK;
}

static hvp_tensor slice(const hvp_tensor *r, size_t at, int ndim, const int *shape)
{
    return hvp_tensor_view(r, at, ndim, shape);
}

hvp_status hvp_state_plan_take(hvp_state_plan *p, int is_param, const char *name, int ndim,
                               const int *shape, hvp_tensor *value, hvp_tensor *grad,
                               hvp_state *regions, int *taken)
{
    size_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= (size_t)shape[i];
    *taken = 0;
    if (!p->reserved)
        return record(p, is_param, name, numel);
    const char *kind = is_param ? "parameter" : "buffer";
    if (p->next >= p->n)
        return HVP_FAIL(HVP_ERR_ARG, "state plan: the second build of the model made %s %s "
                        "(%zu elements) after the %d tensors of the first", kind, name, numel,
                        p->n);
    const planned *t = &p->tensors[p->next];
    if (t->is_param != is_param || t->numel != numel || strcmp(t->name, name) != 0)
        return HVP_FAIL(HVP_ERR_ARG, "state plan: the second build of the model made %s %s "
                        "(%zu elements) where the first made %s %s (%zu elements): a model "
                        "must build the same tensors every time", kind, name, numel,
                        t->is_param ? "parameter" : "buffer", t->name, t->numel);
    p->next++;
    if (is_param) {
        *value = slice(&p->values, p->values_at, ndim, shape);
        *grad = slice(&p->grads, p->values_at, ndim, shape);
        p->values_at = hvp_packed_next(p->values_at, numel);
    } else {
        *value = slice(&p->buffers, p->buffers_at, ndim, shape);
        p->buffers_at = hvp_packed_next(p->buffers_at, numel);
    }
    regions->values = p->values;
    regions->grads = p->grads;
    regions->buffer_values = p->buffers;
    *taken = 1;
    return HVP_OK;
}

hvp_status hvp_state_plan_check_done(const hvp_state_plan *p)
{
    if (!p->reserved || p->next != p->n)
        return HVP_FAIL(HVP_ERR_ARG, "state plan: the second build of the model made %d of "
                        "the %d tensors of the first (the next one: %s)", p->next, p->n,
                        p->next < p->n ? p->tensors[p->next].name : "none");
    return HVP_OK;
}
