/* SimCLR (Chen et al., "A Simple Framework for Contrastive Learning of Visual
 * Representations", 2020), laid out as solo-learn's: backbone = ResNet or ViT, projector
 * Linear-ReLU-Linear, NT-Xent loss over the 2B projections of two views with the
 * temperature tau. Row r's positive is the other view of its image; every row but r itself
 * is in its denominator. Names: "backbone.conv1.weight", "projector.0.weight",
 * "projector.2.bias". On several data-parallel ranks the projections of all ranks are
 * gathered (solo-learn's gather layer): every rank computes the loss of the global batch,
 * negatives from every rank, and takes its own rows' gradient back (times the number of
 * ranks, which the gradient all-reduce's mean undoes). */
#include <stdlib.h>
#include <string.h>

#include "hvp/dist.h"
#include "hvp/ssl.h"
#include "nn/module_util.h"
#include "ssl/dist_rows.h"

/* Added to the self-similarity before the softmax: exp() of it is exactly 0 in float. */
#define SELF_MASK (-1e9f)
#define NORM_EPS 1e-12f /* F.normalize */

typedef struct simclr {
    hvp_simclr_config cfg;
    hvp_backbone backbone;
    hvp_mlp projector;
    hvp_tensor z; /* of the last forward: [rows, proj_dim] */
} simclr;

/* The NT-Xent of z12 = [z1; z2] as the forward leaves it for the backward. */
typedef struct ntxent {
    hvp_tensor zn;     /* [2B, D] normalised projections */
    hvp_tensor logits; /* [2B, 2B] cosine similarities, self masked */
    hvp_tensor labels; /* I32 [2B]: (r + B) mod 2B */
} ntxent;

static hvp_status forward(simclr *s, const hvp_pass *p, const hvp_tensor *x)
{
    hvp_tensor f;
    HVP_TRY(hvp_backbone_forward(&s->backbone, p, x, &f));
    return hvp_mlp_forward(&s->projector, p, &f, &s->z);
}

/* labels [2B] of NT-Xent: row r's positive is row (r + B) mod 2B. One upload per call of
 * score_pairs or train_step, shared by all the pairs. */
static hvp_status positives(hvp_ctx *ctx, int n, hvp_tensor *labels)
{
    int *host = malloc((size_t)n * sizeof *host);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int r = 0; r < n; r++)
        host[r] = (r + n / 2) % n;
    hvp_status st = hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &n, "simclr labels", labels);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, labels, host);
    free(host);
    return st;
}

/* Per-row losses into losses [2B] and/or their mean into mean (either may be NULL). */
static hvp_status ntxent_fwd(hvp_ctx *ctx, const hvp_tensor *z12, const hvp_tensor *labels,
                             float tau, ntxent *nt, const hvp_tensor *losses,
                             const hvp_tensor *mean)
{
    int n = z12->shape[0], d = z12->shape[1];
    nt->labels = *labels;
    HVP_TRY(hvp_act_like(ctx, "simclr normalised z", z12, &nt->zn));
    HVP_TRY(hvp_l2norm_fwd(ctx, z12, &nt->zn, NORM_EPS));
    HVP_TRY(hvp_act(ctx, "simclr logits", &nt->logits, 2, (int[]){n, n}));
    HVP_TRY(hvp_gemm(ctx, 0, 1, n, n, d, 1.0f, hvp_mat_of(&nt->zn, d), hvp_mat_of(&nt->zn, d),
                     0.0f, hvp_mat_of(&nt->logits, n)));
    HVP_TRY(hvp_add_diagonal(ctx, &nt->logits, SELF_MASK));
    return hvp_cross_entropy_fwd(ctx, &nt->logits, &nt->labels, NULL, tau, losses, mean);
}

/* dz12 of the mean loss. The logits turn into their gradient dS; S = zn zn^T gives
 * dzn = (dS + dS^T) zn. The masked diagonal has softmax 0, so no gradient. */
static hvp_status ntxent_bwd(hvp_ctx *ctx, const hvp_tensor *z12, float tau, ntxent *nt,
                             hvp_tensor *dz12)
{
    int n = z12->shape[0], d = z12->shape[1];
    HVP_TRY(hvp_cross_entropy_bwd(ctx, &nt->logits, &nt->labels, NULL, tau, 1.0f, &nt->logits));
    hvp_tensor dzn;
    HVP_TRY(hvp_act_like(ctx, "simclr dzn", z12, &dzn));
    hvp_mat ds = hvp_mat_of(&nt->logits, n), zn = hvp_mat_of(&nt->zn, d);
    HVP_TRY(hvp_gemm(ctx, 0, 0, n, d, n, 1.0f, ds, zn, 0.0f, hvp_mat_of(&dzn, d)));
    HVP_TRY(hvp_gemm(ctx, 1, 0, n, d, n, 1.0f, ds, zn, 1.0f, hvp_mat_of(&dzn, d)));
    HVP_TRY(hvp_act_like(ctx, "simclr dz", z12, dz12));
    return hvp_l2norm_bwd(ctx, z12, &dzn, dz12, NORM_EPS);
}

/* Rows [first, first + count) of a [n, d] tensor. */
static hvp_tensor rows(const hvp_tensor *t, int first, int count)
{
    int d = t->shape[1];
    return hvp_tensor_view(t, (size_t)first * (size_t)d, 2, (int[]){count, d});
}

/* The score of a pair is each image's loss: the mean of its two rows' losses, with the
 * other B images' two views as negatives. */
