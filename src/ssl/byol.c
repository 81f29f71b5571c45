/* BYOL (Grill et al., "Bootstrap Your Own Latent", 2020), laid out as solo-learn
 * (solo/methods/byol.py, solo/methods/base.py BaseMomentumMethod, solo/losses/byol.py):
 * online network = backbone, projector Linear-BN-ReLU-Linear, predictor
 * Linear-BN-ReLU-Linear; momentum network = a backbone and projector of the same shapes, an
 * EMA of the online ones (solo/utils/momentum.py: parameters only, tau by cosine from
 * base_tau to final_tau over the run's steps). Loss, views 1 and 2:
 * byol(p1, zm2) + byol(p2, zm1) with byol(p, z) = 2 - 2 cos(p, sg z) averaged over the
 * batch. Names as solo-learn's state dict: "backbone.conv1.weight", "projector.0.weight",
 * "predictor.3.bias", "momentum_backbone.*", "momentum_projector.*"; the momentum ones are
 * buffers of the method's state (checkpointed, never optimised). */
#include <stdlib.h>
#include <string.h>

#include "hvp/ssl.h"
#include "nn/module_util.h"
#include "ssl/teacher.h"

#define COS_EPS 1e-8f /* F.cosine_similarity's default, as byol_loss_func calls it */

typedef struct byol_config {
    hvp_backbone_config backbone;
    int proj_hidden_dim, proj_dim, pred_hidden_dim; /* 4096, 256, 4096 (solo-learn CIFAR) */
    float base_tau, final_tau;                      /* 0.99, 1.0 */
    uint64_t seed;
} byol_config;

typedef struct byol {
    byol_config cfg;
    hvp_backbone backbone, momentum_backbone;
    hvp_mlp projector, predictor, momentum_projector;
    ema_teacher ema; /* momentum_backbone.* <- backbone.*, momentum_projector.* <- projector.* */
    long total_steps;
    hvp_tensor z, p; /* online projection and prediction of the last forward: [n, proj_dim] */
} byol;

/* Rows [first, first + count) of a [n, d] tensor. */
static hvp_tensor rows(const hvp_tensor *t, int first, int count)
{
    int d = t->shape[1];
    return hvp_tensor_view(t, (size_t)first * (size_t)d, 2, (int[]){count, d});
}

static hvp_status online_forward(byol *b, const hvp_pass *p, const hvp_tensor *x)
{
    hvp_tensor f;
    HVP_TRY(hvp_backbone_forward(&b->backbone, p, x, &f));
    HVP_TRY(hvp_mlp_forward(&b->projector, p, &f, &b->z));
    return hvp_mlp_forward(&b->predictor, p, &b->z, &b->p);
}

/* The momentum network's projection of x into zm (allocated first), without gradients
 * (solo-learn's momentum_forward is torch.no_grad): every intermediate goes back to
 * ctx->acts. */
static hvp_status momentum_forward(byol *b, const hvp_pass *p, const hvp_tensor *x,
                                   hvp_tensor *zm)
{
    hvp_ctx *ctx = p->ctx;
    HVP_TRY(hvp_act(ctx, "byol momentum projection", zm, 2,
                    (int[]){x->shape[0], b->cfg.proj_dim}));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor f, z;
    HVP_TRY(hvp_backbone_forward(&b->momentum_backbone, p, x, &f));
    HVP_TRY(hvp_mlp_forward(&b->momentum_projector, p, &f, &z));
    HVP_TRY(hvp_tensor_copy(ctx, zm, &z));
    hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

/* loss[s] = byol(p_i, zm_j) + byol(p_j, zm_i) per sample s, rows of views i and j of b
 * samples each: 4 - 2 cos(p_i[s], zm_j[s]) - 2 cos(p_j[s], zm_i[s]). */
static hvp_status pair_loss(hvp_ctx *ctx, const hvp_tensor *p, const hvp_tensor *zm, int b,
                            int i, int j, const hvp_tensor *out)
{
    hvp_tensor c1, c2, four;
    HVP_TRY(hvp_act(ctx, "byol cosine", &c1, 1, &b));
    HVP_TRY(hvp_act(ctx, "byol cosine", &c2, 1, &b));
    HVP_TRY(hvp_act(ctx, "byol 4", &four, 1, &b));
    hvp_tensor pi = rows(p, i * b, b), pj = rows(p, j * b, b), zi = rows(zm, i * b, b),
               zj = rows(zm, j * b, b);
    HVP_TRY(hvp_cosine_fwd(ctx, &pi, &zj, &c1, COS_EPS));
    HVP_TRY(hvp_cosine_fwd(ctx, &pj, &zi, &c2, COS_EPS));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &four, 4.0f));
    HVP_TRY(hvp_axpby(ctx, -2.0f, &c1, -2.0f, &c2, out));
    return hvp_axpby(ctx, 1.0f, out, 1.0f, &four, out);
}

