/* BatchNorm module (1-d and 2-d). With pass->groups = G the batch is G separate batches
 * of n/G samples each (two views in one batch behave as two forwards in PyTorch): each
 * group has its own statistics and updates the running statistics in turn. */
#include <string.h>

#include "hvp/nn.h"
#include "nn/module_util.h"

hvp_status hvp_bn_init(hvp_bn *m, hvp_state *s, hvp_ctx *ctx, const char *name, int c,
                       int affine, int relu)
{
    memset(m, 0, sizeof *m);
    m->c = c;
    m->affine = affine;
    m->relu = relu;
    m->eps = 1e-5f;
    m->momentum = 0.1f;
    m->state = s;
    char full[96];
    if (affine) {
        snprintf(full, sizeof full, "%s.weight", name);
        HVP_TRY(hvp_state_param(s, ctx, full, 1, &c, HVP_INIT_ONE, 0, 1, &m->w));
        snprintf(full, sizeof full, "%s.bias", name);
        HVP_TRY(hvp_state_param(s, ctx, full, 1, &c, HVP_INIT_ZERO, 0, 1, &m->b));
    }
    snprintf(full, sizeof full, "%s.running_mean", name);
    HVP_TRY(hvp_state_buffer(s, ctx, full, 1, &c, HVP_INIT_ZERO, &m->running_mean));
    snprintf(full, sizeof full, "%s.running_var", name);
    HVP_TRY(hvp_state_buffer(s, ctx, full, 1, &c, HVP_INIT_ONE, &m->running_var));
    snprintf(full, sizeof full, "%s.num_batches_tracked", name);
    return hvp_state_counter(s, full, &m->num_batches_tracked);
}

/* Rows [g*rows, (g+1)*rows) of a [n, ...] tensor. */
static hvp_tensor group_view(const hvp_tensor *t, int g, int groups)
{
    hvp_tensor v = *t;
    size_t per = hvp_numel(t) / (size_t)groups;
    v.off += per * (size_t)g;
    v.shape[0] = t->shape[0] / groups;
    return v;
}

static hvp_tensor row_of(const hvp_tensor *t, int g, int c)
{
    return hvp_tensor_view(t, (size_t)g * (size_t)c, 1, &c);
}

hvp_status hvp_bn_forward(hvp_bn *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y)
{
    int n = x->shape[0], groups = p->train && p->groups > 1 ? p->groups : 1;
    if ((x->ndim != 2 && x->ndim != 4) || x->shape[1] != m->c)
        return HVP_FAIL(HVP_ERR_ARG, "batch norm with %d channels: input must be [n, %d] or "
                        "[n, %d, h, w]", m->c, m->c, m->c);
    if (n % groups)
        return HVP_FAIL(HVP_ERR_ARG, "batch norm: %d samples do not split into %d groups", n,
                        groups);
    int hw = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    m->desc = (hvp_batchnorm_desc){n / groups, m->c, hw, m->eps, m->momentum, m->relu};
    m->groups = groups;
    m->x = *x;
    if (p->keep) /* the backward reads x */
        HVP_TRY(hvp_act_like(p->ctx, "batch norm output", x, y));
    else /* in place: a pass that writes over what it reads moves a third fewer bytes */
        *y = *x;
    const hvp_tensor *w = m->affine ? &m->w.value : NULL, *b = m->affine ? &m->b.value : NULL;
    if (!p->train)
        return hvp_batchnorm_fwd_eval(p->ctx, &m->desc, x, w, b, &m->running_mean,
                                      &m->running_var, y);
    HVP_TRY(hvp_act(p->ctx, "batch norm mean", &m->mean, 2, (int[]){groups, m->c}));
    HVP_TRY(hvp_act(p->ctx, "batch norm invstd", &m->invstd, 2, (int[]){groups, m->c}));
    for (int g = 0; g < groups; g++) {
        hvp_tensor xg = group_view(x, g, groups), yg = group_view(y, g, groups);
        hvp_tensor mean = row_of(&m->mean, g, m->c), invstd = row_of(&m->invstd, g, m->c);
        HVP_TRY(hvp_batchnorm_fwd_train(p->ctx, &m->desc, &xg, w, b,
                                        p->update_stats ? &m->running_mean : NULL,
                                        p->update_stats ? &m->running_var : NULL, &yg, &mean,
                                        &invstd));
        if (p->update_stats)
            m->state->buffers[m->num_batches_tracked].count++;
    }
    return HVP_OK;
}

hvp_status hvp_bn_backward(hvp_bn *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx)
{
    HVP_TRY(hvp_act_like(ctx, "batch norm input gradient", &m->x, dx));
    for (int g = 0; g < m->groups; g++) {
        hvp_tensor xg = group_view(&m->x, g, m->groups), dyg = group_view(dy, g, m->groups),
                   dxg = group_view(dx, g, m->groups);
        hvp_tensor mean = row_of(&m->mean, g, m->c), invstd = row_of(&m->invstd, g, m->c);
        HVP_TRY(hvp_batchnorm_bwd(ctx, &m->desc, &xg, m->affine ? &m->w.value : NULL,
                                  m->affine ? &m->b.value : NULL, &mean, &invstd, &dyg, &dxg,
                                  m->affine ? &m->w.grad : NULL, m->affine ? &m->b.grad : NULL));
    }
    return HVP_OK;
}