static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores)
{
    simclr *s = m->impl;
    int b = views->shape[0] / nviews, d = s->cfg.proj_dim, n = 2 * b;
    int world = hvp_dist_world();
    hvp_pass p = {ctx, 1, 0, 1, 0};
    hvp_backbone_set_step(&s->backbone, step);
    HVP_TRY(forward(s, &p, views));
    hvp_tensor z12, losses, labels;
    HVP_TRY(positives(ctx, n * world, &labels));
    HVP_TRY(hvp_act(ctx, "simclr pair projections", &z12, 2, (int[]){n, d}));
    HVP_TRY(hvp_act(ctx, "simclr pair losses", &losses, 1, (int[]){n * world}));
    for (int k = 0; k < npairs; k++) {
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        hvp_tensor z1 = rows(&z12, 0, b), z2 = rows(&z12, b, b);
        hvp_tensor zi = rows(&s->z, pairs[k][0] * b, b), zj = rows(&s->z, pairs[k][1] * b, b);
        HVP_TRY(hvp_tensor_copy(ctx, &z1, &zi));
        HVP_TRY(hvp_tensor_copy(ctx, &z2, &zj));
        ntxent nt;
        hvp_tensor all = z12, mine = losses; /* one rank: its own rows are all */
        if (world > 1) /* the pair's projections of every rank: the global negatives */
            HVP_TRY(hvp_rows_allgather(ctx, &z12, 2, &all));
        HVP_TRY(ntxent_fwd(ctx, &all, &labels, s->cfg.temperature, &nt, &losses, NULL));
        if (world > 1)
            HVP_TRY(hvp_rows_mine(ctx, &losses, 2, 1.0f, &mine));
        hvp_tensor row = hvp_tensor_view(scores, (size_t)k * (size_t)b, 1, &b);
        hvp_tensor l1 = hvp_tensor_view(&mine, 0, 1, &b);
        hvp_tensor l2 = hvp_tensor_view(&mine, (size_t)b, 1, &b);
        HVP_TRY(hvp_axpby(ctx, 0.5f, &l1, 0.5f, &l2, &row));
        hvp_arena_rewind(ctx->acts, mark);
    }
    return HVP_OK;
}

static hvp_status train_step(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss)
{
    simclr *s = m->impl;
    /* batch-norm statistics per view, as two forwards */
    hvp_pass p = {ctx, 1, 1, 2, 1};
    hvp_backbone_set_step(&s->backbone, in->step);
    HVP_TRY(forward(s, &p, x12));
    ntxent nt;
    hvp_tensor labels, all = s->z;
    int world = hvp_dist_world();
    if (world > 1)
        HVP_TRY(hvp_rows_allgather(ctx, &s->z, 2, &all));
    HVP_TRY(positives(ctx, all.shape[0], &labels));
    HVP_TRY(ntxent_fwd(ctx, &all, &labels, s->cfg.temperature, &nt, NULL, loss));
    hvp_tensor dz, df;
    HVP_TRY(ntxent_bwd(ctx, &all, s->cfg.temperature, &nt, &dz));
    if (world > 1) { /* this rank's rows; times world against the all-reduce's mean */
        hvp_tensor dall = dz;
        HVP_TRY(hvp_rows_mine(ctx, &dall, 2, (float)world, &dz));
    }
    HVP_TRY(hvp_mlp_backward(&s->projector, ctx, &dz, &df));
    return hvp_backbone_backward(&s->backbone, ctx, &df);
}

static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    simclr *s = m->impl;
    hvp_pass p = {ctx, 0, 0, 1, 0};
    return hvp_backbone_forward(&s->backbone, &p, x, f);
}

static void destroy(hvp_method *m)
{
    simclr *s = m->impl;
    if (s)
        hvp_backbone_free(&s->backbone);
    free(s);
}

static const hvp_method_ops simclr_ops = {.name = "simclr",
                                          .title = "SimCLR",
                                          .score_pairs = score_pairs,
                                          .train_step = train_step,
                                          .features = features,
                                          .destroy = destroy};

hvp_status hvp_simclr_create(hvp_ctx *ctx, const hvp_simclr_config *cfg, hvp_method **out)
{
    *out = NULL;
    if (!(cfg->temperature > 0))
        return HVP_FAIL(HVP_ERR_ARG, "SimCLR: the temperature must be positive, not %g",
                        (double)cfg->temperature);
    hvp_method *m = calloc(1, sizeof *m);
    simclr *s = calloc(1, sizeof *s);
    if (!m || !s) {
        free(m);
        free(s);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    m->ops = &simclr_ops;
    m->impl = s;
    s->cfg = *cfg;
    hvp_state_init(&m->state, cfg->seed);
    hvp_status st =
        hvp_backbone_init(&s->backbone, &m->state, ctx, "backbone", &cfg->backbone);
    int feat = hvp_backbone_feature_dim(&s->backbone);
    hvp_mlp_layer_spec proj[2] = {{cfg->proj_hidden_dim, 1, 0, 0, 1}, {cfg->proj_dim, 1, 0, 0, 0}};
    if (st == HVP_OK)
        st = hvp_mlp_init(&s->projector, &m->state, ctx, "projector", feat, 2, proj);
    if (st != HVP_OK) {
        hvp_method_destroy(m);
        return st;
    }
    m->feature_dim = feat;
    m->policy.decay_all = 1; /* as solo-learn */
    *out = m;
    return HVP_OK;
}

hvp_status hvp_simclr_from_config(hvp_ctx *ctx, const hvp_config *c,
                                  const hvp_backbone_config *backbone, hvp_method **out)
{
    hvp_simclr_config sc = {*backbone, c->method.proj_dim, c->method.proj_hidden_dim,
                            (float)c->method.temperature, (uint64_t)c->run.seed};
    return hvp_simclr_create(ctx, &sc, out);
}