static void set_step(byol *b, uint32_t step)
{
    hvp_backbone_set_step(&b->backbone, step);
    hvp_backbone_set_step(&b->momentum_backbone, step);
}

/* Both networks on all the views in train mode, keeping nothing and moving no running
 * statistics; a pair's score is its BYOL loss per sample (as train_step's, symmetric). */
static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores)
{
    byol *b = m->impl;
    int n = views->shape[0] / nviews;
    hvp_pass p = {ctx, 1, 0, 1, 0};
    set_step(b, step);
    hvp_tensor zm;
    HVP_TRY(momentum_forward(b, &p, views, &zm));
    HVP_TRY(online_forward(b, &p, views));
    for (int k = 0; k < npairs; k++) {
        hvp_tensor row = hvp_tensor_view(scores, (size_t)k * (size_t)n, 1, &n);
        HVP_TRY(pair_loss(ctx, &b->p, &zm, n, pairs[k][0], pairs[k][1], &row));
    }
    return HVP_OK;
}

static hvp_status train_step(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss)
{
    byol *b = m->impl;
    int n = x12->shape[0] / 2;
    set_step(b, in->step);
    /* solo-learn forwards each view on its own (BaseMethod.training_step, one call per
     * crop): batch-norm statistics per view (groups 2) in both networks; the momentum
     * network in train mode (Lightning trains the whole module), its running statistics
     * moving, nothing kept. */
    hvp_pass mp = {ctx, 1, 0, 2, 1};
    hvp_tensor zm;
    HVP_TRY(momentum_forward(b, &mp, x12, &zm));
    hvp_pass op = {ctx, 1, 1, 2, 1};
    HVP_TRY(online_forward(b, &op, x12));
    hvp_tensor per_sample;
    HVP_TRY(hvp_act(ctx, "byol loss", &per_sample, 1, &n));
    HVP_TRY(pair_loss(ctx, &b->p, &zm, n, 0, 1, &per_sample));
    HVP_TRY(hvp_mean(ctx, &per_sample, loss));

    /* d loss / d cos = -2 per term over n samples; the targets zm are stop-gradient. */
    hvp_tensor dc, dp;
    HVP_TRY(hvp_act(ctx, "byol dcos", &dc, 1, &n));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &dc, -2.0f / (float)n));
    HVP_TRY(hvp_act_like(ctx, "byol dp", &b->p, &dp));
    hvp_tensor p1 = rows(&b->p, 0, n), p2 = rows(&b->p, n, n), zm1 = rows(&zm, 0, n),
               zm2 = rows(&zm, n, n), dp1 = rows(&dp, 0, n), dp2 = rows(&dp, n, n);
    HVP_TRY(hvp_cosine_bwd(ctx, &p1, &zm2, &dc, &dp1, NULL, COS_EPS));
    HVP_TRY(hvp_cosine_bwd(ctx, &p2, &zm1, &dc, &dp2, NULL, COS_EPS));
    hvp_tensor dz, df;
    HVP_TRY(hvp_mlp_backward(&b->predictor, ctx, &dp, &dz));
    HVP_TRY(hvp_mlp_backward(&b->projector, ctx, &dz, &df));
    return hvp_backbone_backward(&b->backbone, ctx, &df);
}

/* solo-learn's BaseMomentumMethod.on_train_batch_end: after step k (0-based) the EMA uses
 * the tau that update_tau computed for cur_step k, base_tau at the first step. */
static float tau_at(const byol *b, long step)
{
    return ema_momentum_at(b->cfg.base_tau, b->cfg.final_tau, b->total_steps, step);
}

static hvp_status after_step(hvp_method *m, hvp_ctx *ctx, long step)
{
    byol *b = m->impl;
    return ema_teacher_update(&b->ema, ctx, tau_at(b, step));
}

/* max_steps of update_tau: trainer.estimated_stepping_batches, the run's steps. */
static void set_schedule(hvp_method *m, long steps_per_epoch, long total_steps)
{
    (void)steps_per_epoch;
    byol *b = m->impl;
    b->total_steps = total_steps;
}

/* The online backbone, which solo-learn's kNN and linear evaluations use. */
static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    byol *b = m->impl;
    hvp_pass p = {ctx, 0, 0, 1, 0};
    return hvp_backbone_forward(&b->backbone, &p, x, f);
}

static void destroy(hvp_method *m)
{
    byol *b = m->impl;
    if (b) {
        hvp_backbone_free(&b->backbone);
        hvp_backbone_free(&b->momentum_backbone);
        ema_teacher_free(&b->ema);
    }
    free(b);
}

