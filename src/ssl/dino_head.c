/* DINO's head and centering, shared by DINO and iBOT (see dino_head.h). On several
 * data-parallel ranks the center moves towards the mean over every rank's batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/dist.h"
#include "nn/module_util.h"
#include "ssl/dino_head.h"

#define NORM_EPS 1e-12f /* F.normalize */

static hvp_status head_linear(hvp_linear *l, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                              int idx, int in, int out)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->out = out;
    char n[128];
    snprintf(n, sizeof n, "%s.head.mlp.%d.weight", prefix, idx);
    HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){out, in}, HVP_INIT_TRUNC_NORMAL_02, in, 0,
                            &l->w));
    snprintf(n, sizeof n, "%s.head.mlp.%d.bias", prefix, idx);
    return hvp_state_param(s, ctx, n, 1, &out, HVP_INIT_ZERO, 0, 1, &l->b);
}

hvp_status dino_net_init(dino_net *net, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                         const dino_head_config *hc, const hvp_backbone_config *bc)
{
    char n[128];
    snprintf(n, sizeof n, "%s.backbone", prefix);
    HVP_TRY(hvp_backbone_init(&net->backbone, s, ctx, n, bc));
    int feat = hvp_backbone_feature_dim(&net->backbone);
    int hid = hc->hidden_dim, bott = hc->bottleneck_dim;
    HVP_TRY(head_linear(&net->mlp[0], s, ctx, prefix, 0, feat, hid));
    HVP_TRY(head_linear(&net->mlp[1], s, ctx, prefix, 2, hid, hid));
    HVP_TRY(head_linear(&net->mlp[2], s, ctx, prefix, 4, hid, bott));
    /* weight_norm(nn.Linear(bottleneck, out_dim, bias=False)), created after the head's
     * init, so v keeps nn.Linear's default init; g filled with 1. Official order in the
     * state dict: weight_g, weight_v. */
    memset(&net->g, 0, sizeof net->g);
    snprintf(n, sizeof n, "%s.head.last_layer.weight_g", prefix);
    net->g_trained = !hc->norm_last_layer;
    if (net->g_trained) {
        HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){hc->out_dim, 1}, HVP_INIT_ONE, 0, 0,
                                &net->g));
    } else {
        memcpy(net->g.name, n, sizeof net->g.name - 1); /* names are checked below 96 */
        HVP_TRY(hvp_state_buffer(s, ctx, n, 2, (int[]){hc->out_dim, 1}, HVP_INIT_ONE,
                                 &net->g.value));
    }
    snprintf(n, sizeof n, "%s.head.last_layer.weight_v", prefix);
    HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){hc->out_dim, bott}, HVP_INIT_LINEAR_DEFAULT,
                            bott, 0, &net->v));
    net->has_last2 = hc->patch_out_dim > 0;
    if (!net->has_last2)
        return HVP_OK;
    /* iBOTHead(shared_head=False): the same weight_norm(Linear) for the patch tokens */
    memset(&net->g2, 0, sizeof net->g2);
    snprintf(n, sizeof n, "%s.head.last_layer2.weight_g", prefix);
    if (net->g_trained) {
        HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){hc->patch_out_dim, 1}, HVP_INIT_ONE, 0, 0,
                                &net->g2));
    } else {
        memcpy(net->g2.name, n, sizeof net->g2.name - 1);
        HVP_TRY(hvp_state_buffer(s, ctx, n, 2, (int[]){hc->patch_out_dim, 1}, HVP_INIT_ONE,
                                 &net->g2.value));
    }
    snprintf(n, sizeof n, "%s.head.last_layer2.weight_v", prefix);
    return hvp_state_param(s, ctx, n, 2, (int[]){hc->patch_out_dim, bott},
                           HVP_INIT_LINEAR_DEFAULT, bott, 0, &net->v2);
}

