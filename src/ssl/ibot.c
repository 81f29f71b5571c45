/* iBOT (Zhou et al., "iBOT: Image BERT Pre-Training with Online Tokenizer", ICLR 2022), laid
 * out as the official code (bytedance/ibot, main_ibot.py, models/head.py iBOTHead,
 * loader.py ImageFolderMask) for two global views and any local ones: DINO's student /
 * teacher / centering (src/ssl/dino_head.c) on every token of a ViT, with masked image
 * modelling on the student's global views and a second, patch-level self-distillation loss.
 *
 * The head's MLP runs once on all n (L + 1) token rows; its last layer (last_layer) on the
 * class rows gives [n, K], and the patch layer on every row [n * T, K2]: last_layer again
 * with the shared head of the official ViT-S/B recipes (--shared_head true), else its own
 * last_layer2 (shared_head false). The loss is then two soft cross-entropies: the class
 * rows against the teacher's class probabilities of the other view, and every token row
 * against a target matrix whose rows carry their weight (the teacher's patch probabilities
 * of the same view times lambda2 mask / (2 B max(1, masked patches)), 0 on the class rows);
 * the soft cross-entropy is linear in its target, so the sum over rows is iBOTLoss's
 * patch total and its gradient the same. Local crops (multi-crop, as main_ibot.py) go
 * through the student only, unmasked, at their own patch grid (pos_embed interpolated):
 * their class outputs join the class term against both teacher views; no patch term. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/dist.h"
#include "hvp/rng.h"
#include "hvp/ssl.h"
#include "nn/module_util.h"
#include "ssl/dino_head.h"

#define SCORE_VIEW 65536u /* scoring masks: view + this */

typedef struct ibot {
    hvp_ibot_config cfg;
    dino_net student, teacher;
    hvp_tensor center, center2;
    ema_teacher ema; /* teacher.* <- student.* */
    long steps_per_epoch, total_steps;
    int *inj_score, *inj_train; /* test masks */
    int inj_score_rows, inj_train_rows;
} ibot;

/* ---- schedules --------------------------------------------------------------------- */

float hvp_ibot_teacher_temp(const hvp_method *m, long step)
{
    const ibot *d = m->impl;
    const hvp_ibot_config *c = &d->cfg;
    return dino_temp_at(c->warmup_teacher_temp, c->teacher_temp, c->warmup_teacher_temp_epochs,
                        d->steps_per_epoch, step);
}

float hvp_ibot_teacher_patch_temp(const hvp_method *m, long step)
{
    const ibot *d = m->impl;
    const hvp_ibot_config *c = &d->cfg;
    return dino_temp_at(c->warmup_teacher_patch_temp, c->teacher_patch_temp,
                        c->warmup_teacher_temp_epochs, d->steps_per_epoch, step);
}

float hvp_ibot_teacher_momentum(const hvp_method *m, long step)
{
    const ibot *d = m->impl;
    return ema_momentum_at(d->cfg.teacher_momentum, 1.0f, d->total_steps, step);
}

void hvp_ibot_set_schedule(hvp_method *m, long steps_per_epoch, long total_steps)
{
    ibot *d = m->impl;
    d->steps_per_epoch = steps_per_epoch;
    d->total_steps = total_steps;
}

/* ---- masks ------------------------------------------------------------------------- */

/* Python's random.randint(a, b), both ends included. */
static int randint(hvp_rng_stream *r, int a, int b)
{
    int v = a + (int)floor(hvp_rng_uniform(r, 0.0, 1.0) * (double)(b - a + 1));
    return v > b ? b : v;
}

