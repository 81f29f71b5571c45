/* DINO (Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", 2021),
 * laid out as the official code (facebookresearch/dino): student and teacher are each a
 * backbone with a DINOHead; the teacher is an EMA of the student with a cosine momentum
 * schedule, its outputs centred (center EMA of the batch means) and sharpened by a low
 * temperature. Two global views; DINOLoss averages the cross-entropies of the teacher's
 * view iq against the student's other view over the terms and the batch.
 *
 * The teacher lives in the method's state as buffers ("teacher.*", moved out of the
 * parameters), so checkpoints carry it and no optimizer sees it. Batch-norm statistics of
 * both networks run over the two global views together (MultiCropWrapper's one forward
 * per resolution); the teacher runs in train mode, as the official code, keeping nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/ssl.h"
#include "nn/module_util.h"
#include "ssl/dino_head.h"

typedef struct dino {
    hvp_dino_config cfg;
    dino_net student, teacher;
    hvp_tensor center; /* [1, out_dim] */
    ema_teacher ema; /* teacher.* <- student.* */
    long steps_per_epoch, total_steps;
} dino;

/* ---- the network ------------------------------------------------------------------- */

/* x [n, ...] -> out [n, out_dim] (allocated first). A pass that keeps nothing gives every
 * intermediate back to ctx->acts. */