hvp_status dino_head_bottleneck_forward(dino_net *net, const hvp_pass *p, const hvp_tensor *f)
{
    hvp_ctx *ctx = p->ctx;
    hvp_tensor x = *f, a;
    for (int i = 0; i < 2; i++) {
        HVP_TRY(hvp_linear_forward(&net->mlp[i], p, &x, &net->h[i]));
        HVP_TRY(hvp_act_like(ctx, "dino gelu", &net->h[i], &a));
        HVP_TRY(hvp_gelu_fwd(ctx, &net->h[i], &a));
        x = a;
    }
    HVP_TRY(hvp_linear_forward(&net->mlp[2], p, &x, &net->z));
    HVP_TRY(hvp_act_like(ctx, "dino normalised bottleneck", &net->z, &net->zn));
    return hvp_l2norm_fwd(ctx, &net->z, &net->zn, NORM_EPS);
}

hvp_status dino_head_last_forward(dino_net *net, hvp_ctx *ctx, int which, const hvp_tensor *zn,
                                  const hvp_tensor *out)
{
    hvp_param *v = which ? &net->v2 : &net->v, *g = which ? &net->g2 : &net->g;
    hvp_tensor *w = which ? &net->w2 : &net->w;
    if (which && !net->has_last2)
        return HVP_FAIL(HVP_ERR_ARG, "DINO head: no last_layer2 (a shared head)");
    HVP_TRY(hvp_act_like(ctx, "dino last layer weight", &v->value, w));
    HVP_TRY(hvp_weight_norm_fwd(ctx, &v->value, &g->value, w));
    return hvp_linear_fwd(ctx, zn, w, NULL, out);
}

hvp_status dino_head_forward(dino_net *net, const hvp_pass *p, const hvp_tensor *f,
                             const hvp_tensor *out)
{
    HVP_TRY(dino_head_bottleneck_forward(net, p, f));
    return dino_head_last_forward(net, p->ctx, 0, &net->zn, out);
}

hvp_status dino_head_last_backward(dino_net *net, hvp_ctx *ctx, int which, const hvp_tensor *zn,
                                   const hvp_tensor *dout, const hvp_tensor *dzn)
{
    hvp_param *v = which ? &net->v2 : &net->v, *g = which ? &net->g2 : &net->g;
    const hvp_tensor *w = which ? &net->w2 : &net->w;
    hvp_tensor dw;
    HVP_TRY(hvp_act_like(ctx, "dino dw", w, &dw));
    HVP_TRY(hvp_tensor_zero(ctx, &dw));
    HVP_TRY(hvp_linear_bwd(ctx, zn, w, dout, dzn, &dw, NULL));
    return hvp_weight_norm_bwd(ctx, &v->value, &g->value, &dw, &v->grad,
                               net->g_trained ? &g->grad : NULL);
}

hvp_status dino_head_bottleneck_backward(dino_net *net, hvp_ctx *ctx, const hvp_tensor *dzn,
                                         hvp_tensor *df)
{
    hvp_tensor dz, dh;
    HVP_TRY(hvp_act_like(ctx, "dino dz", &net->z, &dz));
    HVP_TRY(hvp_l2norm_bwd(ctx, &net->z, dzn, &dz, NORM_EPS));
    HVP_TRY(hvp_linear_backward(&net->mlp[2], ctx, &dz, df));
    for (int i = 1; i >= 0; i--) {
        HVP_TRY(hvp_act_like(ctx, "dino dgelu", &net->h[i], &dh));
        HVP_TRY(hvp_gelu_bwd(ctx, &net->h[i], df, &dh));
        HVP_TRY(hvp_linear_backward(&net->mlp[i], ctx, &dh, df));
    }
    return HVP_OK;
}

hvp_status dino_head_backward(dino_net *net, hvp_ctx *ctx, const hvp_tensor *dout,
                              hvp_tensor *df)
{
    hvp_tensor dzn;
    HVP_TRY(hvp_act_like(ctx, "dino dzn", &net->zn, &dzn));
    HVP_TRY(dino_head_last_backward(net, ctx, 0, &net->zn, dout, &dzn));
    return dino_head_bottleneck_backward(net, ctx, &dzn, df);
}