void hvp_ibot_draw_mask(const hvp_ibot_config *c, int grid, uint32_t step, int sample,
                        uint32_t view, int *mask)
{
    int H = grid, W = grid, n = H * W;
    memset(mask, 0, (size_t)n * sizeof *mask);
    hvp_rng_stream r = hvp_rng_stream_init(c->seed ^ 0x69424f542d4d534bULL /* "iBOT-MSK" */,
                                           step, (uint32_t)sample, view);
    if (!(hvp_rng_uniform(&r, 0.0, 1.0) < c->mask_prob))
        return; /* pred_ratio 0 */
    double high = hvp_rng_uniform(&r, c->mask_ratio_min, c->mask_ratio_max) * n;
    if (c->mask_random) { /* round(high) distinct patches: a partial Fisher-Yates shuffle */
        int k = (int)nearbyint(high), *perm = malloc((size_t)n * sizeof *perm);
        if (!perm)
            return;
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = 0; i < k && i < n; i++) {
            int j = randint(&r, i, n - 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
            mask[perm[i]] = 1;
        }
        free(perm);
        return;
    }
    /* ImageFolderMask.__getitem__ with pred_shape 'block' (BEiT's MaskingGenerator):
     * rectangles of random area and aspect ratio in [0.3, 1/0.3] until about high patches */
    double log_lo = log(0.3), log_hi = log(1.0 / 0.3);
    int count = 0, side = (H < W ? H : W) / 3;
    double low = (double)side * side;
    while (count < high) {
        double max_mask = high - count;
        int delta = 0;
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = hvp_rng_uniform(&r, low, max_mask);
            double aspect = exp(hvp_rng_uniform(&r, log_lo, log_hi));
            int h = (int)nearbyint(sqrt(target * aspect)), w = (int)nearbyint(sqrt(target / aspect));
            if (w < W && h < H) {
                int top = randint(&r, 0, H - h), left = randint(&r, 0, W - w), masked = 0;
                for (int i = top; i < top + h; i++)
                    for (int j = left; j < left + w; j++)
                        masked += mask[i * W + j];
                int fresh = h * w - masked;
                if (fresh > 0 && fresh <= max_mask)
                    for (int i = top; i < top + h; i++)
                        for (int j = left; j < left + w; j++)
                            if (!mask[i * W + j]) {
                                mask[i * W + j] = 1;
                                delta++;
                            }
            }
            if (delta > 0)
                break;
        }
        if (delta == 0)
            break;
        count += delta;
    }
}

hvp_status hvp_ibot_set_masks(hvp_method *m, const int *score, int score_rows,
                              const int *train, int train_rows)
{
    ibot *d = m->impl;
    int grid = hvp_backbone_token_grid(&d->student.backbone, 0), L = grid * grid;
    free(d->inj_score);
    free(d->inj_train);
    d->inj_score = d->inj_train = NULL;
    d->inj_score_rows = d->inj_train_rows = 0;
    if (score) {
        d->inj_score = malloc((size_t)score_rows * L * sizeof *score);
        if (!d->inj_score)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        memcpy(d->inj_score, score, (size_t)score_rows * L * sizeof *score);
        d->inj_score_rows = score_rows;
    }
    if (train) {
        d->inj_train = malloc((size_t)train_rows * L * sizeof *train);
        if (!d->inj_train)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        memcpy(d->inj_train, train, (size_t)train_rows * L * sizeof *train);
        d->inj_train_rows = train_rows;
    }
    return HVP_OK;
}

/* The masks of nviews x b rows (view-major) on the device, I32 [rows, L], and per token
 * row (rows x T, class token first) the weights: cls_weight on the class rows, scale *
 * mask / max(1, masked of the row) on the patch rows. */
