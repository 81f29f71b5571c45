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

#define NORM_EPS 1e-12f /* F.normalize */

typedef struct dino_net {
    hvp_backbone backbone;
    hvp_linear mlp[3];
    hvp_param v, g;  /* last_layer.weight_v [out, bottleneck], weight_g [out, 1] */
    int g_trained;   /* norm_last_layer false: g is a parameter */
    /* saved by a forward that keeps activations */
    hvp_tensor h[2]; /* pre-GELU outputs of mlp.0 and mlp.2 */
    hvp_tensor z, zn, w;
} dino_net;

typedef struct dino {
    hvp_dino_config cfg;
    dino_net student, teacher;
    hvp_tensor center; /* [1, out_dim] */
    hvp_tensor *ema_teacher, *ema_student; /* pairs for the EMA */
    int nema;
    long steps_per_epoch, total_steps;
} dino;

/* ---- the network ------------------------------------------------------------------- */

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

static hvp_status net_init(dino_net *net, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                           const hvp_dino_config *cfg, const hvp_backbone_config *bc)
{
    char n[128];
    snprintf(n, sizeof n, "%s.backbone", prefix);
    HVP_TRY(hvp_backbone_init(&net->backbone, s, ctx, n, bc));
    int feat = net->backbone.feature_dim, hid = cfg->hidden_dim, bott = cfg->bottleneck_dim;
    HVP_TRY(head_linear(&net->mlp[0], s, ctx, prefix, 0, feat, hid));
    HVP_TRY(head_linear(&net->mlp[1], s, ctx, prefix, 2, hid, hid));
    HVP_TRY(head_linear(&net->mlp[2], s, ctx, prefix, 4, hid, bott));
    /* weight_norm(nn.Linear(bottleneck, out_dim, bias=False)), created after the head's
     * init, so v keeps nn.Linear's default init; g filled with 1. Official order in the
     * state dict: weight_g, weight_v. */
    memset(&net->g, 0, sizeof net->g);
    snprintf(n, sizeof n, "%s.head.last_layer.weight_g", prefix);
    net->g_trained = !cfg->norm_last_layer;
    if (net->g_trained) {
        HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){cfg->out_dim, 1}, HVP_INIT_ONE, 0, 0,
                                &net->g));
    } else {
        memcpy(net->g.name, n, sizeof net->g.name - 1); /* names are checked below 96 */
        HVP_TRY(hvp_state_buffer(s, ctx, n, 2, (int[]){cfg->out_dim, 1}, HVP_INIT_ONE,
                                 &net->g.value));
    }
    snprintf(n, sizeof n, "%s.head.last_layer.weight_v", prefix);
    return hvp_state_param(s, ctx, n, 2, (int[]){cfg->out_dim, bott}, HVP_INIT_LINEAR_DEFAULT,
                           bott, 0, &net->v);
}

/* x [n, ...] -> out [n, out_dim] (allocated first). A pass that keeps nothing gives every
 * intermediate back to ctx->acts. */
