/* SimSiam (Chen & He, "Exploring Simple Siamese Representation Learning", 2021), laid out
 * as the official code: encoder = ResNet (or ViT) whose fc is the 3-layer projector, predictor a
 * 2-layer MLP. Loss -1/2 (cos(p1, sg z2) + cos(p2, sg z1)), each term averaged over the
 * batch. Names match the official checkpoints ("encoder.conv1.weight", "encoder.fc.0.weight",
 * "predictor.3.bias"). */
#include <stdlib.h>
#include <string.h>

#include "hvp/ssl.h"
#include "nn/module_util.h"

typedef struct simsiam {
    hvp_simsiam_config cfg;
    hvp_backbone backbone;
    hvp_mlp projector, predictor;
    hvp_tensor z, pred; /* of the last forward: [2B, dim] */
} simsiam;

/* Rows [first, first + count) of a [n, d] tensor. */
static hvp_tensor rows(const hvp_tensor *t, int first, int count)
{
    int d = t->shape[1];
    return hvp_tensor_view(t, (size_t)first * (size_t)d, 2, (int[]){count, d});
}

static hvp_status forward(simsiam *s, const hvp_pass *p, const hvp_tensor *x)
{
    hvp_tensor f;
    HVP_TRY(hvp_backbone_forward(&s->backbone, p, x, &f));
    HVP_TRY(hvp_mlp_forward(&s->projector, p, &f, &s->z));
    return hvp_mlp_forward(&s->predictor, p, &s->z, &s->pred);
}

/* loss[b] = -1/2 (cos(p_i[b], z_j[b]) + cos(p_j[b], z_i[b])) for rows of views i and j. */
static hvp_status pair_loss(hvp_ctx *ctx, const hvp_tensor *pred, const hvp_tensor *z, int b,
                            int i, int j, const hvp_tensor *out)
{
    hvp_tensor s1, s2;
    HVP_TRY(hvp_act(ctx, "cosine", &s1, 1, &b));
    HVP_TRY(hvp_act(ctx, "cosine", &s2, 1, &b));
    hvp_tensor pi = rows(pred, i * b, b), pj = rows(pred, j * b, b), zi = rows(z, i * b, b),
               zj = rows(z, j * b, b);
    HVP_TRY(hvp_cosine_fwd(ctx, &pi, &zj, &s1, 1e-8f));
    HVP_TRY(hvp_cosine_fwd(ctx, &pj, &zi, &s2, 1e-8f));
    return hvp_axpby(ctx, -0.5f, &s1, -0.5f, &s2, out);
}

static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores)
{
    simsiam *s = m->impl;
    int b = views->shape[0] / nviews;
    hvp_pass p = {ctx, 1, 0, 1, 0};
    hvp_backbone_set_step(&s->backbone, step);
    HVP_TRY(forward(s, &p, views));
    for (int k = 0; k < npairs; k++) {
        hvp_tensor row = hvp_tensor_view(scores, (size_t)k * (size_t)b, 1, &b);
        HVP_TRY(pair_loss(ctx, &s->pred, &s->z, b, pairs[k][0], pairs[k][1], &row));
    }
    return HVP_OK;
}