static hvp_status make_masks(hvp_method *m, hvp_ctx *ctx, uint32_t step, int grid, int nviews,
                             int b, int scoring, float scale, float cls_weight, hvp_tensor *mask,
                             hvp_tensor *weights)
{
    ibot *d = m->impl;
    int L = grid * grid, T = L + 1, rows = nviews * b;
    const int *inj = scoring ? d->inj_score : d->inj_train;
    int inj_rows = scoring ? d->inj_score_rows : d->inj_train_rows;
    int inj_grid = inj ? hvp_backbone_token_grid(&d->student.backbone, 0) : grid;
    if (inj && (inj_rows != rows || grid != inj_grid))
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: %d test masks of %d patches for %d views of %d",
                        inj_rows, inj_grid * inj_grid, rows, L);
    int *host = malloc((size_t)rows * L * sizeof *host);
    float *w = malloc((size_t)rows * T * sizeof *w);
    hvp_status st = HVP_OK;
    if (!host || !w)
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int r = 0; st == HVP_OK && r < rows; r++) {
        int *mk = host + (size_t)r * L;
        if (inj)
            memcpy(mk, inj + (size_t)r * L, (size_t)L * sizeof *mk);
        else
            /* keyed by the image's place in the global batch (data-parallel ranks) */
            hvp_ibot_draw_mask(&d->cfg, grid, step,
                               (r % b) * hvp_dist_world() + hvp_dist_rank(),
                               (uint32_t)(r / b) + (scoring ? SCORE_VIEW : 0u), mk);
        int count = 0;
        for (int t = 0; t < L; t++)
            count += mk[t] != 0;
        float per = scale / (float)(count > 0 ? count : 1);
        w[(size_t)r * T] = cls_weight;
        for (int t = 0; t < L; t++)
            w[(size_t)r * T + 1 + t] = mk[t] != 0 ? per : 0.0f;
    }
    if (st == HVP_OK)
        st = hvp_tensor_alloc(ctx->acts, HVP_I32, 2, (int[]){rows, L}, "ibot masks", mask);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, mask, host);
    if (st == HVP_OK)
        st = hvp_act(ctx, "ibot patch weights", weights, 1, (int[]){rows * T});
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, weights, w);
    free(host);
    free(w);
    return st;
}

/* ---- the network and the loss pieces ----------------------------------------------- */

/* Patches per side of views x [n, C, S, S]. */
static hvp_status grid_of(const ibot *d, const hvp_tensor *x, int *grid)
{
    *grid = hvp_backbone_token_grid(&d->student.backbone, x->shape[2]);
    if (*grid < 1)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: views of %d px are not tiled by the backbone's "
                        "patches", x->shape[2]);
    return HVP_OK;
}

/* The layer of net's patch outputs: last_layer2 when it has one, else last_layer. */
static int patch_layer(const dino_net *net)
{
    return net->has_last2;
}

/* x [n, C, S, S] (mask NULL or I32 [n, L]) -> the class outputs cls [n, K] and every token
 * row's patch outputs patch [n * T, K2], T = L + 1 (both allocated first), and zc [n,
 * bottleneck] the class rows of the normalised bottleneck (kept for the backward). A pass
 * that keeps nothing gives the rest back. */