static hvp_status net_forward(dino_net *net, const hvp_pass *p, const hvp_tensor *x,
                              int out_dim, hvp_tensor *out)
{
    hvp_ctx *ctx = p->ctx;
    int n = x->shape[0];
    HVP_TRY(hvp_act(ctx, "dino head output", out, 2, (int[]){n, out_dim}));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor f;
    HVP_TRY(hvp_backbone_forward(&net->backbone, p, x, &f));
    HVP_TRY(dino_head_forward(net, p, &f, out));
    if (!p->keep)
        hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

/* Parameter gradients from dout (of the last forward, which kept its activations). */
static hvp_status net_backward(dino_net *net, hvp_ctx *ctx, const hvp_tensor *dout)
{
    hvp_tensor df;
    HVP_TRY(dino_head_backward(net, ctx, dout, &df));
    return hvp_backbone_backward(&net->backbone, ctx, &df);
}

/* ---- schedules --------------------------------------------------------------------- */

float hvp_dino_teacher_temp(const hvp_method *m, long step)
{
    const dino *d = m->impl;
    const hvp_dino_config *c = &d->cfg;
    return dino_temp_at(c->warmup_teacher_temp, c->teacher_temp, c->warmup_teacher_temp_epochs,
                        d->steps_per_epoch, step);
}

float hvp_dino_teacher_momentum(const hvp_method *m, long step)
{
    const dino *d = m->impl;
    return ema_momentum_at(d->cfg.teacher_momentum, 1.0f, d->total_steps, step);
}

void hvp_dino_set_schedule(hvp_method *m, long steps_per_epoch, long total_steps)
{
    dino *d = m->impl;
    d->steps_per_epoch = steps_per_epoch;
    d->total_steps = total_steps;
}

/* ---- the loss ---------------------------------------------------------------------- */

/* Rows [first, first + count) of a [n, d] tensor. */
static hvp_tensor rows(const hvp_tensor *t, int first, int count)
{
    int d = t->shape[1];
    return hvp_tensor_view(t, (size_t)first * (size_t)d, 2, (int[]){count, d});
}

/* probs = softmax((t - center) / temp) per row. */
static hvp_status teacher_probs(dino *d, hvp_ctx *ctx, const hvp_tensor *t, float temp,
                                hvp_tensor *probs)
{
    return dino_teacher_probs(ctx, t, &d->center, temp, probs);
}

/* center = m center + (1 - m) mean over the rows of t (a GEMM with ones: fixed order). */
static hvp_status update_center(dino *d, hvp_ctx *ctx, const hvp_tensor *t)
{
    return dino_update_center(ctx, t, NULL, &d->center, d->cfg.center_momentum);
}

/* ---- the method interface ---------------------------------------------------------- */

/* The selection pass: student and teacher on every global candidate (one forward each,
 * batch norm over all of them, as MultiCropWrapper), the student on the local candidates
 * in a second forward (their resolution); nothing kept. A pair's score is its two-view
 * loss 1/2 (H(P_i, s_j) + H(P_j, s_i)); a local view's score against pair q = (i, j) is
 * 1/2 (H(P_i, s_l) + H(P_j, s_l)) = H((P_i + P_j) / 2, s_l), so that the multi-crop DINO
 * loss of the pair with locals S, summed over its 2 + 2|S| terms as the reference's
 * select_forward, is (2 + 2|S|) times (pair + sum of locals) / (1 + |S|). */
static hvp_status score_views(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], const hvp_step_input *in,
                              const hvp_tensor *scores, const hvp_tensor *local_scores)
{
    dino *d = m->impl;
    int b = views->shape[0] / nviews, k = d->cfg.out_dim, nlocal = in->nlocal;
    float st = d->cfg.student_temp;
    hvp_pass p = {ctx, 1, 0, 1, 0};
    hvp_backbone_set_step(&d->student.backbone, in->step);
    hvp_tensor s, t, probs, l1, l2, sl, both;
    HVP_TRY(net_forward(&d->student, &p, views, k, &s));
    HVP_TRY(net_forward(&d->teacher, &p, views, k, &t));
    HVP_TRY(teacher_probs(d, ctx, &t, hvp_dino_teacher_temp(m, (long)in->step), &probs));
    HVP_TRY(hvp_act(ctx, "dino pair loss", &l1, 1, &b));
    HVP_TRY(hvp_act(ctx, "dino pair loss", &l2, 1, &b));
    if (nlocal > 0) {
        HVP_TRY(net_forward(&d->student, &p, in->local, k, &sl));
        HVP_TRY(hvp_act(ctx, "dino pair targets", &both, 2, (int[]){b, k}));
    }
    for (int q = 0; q < npairs; q++) {
        int i = pairs[q][0], j = pairs[q][1];
        hvp_tensor si = rows(&s, i * b, b), sj = rows(&s, j * b, b);
        hvp_tensor pi = rows(&probs, i * b, b), pj = rows(&probs, j * b, b);
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &sj, NULL, &pi, st, &l1, NULL));
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &si, NULL, &pj, st, &l2, NULL));
        hvp_tensor row = hvp_tensor_view(scores, (size_t)q * (size_t)b, 1, &b);
        HVP_TRY(hvp_axpby(ctx, 0.5f, &l1, 0.5f, &l2, &row));
        if (nlocal <= 0)
            continue;
        HVP_TRY(hvp_axpby(ctx, 0.5f, &pi, 0.5f, &pj, &both));
        for (int l = 0; l < nlocal; l++) {
            hvp_tensor s_l = rows(&sl, l * b, b);
            hvp_tensor out = hvp_tensor_view(local_scores, ((size_t)q * nlocal + l) * (size_t)b,
                                             1, &b);
            HVP_TRY(hvp_cross_entropy_fwd(ctx, &s_l, NULL, &both, st, &out, NULL));
        }
    }
    return HVP_OK;
}

static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores)
{
    return score_views(m, ctx, views, nviews, npairs, pairs, &(hvp_step_input){.step = step},
                       scores, NULL);
}

/* Student forward, CE and backward on one group of views (one resolution) with its
 * targets; the CE's mean over the group's rows is scaled by `weight` into the loss (added
 * to loss when add). Rows are independent given the targets, so the globals and the
 * locals are trained one after the other through the same modules. */