static hvp_status net_forward(dino_net *net, const hvp_pass *p, const hvp_tensor *x,
                              int out_dim, hvp_tensor *out)
{
    hvp_ctx *ctx = p->ctx;
    int n = x->shape[0];
    HVP_TRY(hvp_act(ctx, "dino head output", out, 2, (int[]){n, out_dim}));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor f, a;
    HVP_TRY(hvp_backbone_forward(&net->backbone, p, x, &f));
    for (int i = 0; i < 2; i++) {
        HVP_TRY(hvp_linear_forward(&net->mlp[i], p, &f, &net->h[i]));
        HVP_TRY(hvp_act_like(ctx, "dino gelu", &net->h[i], &a));
        HVP_TRY(hvp_gelu_fwd(ctx, &net->h[i], &a));
        f = a;
    }
    HVP_TRY(hvp_linear_forward(&net->mlp[2], p, &f, &net->z));
    HVP_TRY(hvp_act_like(ctx, "dino normalised bottleneck", &net->z, &net->zn));
    HVP_TRY(hvp_l2norm_fwd(ctx, &net->z, &net->zn, NORM_EPS));
    HVP_TRY(hvp_act_like(ctx, "dino last layer weight", &net->v.value, &net->w));
    HVP_TRY(hvp_weight_norm_fwd(ctx, &net->v.value, &net->g.value, &net->w));
    HVP_TRY(hvp_linear_fwd(ctx, &net->zn, &net->w, NULL, out));
    if (!p->keep)
        hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

/* Parameter gradients from dout (of the last forward, which kept its activations). */
static hvp_status net_backward(dino_net *net, hvp_ctx *ctx, const hvp_tensor *dout)
{
    hvp_tensor dw, dzn, dz, da, dh;
    HVP_TRY(hvp_act_like(ctx, "dino dw", &net->w, &dw));
    HVP_TRY(hvp_tensor_zero(ctx, &dw));
    HVP_TRY(hvp_act_like(ctx, "dino dzn", &net->zn, &dzn));
    HVP_TRY(hvp_linear_bwd(ctx, &net->zn, &net->w, dout, &dzn, &dw, NULL));
    HVP_TRY(hvp_weight_norm_bwd(ctx, &net->v.value, &net->g.value, &dw, &net->v.grad,
                                net->g_trained ? &net->g.grad : NULL));
    HVP_TRY(hvp_act_like(ctx, "dino dz", &net->z, &dz));
    HVP_TRY(hvp_l2norm_bwd(ctx, &net->z, &dzn, &dz, NORM_EPS));
    HVP_TRY(hvp_linear_backward(&net->mlp[2], ctx, &dz, &da));
    for (int i = 1; i >= 0; i--) {
        HVP_TRY(hvp_act_like(ctx, "dino dgelu", &net->h[i], &dh));
        HVP_TRY(hvp_gelu_bwd(ctx, &net->h[i], &da, &dh));
        HVP_TRY(hvp_linear_backward(&net->mlp[i], ctx, &dh, &da));
    }
    return hvp_backbone_backward(&net->backbone, ctx, &da);
}

/* ---- schedules --------------------------------------------------------------------- */

float hvp_dino_teacher_temp(const hvp_method *m, long step)
{
    const dino *d = m->impl;
    const hvp_dino_config *c = &d->cfg;
    long epoch = d->steps_per_epoch > 0 ? step / d->steps_per_epoch : 0;
    int w = c->warmup_teacher_temp_epochs;
    if (epoch >= w)
        return c->teacher_temp;
    if (w == 1)
        return c->warmup_teacher_temp; /* np.linspace(a, b, 1) = [a] */
    return (float)(c->warmup_teacher_temp + (c->teacher_temp - (double)c->warmup_teacher_temp) *
                                                (double)epoch / (double)(w - 1));
}

float hvp_dino_teacher_momentum(const hvp_method *m, long step)
{
    const dino *d = m->impl;
    double m0 = d->cfg.teacher_momentum;
    if (d->total_steps <= 0)
        return (float)m0;
    /* utils.cosine_scheduler(m0, 1, epochs, niter): 1 + (m0 - 1) (1 + cos(pi it / total)) / 2 */
    return (float)(1.0 + 0.5 * (m0 - 1.0) *
                             (1.0 + cos(M_PI * (double)step / (double)d->total_steps)));
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

/* A [n, 1] column of ones. */
static hvp_status ones(hvp_ctx *ctx, int n, hvp_tensor *out)
{
    HVP_TRY(hvp_act(ctx, "dino ones", out, 2, (int[]){n, 1}));
    return hvp_tensor_fill_f32(ctx, out, 1.0f);
}

/* probs = softmax((t - center) / temp) per row. */
static hvp_status teacher_probs(dino *d, hvp_ctx *ctx, const hvp_tensor *t, float temp,
                                hvp_tensor *probs)
{
    int n = t->shape[0], k = d->cfg.out_dim;
    hvp_tensor one;
    HVP_TRY(ones(ctx, n, &one));
    HVP_TRY(hvp_act_like(ctx, "dino teacher probabilities", t, probs));
    HVP_TRY(hvp_tensor_copy(ctx, probs, t));
    HVP_TRY(hvp_gemm(ctx, 0, 0, n, k, 1, -1.0f, hvp_mat_of(&one, 1), hvp_mat_of(&d->center, k),
                     1.0f, hvp_mat_of(probs, k)));
    return hvp_softmax_fwd(ctx, probs, 1.0f / temp, probs);
}

/* center = m center + (1 - m) mean over the rows of t (a GEMM with ones: fixed order). */
static hvp_status update_center(dino *d, hvp_ctx *ctx, const hvp_tensor *t)
{
    int n = t->shape[0], k = d->cfg.out_dim;
    hvp_tensor one, mean;
    HVP_TRY(ones(ctx, n, &one));
    HVP_TRY(hvp_act(ctx, "dino batch center", &mean, 2, (int[]){1, k}));
    HVP_TRY(hvp_gemm(ctx, 1, 0, 1, k, n, 1.0f / (float)n, hvp_mat_of(&one, 1), hvp_mat_of(t, k),
                     0.0f, hvp_mat_of(&mean, k)));
    float m = d->cfg.center_momentum;
    return hvp_axpby(ctx, m, &d->center, (float)(1.0 - (double)m), &mean, &d->center);
}

/* ---- the method interface ---------------------------------------------------------- */

static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], const hvp_tensor *scores)
{
    dino *d = m->impl;
    int b = views->shape[0] / nviews, k = d->cfg.out_dim;
    float st = d->cfg.student_temp;
    hvp_pass p = {ctx, 1, 0, 1, 0};
    hvp_backbone_set_step(&d->student.backbone, m->step);
    hvp_tensor s, t, probs, l1, l2;
    HVP_TRY(net_forward(&d->student, &p, views, k, &s));
    HVP_TRY(net_forward(&d->teacher, &p, views, k, &t));
    HVP_TRY(teacher_probs(d, ctx, &t, hvp_dino_teacher_temp(m, (long)m->step), &probs));
    HVP_TRY(hvp_act(ctx, "dino pair loss", &l1, 1, &b));
    HVP_TRY(hvp_act(ctx, "dino pair loss", &l2, 1, &b));
    for (int q = 0; q < npairs; q++) {
        int i = pairs[q][0], j = pairs[q][1];
        hvp_tensor si = rows(&s, i * b, b), sj = rows(&s, j * b, b);
        hvp_tensor pi = rows(&probs, i * b, b), pj = rows(&probs, j * b, b);
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &sj, NULL, &pi, st, &l1, NULL));
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &si, NULL, &pj, st, &l2, NULL));
        hvp_tensor row = hvp_tensor_view(scores, (size_t)q * (size_t)b, 1, &b);
        HVP_TRY(hvp_axpby(ctx, 0.5f, &l1, 0.5f, &l2, &row));
    }
    return HVP_OK;
}