static hvp_status net_tokens(ibot *d, dino_net *net, const hvp_pass *p, const hvp_tensor *x,
                             const hvp_tensor *mask, hvp_tensor *cls, hvp_tensor *patch,
                             hvp_tensor *zc)
{
    hvp_ctx *ctx = p->ctx;
    int g, n = x->shape[0], D = hvp_backbone_feature_dim(&net->backbone);
    HVP_TRY(grid_of(d, x, &g));
    int T = g * g + 1;
    HVP_TRY(hvp_act(ctx, "ibot class outputs", cls, 2, (int[]){n, d->cfg.out_dim}));
    HVP_TRY(hvp_act(ctx, "ibot patch outputs", patch, 2, (int[]){n * T, d->cfg.patch_out_dim}));
    HVP_TRY(hvp_act(ctx, "ibot class bottleneck", zc, 2, (int[]){n, d->cfg.bottleneck_dim}));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor tok;
    HVP_TRY(hvp_backbone_forward_tokens(&net->backbone, p, x, mask, &tok));
    hvp_tensor f = hvp_tensor_view(&tok, 0, 2, (int[]){n * T, D});
    HVP_TRY(dino_head_bottleneck_forward(net, p, &f));
    HVP_TRY(hvp_vit_cls_fwd(ctx, n, T, d->cfg.bottleneck_dim, &net->zn, zc));
    HVP_TRY(dino_head_last_forward(net, ctx, 0, zc, cls));
    HVP_TRY(dino_head_last_forward(net, ctx, patch_layer(net), &net->zn, patch));
    if (!p->keep)
        hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

/* y[r, :] = w[r] x[r, :] for x, y [N, K], w [N]: a batch of 1x1 by 1xK products. */
static hvp_status row_scale(hvp_ctx *ctx, const hvp_tensor *w, const hvp_tensor *x,
                            const hvp_tensor *y)
{
    int N = x->shape[0], K = x->shape[1];
    return hvp_gemm_strided_batched(ctx, 0, 0, 1, K, 1, 1.0f, hvp_mat_of(w, 1), 1,
                                    hvp_mat_of(x, K), (size_t)K, 0.0f, hvp_mat_of(y, K),
                                    (size_t)K, N);
}

/* The teacher's class outputs tcls [n, K] -> p1 (center, teacher_temp) and its patch
 * outputs tpatch [n * T, K2] -> p2 (center2, teacher_patch_temp). */
static hvp_status teacher_probs(hvp_method *m, hvp_ctx *ctx, uint32_t step,
                                const hvp_tensor *tcls, const hvp_tensor *tpatch, hvp_tensor *p1,
                                hvp_tensor *p2)
{
    ibot *d = m->impl;
    HVP_TRY(dino_teacher_probs(ctx, tcls, &d->center, hvp_ibot_teacher_temp(m, (long)step), p1));
    return dino_teacher_probs(ctx, tpatch, &d->center2,
                              hvp_ibot_teacher_patch_temp(m, (long)step), p2);
}

static hvp_tensor rows(const hvp_tensor *t, int first, int count)
{
    int k = t->shape[1];
    return hvp_tensor_view(t, (size_t)first * (size_t)k, 2, (int[]){count, k});
}

/* ---- the method interface ---------------------------------------------------------- */

static hvp_status score_pairs(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores)
{
    ibot *d = m->impl;
    const hvp_ibot_config *c = &d->cfg;
    int b = views->shape[0] / nviews, n = nviews * b, grid;
    HVP_TRY(grid_of(d, views, &grid));
    int T = grid * grid + 1;
    float st = c->student_temp;
    hvp_pass p = {ctx, 1, 0, 1, 0};
    hvp_backbone_set_step(&d->student.backbone, step);
    hvp_tensor mask, w, scls, spatch, szc, tcls, tpatch, tzc, p1, p2, q, rl, pv, one, l1, l2;
    HVP_TRY(make_masks(m, ctx, step, grid, nviews, b, 1, 1.0f, 0.0f, &mask, &w));
    HVP_TRY(net_tokens(d, &d->student, &p, views, &mask, &scls, &spatch, &szc));
    HVP_TRY(net_tokens(d, &d->teacher, &p, views, NULL, &tcls, &tpatch, &tzc));
    HVP_TRY(teacher_probs(m, ctx, step, &tcls, &tpatch, &p1, &p2));
    /* patch loss of each view and sample: sum over the masked rows of H / masked */
    HVP_TRY(hvp_act_like(ctx, "ibot patch targets", &p2, &q));
    HVP_TRY(row_scale(ctx, &w, &p2, &q));
    HVP_TRY(hvp_act(ctx, "ibot row losses", &rl, 1, (int[]){n * T}));
    HVP_TRY(hvp_cross_entropy_fwd(ctx, &spatch, NULL, &q, st, &rl, NULL));
    HVP_TRY(hvp_act(ctx, "ibot ones", &one, 1, (int[]){T}));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &one, 1.0f));
    HVP_TRY(hvp_act(ctx, "ibot patch loss per view", &pv, 1, (int[]){n}));
    HVP_TRY(hvp_gemm(ctx, 0, 0, n, 1, T, 1.0f, hvp_mat_of(&rl, T), hvp_mat_of(&one, 1), 0.0f,
                     hvp_mat_of(&pv, 1)));
    HVP_TRY(hvp_act(ctx, "ibot pair loss", &l1, 1, &b));
    HVP_TRY(hvp_act(ctx, "ibot pair loss", &l2, 1, &b));
    float h1 = 0.5f * c->lambda1, h2 = 0.5f * c->lambda2;
    for (int k = 0; k < npairs; k++) {
        int i = pairs[k][0], j = pairs[k][1];
        hvp_tensor si = rows(&scls, i * b, b), sj = rows(&scls, j * b, b);
        hvp_tensor pi = rows(&p1, i * b, b), pj = rows(&p1, j * b, b);
        hvp_tensor vi = hvp_tensor_view(&pv, (size_t)i * b, 1, &b);
        hvp_tensor vj = hvp_tensor_view(&pv, (size_t)j * b, 1, &b);
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &sj, NULL, &pi, st, &l1, NULL));
        HVP_TRY(hvp_cross_entropy_fwd(ctx, &si, NULL, &pj, st, &l2, NULL));
        hvp_tensor row = hvp_tensor_view(scores, (size_t)k * (size_t)b, 1, &b);
        HVP_TRY(hvp_axpby(ctx, h1, &l1, h1, &l2, &row));
        HVP_TRY(hvp_axpby(ctx, 1.0f, &row, h2, &vi, &row));
        HVP_TRY(hvp_axpby(ctx, 1.0f, &row, h2, &vj, &row));
    }
    return HVP_OK;
}