static hvp_status student_group(hvp_method *m, hvp_ctx *ctx, uint32_t step, const hvp_tensor *x,
                                const hvp_tensor *targets, float weight, const hvp_tensor *loss,
                                int add)
{
    dino *d = m->impl;
    float st = d->cfg.student_temp;
    hvp_pass sp = {ctx, 1, 1, 1, 1};
    hvp_tensor s, mean;
    hvp_backbone_set_step(&d->student.backbone, step);
    HVP_TRY(net_forward(&d->student, &sp, x, d->cfg.out_dim, &s));
    HVP_TRY(hvp_act(ctx, "dino group loss", &mean, 1, (int[]){1}));
    HVP_TRY(hvp_cross_entropy_fwd(ctx, &s, NULL, targets, st, NULL, &mean));
    if (add)
        HVP_TRY(hvp_axpby(ctx, 1.0f, loss, weight, &mean, loss));
    else /* loss may hold anything yet: not even 0 * loss */
        HVP_TRY(hvp_axpby(ctx, weight, &mean, 0.0f, &mean, loss));
    HVP_TRY(hvp_cross_entropy_bwd(ctx, &s, NULL, targets, st, weight, &s));
    return net_backward(&d->student, ctx, &s);
}

static hvp_status train_step(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss)
{
    dino *d = m->impl;
    int n = x12->shape[0], b = n / 2, k = d->cfg.out_dim, nl = in->nlocal;
    /* teacher: train-mode batch norm (its running statistics move), nothing kept */
    hvp_pass tp = {ctx, 1, 0, 1, 1};
    hvp_tensor t, probs, targets;
    HVP_TRY(net_forward(&d->teacher, &tp, x12, k, &t));
    HVP_TRY(teacher_probs(d, ctx, &t, hvp_dino_teacher_temp(m, (long)in->step), &probs));
    HVP_TRY(update_center(d, ctx, &t)); /* after its use, as DINOLoss.forward */
    /* student row r of view v learns from the teacher's other view: targets [P1; P0] */
    HVP_TRY(hvp_act_like(ctx, "dino targets", &probs, &targets));
    hvp_tensor t0 = rows(&targets, 0, b), t1 = rows(&targets, b, b);
    hvp_tensor p0 = rows(&probs, 0, b), p1 = rows(&probs, b, b);
    HVP_TRY(hvp_tensor_copy(ctx, &t0, &p1));
    HVP_TRY(hvp_tensor_copy(ctx, &t1, &p0));
    /* DINOLoss: the sum of the 2 (nl + 1) terms' batch means over their number. A global
     * row has one term, a local row two (against P0 and P1: the cross-entropy is linear in
     * its target, so one term against P0 + P1); each group's CE mean is over its rows. */
    float terms = 2.0f * (float)(nl + 1);
    HVP_TRY(student_group(m, ctx, in->step, x12, &targets, 2.0f / terms, loss, 0));
    if (nl <= 0)
        return HVP_OK;
    if (!in->local || in->local->ndim < 1 || in->local->shape[0] != nl * b)
        return HVP_FAIL(HVP_ERR_ARG, "DINO: %d local views of %d images need %d rows", nl, b,
                        nl * b);
    hvp_tensor both, local_targets;
    HVP_TRY(hvp_act(ctx, "dino P0 + P1", &both, 2, (int[]){b, k}));
    HVP_TRY(hvp_axpby(ctx, 1.0f, &p0, 1.0f, &p1, &both));
    HVP_TRY(hvp_act(ctx, "dino local targets", &local_targets, 2, (int[]){nl * b, k}));
    for (int v = 0; v < nl; v++) {
        hvp_tensor dst = rows(&local_targets, v * b, b);
        HVP_TRY(hvp_tensor_copy(ctx, &dst, &both));
    }
    return student_group(m, ctx, in->step, in->local, &local_targets, (float)nl / terms, loss,
                         1);
}

static hvp_status after_step(hvp_method *m, hvp_ctx *ctx, long step)
{
    dino *d = m->impl;
    return ema_teacher_update(&d->ema, ctx, hvp_dino_teacher_momentum(m, step));
}

/* The teacher's backbone, as the official kNN and linear evaluations use by default. */
static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    dino *d = m->impl;
    return dino_teacher_features(&d->teacher, ctx, x, f);
}

