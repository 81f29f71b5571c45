/* MLP heads (SimSiam's projector and predictor, SimCLR's projector, DINO's head MLP):
 * per layer Linear, then optionally BatchNorm and ReLU, named like torch.nn.Sequential. */
#include <string.h>

#include "hvp/nn.h"
#include "nn/module_util.h"

hvp_status hvp_mlp_init(hvp_mlp *m, hvp_state *s, hvp_ctx *ctx, const char *name, int in,
                        int nlayers, const hvp_mlp_layer_spec *spec)
{
    memset(m, 0, sizeof *m);
    if (nlayers < 1 || nlayers > HVP_MLP_MAX_LAYERS)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d layers (1 to %d)", name, nlayers, HVP_MLP_MAX_LAYERS);
    m->nlayers = nlayers;
    m->in = in;
    int index = 0, width = in;
    for (int i = 0; i < nlayers; i++) {
        m->spec[i] = spec[i];
        char full[96];
        snprintf(full, sizeof full, "%s.%d", name, index++);
        HVP_TRY(hvp_linear_init(&m->fc[i], s, ctx, full, width, spec[i].out, spec[i].bias));
        if (spec[i].bn) {
            snprintf(full, sizeof full, "%s.%d", name, index++);
            HVP_TRY(hvp_bn_init(&m->bn[i], s, ctx, full, spec[i].out, spec[i].bn_affine,
                                spec[i].relu));
        }
        if (spec[i].relu)
            index++; /* nn.ReLU has no parameters but takes a Sequential index */
        width = spec[i].out;
    }
    return HVP_OK;
}

hvp_status hvp_mlp_forward(hvp_mlp *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y)
{
    hvp_tensor h = *x;
    for (int i = 0; i < m->nlayers; i++) {
        hvp_tensor t;
        HVP_TRY(hvp_linear_forward(&m->fc[i], p, &h, &t));
        if (m->spec[i].bn) {
            hvp_tensor u;
            HVP_TRY(hvp_bn_forward(&m->bn[i], p, &t, &u));
            t = u;
        }
        if (m->spec[i].relu && !m->spec[i].bn) { /* else fused into the batch norm */
            HVP_TRY(hvp_relu_fwd(p->ctx, &t, &t));
            m->act[i] = t;
        }
        h = t;
    }
    *y = h;
    return HVP_OK;
}

hvp_status hvp_mlp_backward(hvp_mlp *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx)
{
    hvp_tensor g = *dy;
    for (int i = m->nlayers - 1; i >= 0; i--) {
        if (m->spec[i].relu && !m->spec[i].bn) {
            hvp_tensor r;
            HVP_TRY(hvp_act_like(ctx, "relu gradient", &g, &r));
            HVP_TRY(hvp_relu_bwd(ctx, &m->act[i], &g, &r));
            g = r;
        }
        if (m->spec[i].bn) {
            hvp_tensor b;
            HVP_TRY(hvp_bn_backward(&m->bn[i], ctx, &g, &b));
            g = b;
        }
        hvp_tensor d;
        HVP_TRY(hvp_linear_backward(&m->fc[i], ctx, &g, i > 0 || dx ? &d : NULL));
        g = d;
    }
    if (dx)
        *dx = g;
    return HVP_OK;
}