/* A [n, 1] column of ones. */
static hvp_status ones(hvp_ctx *ctx, int n, hvp_tensor *out)
{
    HVP_TRY(hvp_act(ctx, "dino ones", out, 2, (int[]){n, 1}));
    return hvp_tensor_fill_f32(ctx, out, 1.0f);
}

hvp_status dino_teacher_probs(hvp_ctx *ctx, const hvp_tensor *t, const hvp_tensor *center,
                              float temp, hvp_tensor *probs)
{
    int n = t->shape[0], k = (int)(hvp_numel(t) / (size_t)n);
    hvp_tensor one;
    HVP_TRY(ones(ctx, n, &one));
    HVP_TRY(hvp_act_like(ctx, "dino teacher probabilities", t, probs));
    HVP_TRY(hvp_tensor_copy(ctx, probs, t));
    HVP_TRY(hvp_gemm(ctx, 0, 0, n, k, 1, -1.0f, hvp_mat_of(&one, 1), hvp_mat_of(center, k),
                     1.0f, hvp_mat_of(probs, k)));
    return hvp_softmax_fwd(ctx, probs, 1.0f / temp, probs);
}

/* t <- the mean of every rank's t (the official code's all_reduce of the batch center),
 * through host memory, in rank order: bitwise the same on every rank. */
static hvp_status mean_over_ranks(hvp_ctx *ctx, const hvp_tensor *t)
{
    size_t n = hvp_numel(t);
    float *host = malloc(n * sizeof *host);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for the center (%zu floats)", n);
    hvp_status st = hvp_tensor_download(ctx, t, host);
    if (st == HVP_OK)
        st = hvp_dist_allreduce_mean_f32(host, n);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, t, host);
    free(host);
    return st;
}

hvp_status dino_update_center(hvp_ctx *ctx, const hvp_tensor *t, const hvp_tensor *w,
                              const hvp_tensor *center, float momentum)
{
    int n = t->shape[0], k = (int)(hvp_numel(t) / (size_t)n);
    hvp_tensor one, mean;
    float alpha = 1.0f;
    if (!w) {
        HVP_TRY(ones(ctx, n, &one));
        w = &one;
        alpha = 1.0f / (float)n;
    }
    HVP_TRY(hvp_act(ctx, "dino batch center", &mean, 2, (int[]){1, k}));
    HVP_TRY(hvp_gemm(ctx, 1, 0, 1, k, n, alpha, hvp_mat_of(w, 1), hvp_mat_of(t, k), 0.0f,
                     hvp_mat_of(&mean, k)));
    if (hvp_dist_world() > 1) /* the global batch's mean: ranks hold equal shares */
        HVP_TRY(mean_over_ranks(ctx, &mean));
    hvp_tensor c = hvp_tensor_view(center, 0, 2, (int[]){1, k});
    return hvp_axpby(ctx, momentum, &c, (float)(1.0 - (double)momentum), &mean, &c);
}

float dino_temp_at(float warm, float final, int warm_epochs, long steps_per_epoch, long step)
{
    long epoch = steps_per_epoch > 0 ? step / steps_per_epoch : 0;
    if (epoch >= warm_epochs)
        return final;
    if (warm_epochs == 1)
        return warm; /* np.linspace(a, b, 1) = [a] */
    return (float)(warm + (final - (double)warm) * (double)epoch / (double)(warm_epochs - 1));
}

hvp_status dino_teacher_features(dino_net *teacher, hvp_ctx *ctx, const hvp_tensor *x,
                                 hvp_tensor *f)
{
    hvp_pass p = {ctx, 0, 0, 1, 0};
    return hvp_backbone_forward(&teacher->backbone, &p, x, f);
}

void dino_nets_free(dino_net *student, dino_net *teacher, ema_teacher *ema)
{
    hvp_backbone_free(&student->backbone);
    hvp_backbone_free(&teacher->backbone);
    ema_teacher_free(ema);
}
