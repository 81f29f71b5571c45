/* Linear module: PyTorch's nn.Linear (weight [out, in], default uniform init). */
#include <string.h>

#include "hvp/nn.h"
#include "nn/module_util.h"

hvp_status hvp_linear_init(hvp_linear *m, hvp_state *s, hvp_ctx *ctx, const char *name, int in,
                           int out, int bias)
{
    memset(m, 0, sizeof *m);
    m->in = in;
    m->out = out;
    char full[96];
    snprintf(full, sizeof full, "%s.weight", name);
    HVP_TRY(hvp_state_param(s, ctx, full, 2, (int[]){out, in}, HVP_INIT_LINEAR_DEFAULT, in, 0,
                            &m->w));
    if (bias) {
        snprintf(full, sizeof full, "%s.bias", name);
        HVP_TRY(hvp_state_param(s, ctx, full, 1, &out, HVP_INIT_LINEAR_DEFAULT, in, 1, &m->b));
    }
    return HVP_OK;
}

hvp_status hvp_linear_forward(hvp_linear *m, const hvp_pass *p, const hvp_tensor *x,
                              hvp_tensor *y)
{
    if (x->ndim < 1 || x->shape[x->ndim - 1] != m->in)
        return HVP_FAIL(HVP_ERR_ARG, "linear %s: input's last dimension must be %d", m->w.name,
                        m->in);
    m->x = *x;
    hvp_tensor shape = *x;
    shape.shape[x->ndim - 1] = m->out;
    HVP_TRY(hvp_act_like(p->ctx, m->w.name, &shape, y));
    return hvp_linear_fwd(p->ctx, x, &m->w.value, m->b.value.buf ? &m->b.value : NULL, y);
}

hvp_status hvp_linear_backward(hvp_linear *m, hvp_ctx *ctx, const hvp_tensor *dy,
                               hvp_tensor *dx)
{
    if (dx)
        HVP_TRY(hvp_act_like(ctx, "linear input gradient", &m->x, dx));
    return hvp_linear_bwd(ctx, &m->x, &m->w.value, dy, dx, &m->w.grad,
                          m->b.value.buf ? &m->b.grad : NULL);
}