/* Student forward, CE and backward on one group of views (one resolution) with its
 * targets; the CE's mean over the group's rows is scaled by `weight` into the loss (added
 * to loss when add). Rows are independent given the targets, so the globals and the
 * locals are trained one after the other through the same modules. */
static hvp_status student_group(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x,
                                const hvp_tensor *targets, float weight, const hvp_tensor *loss,
                                int add)
{
    dino *d = m->impl;
    float st = d->cfg.student_temp;
    hvp_pass sp = {ctx, 1, 1, 1, 1};
    hvp_tensor s, mean;
    hvp_backbone_set_step(&d->student.backbone, m->step);
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
                             const hvp_tensor *loss)
{
    dino *d = m->impl;
    int n = x12->shape[0], b = n / 2, k = d->cfg.out_dim, nl = m->nlocal;
    /* teacher: train-mode batch norm (its running statistics move), nothing kept */
    hvp_pass tp = {ctx, 1, 0, 1, 1};
    hvp_tensor t, probs, targets;
    HVP_TRY(net_forward(&d->teacher, &tp, x12, k, &t));
    HVP_TRY(teacher_probs(d, ctx, &t, hvp_dino_teacher_temp(m, (long)m->step), &probs));
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
    HVP_TRY(student_group(m, ctx, x12, &targets, 2.0f / terms, loss, 0));
    if (nl <= 0)
        return HVP_OK;
    if (m->local.ndim < 1 || m->local.shape[0] != nl * b)
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
    return student_group(m, ctx, &m->local, &local_targets, (float)nl / terms, loss, 1);
}