/* loss (+)= weight * the mean over the rows of H(targets, s) (add: onto loss), and
 * ds = its gradient in place of s. */
static hvp_status ce_term(hvp_ctx *ctx, const hvp_tensor *s, const hvp_tensor *targets,
                          float temp, float weight, const hvp_tensor *loss, int add)
{
    hvp_tensor mean;
    HVP_TRY(hvp_act(ctx, "ibot mean row loss", &mean, 1, (int[]){1}));
    HVP_TRY(hvp_cross_entropy_fwd(ctx, s, NULL, targets, temp, NULL, &mean));
    if (add)
        HVP_TRY(hvp_axpby(ctx, 1.0f, loss, weight, &mean, loss));
    else /* loss may hold anything yet: not even 0 * loss */
        HVP_TRY(hvp_axpby(ctx, weight, &mean, 0.0f, &mean, loss));
    return hvp_cross_entropy_bwd(ctx, s, NULL, targets, temp, weight, s);
}

/* The local crops' class term (main_ibot.py: student(images[2:])[0]): each local row learns
 * from p0 + p1, the teacher's two views, weighted lambda1 nl / terms over its mean. */
static hvp_status local_step(hvp_method *m, hvp_ctx *ctx, const hvp_step_input *in,
                             const hvp_tensor *p1, int b, float terms, const hvp_tensor *loss)
{
    ibot *d = m->impl;
    const hvp_ibot_config *c = &d->cfg;
    int nl = in->nlocal, K = c->out_dim;
    if (!in->local || in->local->ndim != 4 || in->local->shape[0] != nl * b)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: %d local views of %d images need %d rows", nl, b,
                        nl * b);
    hvp_tensor both, targets, s, df;
    hvp_tensor p0 = rows(p1, 0, b), p1b = rows(p1, b, b);
    HVP_TRY(hvp_act(ctx, "ibot P0 + P1", &both, 2, (int[]){b, K}));
    HVP_TRY(hvp_axpby(ctx, 1.0f, &p0, 1.0f, &p1b, &both));
    HVP_TRY(hvp_act(ctx, "ibot local targets", &targets, 2, (int[]){nl * b, K}));
    for (int v = 0; v < nl; v++) {
        hvp_tensor dst = rows(&targets, v * b, b);
        HVP_TRY(hvp_tensor_copy(ctx, &dst, &both));
    }
    hvp_pass sp = {ctx, 1, 1, 1, 1};
    hvp_backbone_set_step(&d->student.backbone, in->step);
    hvp_tensor f;
    HVP_TRY(hvp_act(ctx, "ibot local outputs", &s, 2, (int[]){nl * b, K}));
    HVP_TRY(hvp_backbone_forward(&d->student.backbone, &sp, in->local, &f));
    HVP_TRY(dino_head_forward(&d->student, &sp, &f, &s));
    HVP_TRY(ce_term(ctx, &s, &targets, c->student_temp, c->lambda1 * (float)nl / terms, loss, 1));
    HVP_TRY(dino_head_backward(&d->student, ctx, &s, &df));
    return hvp_backbone_backward(&d->student.backbone, ctx, &df);
}