static void destroy(hvp_method *m)
{
    dino *d = m->impl;
    if (d) {
        dino_nets_free(&d->student, &d->teacher, &d->ema);
    }
    free(d);
}

static const hvp_method_ops dino_ops = {.name = "dino",
                                        .title = "DINO",
                                        .score_pairs = score_pairs,
                                        .score_pairs_locals = score_views,
                                        .train_step = train_step,
                                        .after_step = after_step,
                                        .set_schedule = hvp_dino_set_schedule,
                                        .features = features,
                                        .destroy = destroy};

hvp_status hvp_dino_create(hvp_ctx *ctx, const hvp_dino_config *cfg, hvp_method **out)
{
    *out = NULL;
    if (!(cfg->teacher_temp > 0 && cfg->warmup_teacher_temp > 0 && cfg->student_temp > 0))
        return HVP_FAIL(HVP_ERR_ARG, "DINO: temperatures must be positive");
    if (cfg->out_dim < 1 || cfg->hidden_dim < 1 || cfg->bottleneck_dim < 1)
        return HVP_FAIL(HVP_ERR_ARG, "DINO: out_dim, hidden and bottleneck dims must be >= 1");
    hvp_method *m = calloc(1, sizeof *m);
    dino *d = calloc(1, sizeof *d);
    if (!m || !d) {
        free(m);
        free(d);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    m->ops = &dino_ops;
    m->impl = d;
    d->cfg = *cfg;
    hvp_state_init(&m->state, cfg->seed);
    hvp_backbone_config tbc = cfg->backbone;
    hvp_backbone_config_set_drop_path(&tbc, 0); /* the official teacher has none */
    dino_head_config hc = {cfg->out_dim, cfg->hidden_dim, cfg->bottleneck_dim,
                           cfg->norm_last_layer, 0};
    hvp_status st = dino_net_init(&d->student, &m->state, ctx, "student", &hc, &cfg->backbone);
    int nstudent = m->state.nparams;
    if (st == HVP_OK)
        st = dino_net_init(&d->teacher, &m->state, ctx, "teacher", &hc, &tbc);
    if (st == HVP_OK)
        st = hvp_state_params_to_buffers(&m->state, nstudent);
    if (st == HVP_OK)
        st = hvp_state_buffer(&m->state, ctx, "dino_loss.center", 2, (int[]){1, cfg->out_dim},
                              HVP_INIT_ZERO, &d->center);
    if (st == HVP_OK)
        st = ema_teacher_link(&d->ema, &m->state, ctx, "student.", "teacher.", 0);
    if (st != HVP_OK) {
        hvp_method_destroy(m);
        return st;
    }
    m->feature_dim = hvp_backbone_feature_dim(&d->student.backbone);
    m->policy = dino_policy;
    m->policy.takes_local = 1;
    *out = m;
    return HVP_OK;
}

hvp_status hvp_dino_from_config(hvp_ctx *ctx, const hvp_config *c,
                                const hvp_backbone_config *backbone, hvp_method **out)
{
    hvp_dino_config dc;
    memset(&dc, 0, sizeof dc);
    dc.backbone = *backbone;
    dc.out_dim = c->method.out_dim;
    dc.hidden_dim = c->method.proj_hidden_dim;
    dc.bottleneck_dim = c->method.bottleneck_dim;
    dc.norm_last_layer = c->method.norm_last_layer;
    dc.teacher_temp = (float)c->method.teacher_temp;
    dc.warmup_teacher_temp = (float)c->method.warmup_teacher_temp;
    dc.warmup_teacher_temp_epochs = c->method.warmup_teacher_temp_epochs;
    dc.student_temp = (float)c->method.student_temp;
    dc.teacher_momentum = (float)c->method.teacher_momentum;
    dc.center_momentum = (float)c->method.center_momentum;
    dc.seed = (uint64_t)c->run.seed;
    return hvp_dino_create(ctx, &dc, out);
}