static hvp_status train_step(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss)
{
    simsiam *s = m->impl;
    int b = x12->shape[0] / 2;
    hvp_pass p = {ctx, 1, 1, 2, 1};
    hvp_backbone_set_step(&s->backbone, in->step);
    HVP_TRY(forward(s, &p, x12));
    hvp_tensor per_sample;
    HVP_TRY(hvp_act(ctx, "simsiam loss", &per_sample, 1, &b));
    HVP_TRY(pair_loss(ctx, &s->pred, &s->z, b, 0, 1, &per_sample));
    HVP_TRY(hvp_mean(ctx, &per_sample, loss));

    /* d loss / d cos = -1/2 per term, over b samples; targets z are stop-gradient. */
    hvp_tensor ds, dpred;
    HVP_TRY(hvp_act(ctx, "simsiam dcos", &ds, 1, &b));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &ds, -0.5f / (float)b));
    HVP_TRY(hvp_act_like(ctx, "simsiam dpred", &s->pred, &dpred));
    hvp_tensor p1 = rows(&s->pred, 0, b), p2 = rows(&s->pred, b, b), z1 = rows(&s->z, 0, b),
               z2 = rows(&s->z, b, b), dp1 = rows(&dpred, 0, b), dp2 = rows(&dpred, b, b);
    HVP_TRY(hvp_cosine_bwd(ctx, &p1, &z2, &ds, &dp1, NULL, 1e-8f));
    HVP_TRY(hvp_cosine_bwd(ctx, &p2, &z1, &ds, &dp2, NULL, 1e-8f));
    hvp_tensor dz, df;
    HVP_TRY(hvp_mlp_backward(&s->predictor, ctx, &dpred, &dz));
    HVP_TRY(hvp_mlp_backward(&s->projector, ctx, &dz, &df));
    return hvp_backbone_backward(&s->backbone, ctx, &df);
}

static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    simsiam *s = m->impl;
    hvp_pass p = {ctx, 0, 0, 1, 0};
    return hvp_backbone_forward(&s->backbone, &p, x, f);
}

static void destroy(hvp_method *m)
{
    simsiam *s = m->impl;
    if (s)
        hvp_backbone_free(&s->backbone);
    free(s);
}

static const hvp_method_ops simsiam_ops = {.name = "simsiam",
                                           .title = "SimSiam",
                                           .score_pairs = score_pairs,
                                           .train_step = train_step,
                                           .features = features,
                                           .destroy = destroy};

hvp_status hvp_simsiam_create(hvp_ctx *ctx, const hvp_simsiam_config *cfg, hvp_method **out)
{
    *out = NULL;
    hvp_method *m = calloc(1, sizeof *m);
    simsiam *s = calloc(1, sizeof *s);
    if (!m || !s) {
        free(m);
        free(s);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    m->ops = &simsiam_ops;
    m->impl = s;
    s->cfg = *cfg;
    hvp_state_init(&m->state, cfg->seed);
    hvp_status st = hvp_backbone_init(&s->backbone, &m->state, ctx, "encoder", &cfg->backbone);
    int feat = hvp_backbone_feature_dim(&s->backbone);
    int hidden = cfg->proj_hidden_dim > 0 ? cfg->proj_hidden_dim : feat;
    /* Official: Linear(bias=False) BN ReLU, Linear(bias=False) BN ReLU, fc BN(affine=False);
     * fc keeps its bias tensor (frozen there; its gradient is zero behind the BN anyway). */
    hvp_mlp_layer_spec proj[3] = {{hidden, 0, 1, 1, 1}, {hidden, 0, 1, 1, 1},
                                  {cfg->proj_dim, 1, 1, 0, 0}};
    hvp_mlp_layer_spec pred[2] = {{cfg->pred_dim, 0, 1, 1, 1}, {cfg->proj_dim, 1, 0, 0, 0}};
    if (st == HVP_OK)
        st = hvp_mlp_init(&s->projector, &m->state, ctx, "encoder.fc", feat, 3, proj);
    if (st == HVP_OK)
        st = hvp_mlp_init(&s->predictor, &m->state, ctx, "predictor", cfg->proj_dim, 2, pred);
    if (st != HVP_OK) {
        hvp_method_destroy(m);
        return st;
    }
    m->feature_dim = feat;
    m->policy.decay_all = 1; /* the official code decays every parameter */
    m->policy.fixed_lr_prefix = "predictor."; /* its --fix-pred-lr */
    *out = m;
    return HVP_OK;
}

hvp_status hvp_simsiam_from_config(hvp_ctx *ctx, const hvp_config *c,
                                   const hvp_backbone_config *backbone, hvp_method **out)
{
    hvp_simsiam_config sc = {*backbone, c->method.proj_dim, c->method.proj_hidden_dim,
                             c->method.pred_dim, (uint64_t)c->run.seed};
    return hvp_simsiam_create(ctx, &sc, out);
}