static hvp_status after_step(hvp_method *m, hvp_ctx *ctx, long step)
{
    dino *d = m->impl;
    return hvp_ema_tensors(ctx, d->ema_teacher, d->ema_student, d->nema,
                           hvp_dino_teacher_momentum(m, step));
}

/* The teacher's backbone, as the official kNN and linear evaluations use by default. */
static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    dino *d = m->impl;
    hvp_pass p = {ctx, 0, 0, 1, 0};
    return hvp_backbone_forward(&d->teacher.backbone, &p, x, f);
}

static void destroy(hvp_method *m)
{
    dino *d = m->impl;
    if (d) {
        hvp_backbone_free(&d->student.backbone);
        hvp_backbone_free(&d->teacher.backbone);
        free(d->ema_teacher);
        free(d->ema_student);
    }
    free(d);
}

static const hvp_method_ops dino_ops = {"dino", score_pairs, train_step, after_step, features,
                                        destroy};

/* The teacher starts as a copy of the student (parameters and buffers; counters are 0
 * in both); the EMA pairs are the student's parameters with the teacher's namesakes. */
static hvp_status link_teacher(hvp_method *m, hvp_ctx *ctx)
{
    dino *d = m->impl;
    hvp_state *s = &m->state;
    d->ema_teacher = calloc((size_t)s->nparams + 1, sizeof *d->ema_teacher);
    d->ema_student = calloc((size_t)s->nparams + 1, sizeof *d->ema_student);
    if (!d->ema_teacher || !d->ema_student)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    char name[128];
    for (int i = 0; i < s->nparams; i++) {
        const hvp_param *p = &s->params[i];
        snprintf(name, sizeof name, "teacher.%s", p->name + strlen("student."));
        hvp_buffer *tb = hvp_state_find_buffer(s, name);
        if (!tb)
            return HVP_FAIL(HVP_ERR_ARG, "DINO: the teacher has no %s", name);
        HVP_TRY(hvp_tensor_copy(ctx, &tb->value, &p->value));
        d->ema_teacher[d->nema] = tb->value;
        d->ema_student[d->nema++] = p->value;
    }
    for (int i = 0; i < s->nbuffers; i++) {
        const hvp_buffer *b = &s->buffers[i];
        if (b->is_count || strncmp(b->name, "student.", 8) != 0)
            continue;
        snprintf(name, sizeof name, "teacher.%s", b->name + strlen("student."));
        hvp_buffer *tb = hvp_state_find_buffer(s, name);
        if (!tb)
            return HVP_FAIL(HVP_ERR_ARG, "DINO: the teacher has no %s", name);
        HVP_TRY(hvp_tensor_copy(ctx, &tb->value, &b->value));
    }
    return HVP_OK;
}

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
    tbc.vit.drop_path = 0; /* the official teacher is built without drop path */
    hvp_status st = net_init(&d->student, &m->state, ctx, "student", cfg, &cfg->backbone);
    int nstudent = m->state.nparams;
    if (st == HVP_OK)
        st = net_init(&d->teacher, &m->state, ctx, "teacher", cfg, &tbc);
    if (st == HVP_OK)
        st = hvp_state_params_to_buffers(&m->state, nstudent);
    if (st == HVP_OK)
        st = hvp_state_buffer(&m->state, ctx, "dino_loss.center", 2, (int[]){1, cfg->out_dim},
                              HVP_INIT_ZERO, &d->center);
    if (st == HVP_OK)
        st = link_teacher(m, ctx);
    if (st != HVP_OK) {
        hvp_method_destroy(m);
        return st;
    }
    m->feature_dim = d->student.backbone.feature_dim;
    m->takes_local = 1;
    *out = m;
    return HVP_OK;
}