static hvp_status train_step(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss)
{
    ibot *d = m->impl;
    const hvp_ibot_config *c = &d->cfg;
    int n = x12->shape[0], b = n / 2;
    int grid;
    HVP_TRY(grid_of(d, x12, &grid));
    int L = grid * grid, T = L + 1, N = n * T, bott = c->bottleneck_dim;
    int D = hvp_backbone_feature_dim(&d->student.backbone);
    int nl = in->nlocal > 0 ? in->nlocal : 0;
    /* iBOTLoss: the class term over its 2 (nl + 1) terms, the patch term over its 2 */
    float terms = 2.0f * (float)(nl + 1);
    /* teacher: unmasked, nothing kept */
    hvp_pass tp = {ctx, 1, 0, 1, 1};
    hvp_tensor mask, w, tcls, tpatch, tzc, p1, p2, wc, ct, scls, spatch, szc, dzc, dzn, dx, df;
    HVP_TRY(make_masks(m, ctx, in->step, grid, 2, b, 0, c->lambda2 / (float)n, 0.0f, &mask, &w));
    HVP_TRY(net_tokens(d, &d->teacher, &tp, x12, NULL, &tcls, &tpatch, &tzc));
    HVP_TRY(teacher_probs(m, ctx, in->step, &tcls, &tpatch, &p1, &p2));
    /* centers after their use, as iBOTLoss.forward: center from the class outputs, center2
     * from the patch rows (weights 1 / (n L), the class rows 0) */
    HVP_TRY(dino_update_center(ctx, &tcls, NULL, &d->center, c->center_momentum));
    float *hw = malloc((size_t)N * sizeof *hw);
    if (!hw)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < N; i++)
        hw[i] = i % T == 0 ? 0.0f : 1.0f / (float)(n * L);
    hvp_status st = hvp_act(ctx, "ibot center2 weights", &wc, 2, (int[]){N, 1});
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &wc, hw);
    free(hw);
    HVP_TRY(st);
    HVP_TRY(dino_update_center(ctx, &tpatch, &wc, &d->center2, c->center_momentum));
    /* class targets: view v learns from the teacher's view 1 - v */
    HVP_TRY(hvp_act_like(ctx, "ibot class targets", &p1, &ct));
    for (int v = 0; v < 2; v++) {
        hvp_tensor dst = rows(&ct, v * b, b), src = rows(&p1, (1 - v) * b, b);
        HVP_TRY(hvp_tensor_copy(ctx, &dst, &src));
    }
    /* patch targets: p2 weighted by make_masks' lambda2 mask / (n masked), into tpatch */
    HVP_TRY(row_scale(ctx, &w, &p2, &tpatch));
    /* student: masked, kept for the backward */
    hvp_pass sp = {ctx, 1, 1, 1, 1};
    hvp_backbone_set_step(&d->student.backbone, in->step);
    HVP_TRY(net_tokens(d, &d->student, &sp, x12, &mask, &scls, &spatch, &szc));
    HVP_TRY(ce_term(ctx, &scls, &ct, c->student_temp, 2.0f * c->lambda1 / terms, loss, 0));
    HVP_TRY(ce_term(ctx, &spatch, &tpatch, c->student_temp, (float)N, loss, 1));
    /* the head's two last layers back to the normalised bottleneck of every row */
    HVP_TRY(hvp_act(ctx, "ibot dzn", &dzn, 2, (int[]){N, bott}));
    HVP_TRY(dino_head_last_backward(&d->student, ctx, patch_layer(&d->student),
                                    &d->student.zn, &spatch, &dzn));
    HVP_TRY(hvp_act_like(ctx, "ibot class dzn", &szc, &dzc));
    HVP_TRY(dino_head_last_backward(&d->student, ctx, 0, &szc, &scls, &dzc));
    HVP_TRY(hvp_act_like(ctx, "ibot class dzn rows", &dzn, &dx));
    HVP_TRY(hvp_vit_cls_bwd(ctx, n, T, bott, &dzc, &dx));
    HVP_TRY(hvp_add_acc(ctx, &dzn, &dx));
    HVP_TRY(dino_head_bottleneck_backward(&d->student, ctx, &dzn, &df));
    hvp_tensor dtok = hvp_tensor_view(&df, 0, 3, (int[]){n, T, D});
    HVP_TRY(hvp_backbone_backward_tokens(&d->student.backbone, ctx, &dtok));
    return nl > 0 ? local_step(m, ctx, in, &p1, b, terms, loss) : HVP_OK;
}

