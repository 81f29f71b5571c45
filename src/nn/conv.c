/* Conv2d module: torchvision's conv layers (bias optional, Kaiming normal fan-out init). */
#include <string.h>

#include "hvp/nn.h"
#include "nn/module_util.h"

hvp_status hvp_conv_init(hvp_conv *m, hvp_state *s, hvp_ctx *ctx, const char *name, int c_in,
                         int c_out, int k, int stride, int pad, int bias)
{
    memset(m, 0, sizeof *m);
    m->c_in = c_in;
    m->c_out = c_out;
    m->k = k;
    m->stride = stride;
    m->pad = pad;
    char full[96];
    snprintf(full, sizeof full, "%s.weight", name);
    HVP_TRY(hvp_state_param(s, ctx, full, 4, (int[]){c_out, c_in, k, k}, HVP_INIT_KAIMING_FAN_OUT,
                            c_out * k * k, 0, &m->w));
    if (bias) {
        snprintf(full, sizeof full, "%s.bias", name);
        HVP_TRY(hvp_state_param(s, ctx, full, 1, &c_out, HVP_INIT_ZERO, 0, 1, &m->b));
    }
    return HVP_OK;
}

hvp_status hvp_conv_forward(hvp_conv *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y)
{
    if (x->ndim != 4 || x->shape[1] != m->c_in)
        return HVP_FAIL(HVP_ERR_ARG, "conv %s: input must be [n, %d, h, w]", m->w.name, m->c_in);
    hvp_conv2d_desc d = {x->shape[0], m->c_in, x->shape[2], x->shape[3], m->c_out,
                         m->k,        m->k,    m->stride,   m->pad};
    m->desc = d;
    m->x = *x;
    HVP_TRY(hvp_act(p->ctx, m->w.name, y, 4,
                    (int[]){d.n, d.c_out, hvp_conv2d_out_h(&d), hvp_conv2d_out_w(&d)}));
    return hvp_conv2d_fwd(p->ctx, &d, x, &m->w.value, m->b.value.buf ? &m->b.value : NULL, y);
}

hvp_status hvp_conv_backward(hvp_conv *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx)
{
    if (dx)
        HVP_TRY(hvp_act_like(ctx, "conv input gradient", &m->x, dx));
    return hvp_conv2d_bwd(ctx, &m->desc, &m->x, &m->w.value, dy, dx, &m->w.grad,
                          m->b.value.buf ? &m->b.grad : NULL);
}