static const hvp_method_ops byol_ops = {.name = "byol",
                                        .title = "BYOL",
                                        .score_pairs = score_pairs,
                                        .train_step = train_step,
                                        .after_step = after_step,
                                        .set_schedule = set_schedule,
                                        .features = features,
                                        .destroy = destroy};

/* Backbone and projector under prefix ("" or "momentum_"); the projector is
 * Linear(feat, hidden) BatchNorm1d ReLU Linear(hidden, proj_dim), biases everywhere. */
static hvp_status init_encoder(hvp_state *s, hvp_ctx *ctx, const byol_config *c,
                               const char *prefix, hvp_backbone *backbone, hvp_mlp *projector)
{
    char name[64];
    snprintf(name, sizeof name, "%sbackbone", prefix);
    HVP_TRY(hvp_backbone_init(backbone, s, ctx, name, &c->backbone));
    hvp_mlp_layer_spec proj[2] = {{c->proj_hidden_dim, 1, 1, 1, 1}, {c->proj_dim, 1, 0, 0, 0}};
    snprintf(name, sizeof name, "%sprojector", prefix);
    return hvp_mlp_init(projector, s, ctx, name, hvp_backbone_feature_dim(backbone), 2, proj);
}

static hvp_status byol_create(hvp_ctx *ctx, const byol_config *cfg, hvp_method **out)
{
    *out = NULL;
    if (!(cfg->base_tau >= 0 && cfg->base_tau <= cfg->final_tau && cfg->final_tau <= 1))
        return HVP_FAIL(HVP_ERR_ARG,
                        "BYOL: method.teacher_momentum (base_tau) = %g and method.final_tau = "
                        "%g must satisfy 0 <= base <= final <= 1 (as solo-learn's "
                        "MomentumUpdater)",
                        (double)cfg->base_tau, (double)cfg->final_tau);
    hvp_method *m = calloc(1, sizeof *m);
    byol *b = calloc(1, sizeof *b);
    if (!m || !b) {
        free(m);
        free(b);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    m->ops = &byol_ops;
    m->impl = b;
    b->cfg = *cfg;
    hvp_state_init(&m->state, cfg->seed);
    hvp_status st = init_encoder(&m->state, ctx, cfg, "", &b->backbone, &b->projector);
    /* predictor: Linear(proj_dim, pred_hidden) BatchNorm1d ReLU Linear(pred_hidden, proj_dim) */
    hvp_mlp_layer_spec pred[2] = {{cfg->pred_hidden_dim, 1, 1, 1, 1}, {cfg->proj_dim, 1, 0, 0, 0}};
    if (st == HVP_OK)
        st = hvp_mlp_init(&b->predictor, &m->state, ctx, "predictor", cfg->proj_dim, 2, pred);
    int nonline = m->state.nparams;
    if (st == HVP_OK)
        st = init_encoder(&m->state, ctx, cfg, "momentum_", &b->momentum_backbone,
                          &b->momentum_projector);
    if (st == HVP_OK)
        st = hvp_state_params_to_buffers(&m->state, nonline);
    /* initialize_momentum_params: the momentum network starts as a copy */
    if (st == HVP_OK)
        st = ema_teacher_link(&b->ema, &m->state, ctx, "backbone.", "momentum_backbone.", 0);
    if (st == HVP_OK)
        st = ema_teacher_link(&b->ema, &m->state, ctx, "projector.", "momentum_projector.", 0);
    if (st != HVP_OK) {
        hvp_method_destroy(m);
        return st;
    }
    /* A ViT's drop-path masks are drawn from the backbone's seed: the momentum backbone
     * (built with the same drop_path as the online one, as solo-learn) draws its own. */
    hvp_backbone_invert_seed(&b->momentum_backbone);
    m->feature_dim = hvp_backbone_feature_dim(&b->backbone);
    /* solo-learn gives every parameter the weight decay; LARS's exclude_bias_n_norm
     * (optim.lars_exclude_bias_bn) is what spares biases and norm parameters. */
    m->policy.decay_all = 1;
    *out = m;
    return HVP_OK;
}

hvp_status hvp_byol_from_config(hvp_ctx *ctx, const hvp_config *c,
                                const hvp_backbone_config *backbone, hvp_method **out)
{
    *out = NULL;
    byol_config bc = {*backbone,
                      c->method.proj_hidden_dim,
                      c->method.proj_dim,
                      c->method.pred_hidden_dim,
                      (float)c->method.teacher_momentum,
                      (float)c->method.final_tau,
                      (uint64_t)c->run.seed};
    return byol_create(ctx, &bc, out);
}