static hvp_status after_step(hvp_method *m, hvp_ctx *ctx, long step)
{
    ibot *d = m->impl;
    return ema_teacher_update(&d->ema, ctx, hvp_ibot_teacher_momentum(m, step));
}

/* The teacher's backbone (class token), as the official evaluations. */
static hvp_status features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x, hvp_tensor *f)
{
    ibot *d = m->impl;
    return dino_teacher_features(&d->teacher, ctx, x, f);
}

static void destroy(hvp_method *m)
{
    ibot *d = m->impl;
    if (d) {
        dino_nets_free(&d->student, &d->teacher, &d->ema);
        free(d->inj_score);
        free(d->inj_train);
    }
    free(d);
}

static const hvp_method_ops ibot_ops = {.name = "ibot",
                                        .title = "iBOT",
                                        .score_pairs = score_pairs,
                                        .train_step = train_step,
                                        .after_step = after_step,
                                        .set_schedule = hvp_ibot_set_schedule,
                                        .features = features,
                                        .destroy = destroy};

hvp_status hvp_ibot_create(hvp_ctx *ctx, const hvp_ibot_config *cfg, hvp_method **out)
{
    *out = NULL;
    /* as official: the student has the masked-token embedding, the teacher neither it nor
     * drop path */
    hvp_backbone_config sbc = cfg->backbone, tbc = cfg->backbone;
    if (hvp_backbone_config_set_masked_tokens(&sbc, 1) != HVP_OK)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT needs a ViT backbone (model.arch = vit_tiny, "
                        "vit_small or vit_base): masked image modelling works on patch tokens");
    HVP_TRY(hvp_backbone_config_set_masked_tokens(&tbc, 0));
    hvp_backbone_config_set_drop_path(&tbc, 0);
    if (!(cfg->teacher_temp > 0 && cfg->warmup_teacher_temp > 0 && cfg->student_temp > 0 &&
          cfg->teacher_patch_temp > 0 && cfg->warmup_teacher_patch_temp > 0))
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: temperatures must be positive");
    if (cfg->out_dim < 1 || cfg->hidden_dim < 1 || cfg->bottleneck_dim < 1)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: out_dim, hidden and bottleneck dims must be >= 1");
    int shared = !cfg->separate_head, shared_teacher = !cfg->separate_head_teacher;
    if (shared && !shared_teacher)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: method.shared_head = true with "
                        "method.shared_head_teacher = false: a teacher's own patch layer would "
                        "follow no student layer; set shared_head = false too");
    if ((shared || shared_teacher) && cfg->patch_out_dim != cfg->out_dim)
        return HVP_FAIL(HVP_ERR_ARG,
                        "iBOT: method.patch_out_dim = %d differs from method.out_dim = %d with "
                        "a shared head (method.shared_head%s = true): the shared last layer "
                        "gives the patch tokens out_dim outputs; set them equal, or "
                        "shared_head = shared_head_teacher = false",
                        cfg->patch_out_dim, cfg->out_dim, shared ? "" : "_teacher");
    if (cfg->patch_out_dim < 1)
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: patch_out_dim must be >= 1");
    if (!(cfg->mask_ratio_min >= 0 && cfg->mask_ratio_min <= cfg->mask_ratio_max &&
          cfg->mask_ratio_max <= 1 && cfg->mask_prob >= 0 && cfg->mask_prob <= 1))
        return HVP_FAIL(HVP_ERR_ARG, "iBOT: mask ratios must satisfy 0 <= min <= max <= 1 and "
                        "mask_prob be in [0, 1]");
    hvp_method *m = calloc(1, sizeof *m);
    ibot *d = calloc(1, sizeof *d);
    if (!m || !d) {
        free(m);
        free(d);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    m->ops = &ibot_ops;
    m->impl = d;
    d->cfg = *cfg;
    hvp_state_init(&m->state, cfg->seed);
    /* iBOTHead(shared_head=...): last_layer2 only where the head is not shared */
    dino_head_config hc = {cfg->out_dim, cfg->hidden_dim, cfg->bottleneck_dim,
                           cfg->norm_last_layer, shared ? 0 : cfg->patch_out_dim};
    dino_head_config thc = hc;
    thc.patch_out_dim = shared_teacher ? 0 : cfg->patch_out_dim;
    hvp_status st = dino_net_init(&d->student, &m->state, ctx, "student", &hc, &sbc);
    int nstudent = m->state.nparams;
    if (st == HVP_OK)
        st = dino_net_init(&d->teacher, &m->state, ctx, "teacher", &thc, &tbc);
    if (st == HVP_OK)
        st = hvp_state_params_to_buffers(&m->state, nstudent);
    if (st == HVP_OK)
        st = hvp_state_buffer(&m->state, ctx, "ibot_loss.center", 2, (int[]){1, cfg->out_dim},
                              HVP_INIT_ZERO, &d->center);
    if (st == HVP_OK)
        st = hvp_state_buffer(&m->state, ctx, "ibot_loss.center2", 3,
                              (int[]){1, 1, cfg->patch_out_dim}, HVP_INIT_ZERO, &d->center2);
    if (st == HVP_OK)
        st = ema_teacher_link(&d->ema, &m->state, ctx, "student.", "teacher.", 1);
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

hvp_status hvp_ibot_from_config(hvp_ctx *ctx, const hvp_config *c,
                                const hvp_backbone_config *backbone, hvp_method **out)
{
    hvp_ibot_config ic;
    memset(&ic, 0, sizeof ic);
    ic.backbone = *backbone;
    ic.out_dim = c->method.out_dim;
    ic.patch_out_dim = c->method.patch_out_dim;
    ic.hidden_dim = c->method.proj_hidden_dim;
    ic.bottleneck_dim = c->method.bottleneck_dim;
    ic.norm_last_layer = c->method.norm_last_layer;
    ic.teacher_temp = (float)c->method.teacher_temp;
    ic.warmup_teacher_temp = (float)c->method.warmup_teacher_temp;
    ic.warmup_teacher_temp_epochs = c->method.warmup_teacher_temp_epochs;
    ic.teacher_patch_temp = (float)c->method.teacher_patch_temp;
    ic.warmup_teacher_patch_temp = (float)c->method.warmup_teacher_patch_temp;
    ic.separate_head = !c->method.shared_head;
    ic.separate_head_teacher = !c->method.shared_head_teacher;
    ic.student_temp = (float)c->method.student_temp;
    ic.teacher_momentum = (float)c->method.teacher_momentum;
    ic.center_momentum = (float)c->method.center_momentum;
    ic.lambda1 = 1.0f;
    ic.lambda2 = 1.0f;
    ic.mask_prob = (float)c->method.mask_prob;
    ic.mask_ratio_min = (float)c->method.mask_ratio.v[0];
    ic.mask_ratio_max = (float)c->method.mask_ratio.v[1];
    ic.mask_random = 0; /* blockwise, as the official pred_shape 'block' */
    ic.seed = (uint64_t)c->run.seed;
    return hvp_ibot_create(ctx, &ic, out);
}
