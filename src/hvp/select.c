/* Hard view selection: candidate pairs, the device-side pairwise-loss reduction, and the
 * gather of the chosen views. Knows no method's loss: the method scores the pairs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/augment.h" /* HVP_MAX_VIEWS */
#include "hvp/rng.h"
#include "hvp/select.h"
#include "runtime/kernels.h"

/* The sampling of capped combinations: scratch kept by the selector. */
typedef struct combo_scratch {
    uint64_t *binom;   /* [(M + 1) (L + 1)]: C(n, k), saturated at UINT64_MAX */
    uint64_t *picked;  /* [limit] */
    uint64_t *set;     /* [set_size]: open addressing, UINT64_MAX empty */
    size_t set_size;
} combo_scratch;

/* The local wins and, with local selection, the binomials and the sampling scratch. */
static hvp_status make_local_tables(hvp_selector *s)
{
    int m = s->cfg.local_candidates, l = s->cfg.local_keep, limit = s->cfg.limit;
    if (l <= 0)
        return HVP_OK;
    combo_scratch *cs = calloc(1, sizeof *cs);
    s->combos = cs;
    s->local_wins = calloc((size_t)m, sizeof *s->local_wins);
    if (!cs || !s->local_wins)
        return HVP_ERR_NOMEM;
    cs->binom = calloc((size_t)(m + 1) * (size_t)(l + 1), sizeof *cs->binom);
    if (!cs->binom)
        return HVP_ERR_NOMEM;
    for (int n = 0; n <= m; n++) /* Pascal's triangle, saturating */
        for (int k = 0; k <= l; k++) {
            uint64_t v = k == 0 ? 1 : n == 0 ? 0 : cs->binom[(size_t)(n - 1) * (l + 1) + k - 1];
            uint64_t w = n > 0 && k > 0 ? cs->binom[(size_t)(n - 1) * (l + 1) + k] : 0;
            cs->binom[(size_t)n * (l + 1) + k] = v + w < v ? UINT64_MAX : v + w;
        }
    if (limit > 0) {
        cs->set_size = 2;
        while (cs->set_size < 2 * (size_t)limit)
            cs->set_size *= 2;
        cs->picked = calloc((size_t)limit, sizeof *cs->picked);
        cs->set = calloc(cs->set_size, sizeof *cs->set);
        s->combo_host = calloc((size_t)limit * (size_t)(1 + l), sizeof *s->combo_host);
        if (!cs->picked || !cs->set || !s->combo_host)
            return HVP_ERR_NOMEM;
    }
    return HVP_OK;
}

hvp_status hvp_selector_create(const hvp_select_config *cfg, hvp_selector **out)
{
    *out = NULL;
    if (cfg->views < 2)
        return HVP_FAIL(HVP_ERR_ARG, "hard view selection needs at least 2 views, got %d",
                        cfg->views);
    if (cfg->select_every < 1)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.select_every must be at least 1, got %d",
                        cfg->select_every);
    if (!(cfg->random_fraction >= 0 && cfg->random_fraction <= 1))
        return HVP_FAIL(HVP_ERR_ARG, "hvp.random_fraction must be in [0, 1]");
    int m = cfg->local_candidates, l = cfg->local_keep;
    if (l < 0 || (l > 0 && (m < l || m > HVP_MAX_VIEWS)))
        return HVP_FAIL(HVP_ERR_ARG, "local-crop selection keeps %d of %d candidates: needs 0 < "
                        "kept <= candidates <= %d (hvp.local_candidates, data.local_crops)", l, m,
                        HVP_MAX_VIEWS);
    if (cfg->limit < 0)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.limit_comparisons must be >= 0 (0: no cap), got %d",
                        cfg->limit);
    if (!(cfg->score_fraction >= 0 && cfg->score_fraction <= 1))
        return HVP_FAIL(HVP_ERR_ARG, "hvp.score_fraction must be in (0, 1], got %g",
                        (double)cfg->score_fraction);
    if (l > 0 && cfg->score_fraction > 0 && cfg->score_fraction < 1)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.score_fraction = %g: local-crop selection "
                        "(hvp.local_candidates) scores every image; set it to 1",
                        (double)cfg->score_fraction);
    hvp_selector *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    s->cfg = *cfg;
    int evens = (cfg->views + 1) / 2, odds = cfg->views / 2;
    s->npairs = cfg->asymmetric ? evens * odds : cfg->views * (cfg->views - 1) / 2;
    s->pairs = calloc((size_t)s->npairs, sizeof *s->pairs);
    s->wins = calloc((size_t)s->npairs, sizeof *s->wins);
    if (!s->pairs || !s->wins || make_local_tables(s) != HVP_OK) {
        hvp_selector_destroy(s);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    int k = 0;
    if (cfg->asymmetric) /* itertools.product(range(0, N, 2), range(1, N, 2)) */
        for (int i = 0; i < cfg->views; i += 2)
            for (int j = 1; j < cfg->views; j += 2, k++) {
                s->pairs[k][0] = i;
                s->pairs[k][1] = j;
            }
    else
        for (int i = 0; i < cfg->views; i++)
            for (int j = i + 1; j < cfg->views; j++, k++) {
                s->pairs[k][0] = i;
                s->pairs[k][1] = j;
            }
    if (l > 0) {
        combo_scratch *cs = s->combos;
        uint64_t per_pair = cs->binom[(size_t)m * (l + 1) + l];
        if (per_pair == UINT64_MAX || __builtin_mul_overflow(per_pair, (uint64_t)s->npairs,
                                                             &s->ncombos) ||
            s->ncombos > (UINT64_MAX >> 1)) {
            s->ncombos = UINT64_MAX;
            if (cfg->limit > 0) {
                hvp_selector_destroy(s);
                return HVP_FAIL(HVP_ERR_ARG, "hvp.limit_comparisons = %d: %d pairs with %d of %d "
                                "local candidates are more than 2^63 combinations to draw "
                                "from; set it to 0 (every combination, exactly)", cfg->limit,
                                k, l, m);
            }
        }
    }
    *out = s;
    return HVP_OK;
}

/* Waits for the reads into the host copies, so that they may be moved or freed (a step
 * that failed after hvp_select leaves them queued). */
static void wait_reads(hvp_selector *s)
{
    for (int i = 0; i < 3; i++)
        if (s->reads[i]) {
            /* finished already if the in-order queue was drained since (the step's loss) */
            if (s->ctx && s->ctx->host_waits == s->reads_drains)
                s->ctx->host_waits++;
            hvp_ctx_wait_event(s->ctx, s->reads[i], "reading the chosen pairs");
            clReleaseEvent(s->reads[i]);
            s->reads[i] = NULL;
        }
}

void hvp_selector_destroy(hvp_selector *s)
{
    if (!s)
        return;
    wait_reads(s);
    free(s->pairs);
    free(s->wins);
    free(s->chosen_host);
    free(s->scores_host);
    free(s->local_host);
    free(s->local_wins);
    free(s->combo_host);
    if (s->combos) {
        free(s->combos->binom);
        free(s->combos->picked);
        free(s->combos->set);
        free(s->combos);
    }
    free(s);
}

static hvp_status ensure_host(hvp_selector *s, int b)
{
    size_t need = (size_t)b * (size_t)s->npairs;
    if (need <= s->host_cap)
        return HVP_OK;
    wait_reads(s);
    int *c = realloc(s->chosen_host, (size_t)b * sizeof *c);
    if (c)
        s->chosen_host = c;
    float *f = realloc(s->scores_host, need * sizeof *f);
    if (f)
        s->scores_host = f;
    int *l = s->cfg.local_keep > 0
                 ? realloc(s->local_host, (size_t)b * (size_t)s->cfg.local_keep * sizeof *l)
                 : s->local_host;
    if (l)
        s->local_host = l;
    if (!c || !f || (s->cfg.local_keep > 0 && !l))
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    s->host_cap = need;
    return HVP_OK;
}

/* Uniform in [0, n), n > 0, from 64-bit draws (rejection, no modulo bias). */
static uint64_t uniform_below(hvp_rng_stream *r, uint64_t n)
{
    uint64_t reject_below = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = (uint64_t)hvp_rng_u32(r) << 32 | hvp_rng_u32(r);
        if (x >= reject_below)
            return x % n;
    }
}

/* Inserts x into the open-addressing set; returns 0 if it was there already. */
static int set_insert(combo_scratch *cs, uint64_t x)
{
    size_t mask = cs->set_size - 1, h = (size_t)((x * 0x9e3779b97f4a7c15ULL) >> 20) & mask;
    for (; cs->set[h] != UINT64_MAX; h = (h + 1) & mask)
        if (cs->set[h] == x)
            return 0;
    cs->set[h] = x;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

hvp_status hvp_select_combinations(hvp_selector *s, long step, int *table, int *count)
{
    int m = s->cfg.local_candidates, l = s->cfg.local_keep, limit = s->cfg.limit;
    *count = 0;
    if (l <= 0 || limit <= 0 || (uint64_t)limit >= s->ncombos)
        return HVP_OK;
    combo_scratch *cs = s->combos;
    uint64_t total = s->ncombos, per_pair = cs->binom[(size_t)m * (l + 1) + l];
    memset(cs->set, 0xff, cs->set_size * sizeof *cs->set);
    hvp_rng_stream r = hvp_rng_stream_init(s->cfg.seed ^ 0x4c4f43414cULL, (uint32_t)step,
                                           (uint32_t)((uint64_t)step >> 32), 0xc0b5u);
    int n = 0;
    for (uint64_t j = total - (uint64_t)limit; j < total; j++) { /* Floyd's algorithm */
        uint64_t t = uniform_below(&r, j + 1);
        cs->picked[n++] = set_insert(cs, t) ? t : (set_insert(cs, j), j);
    }
    qsort(cs->picked, (size_t)n, sizeof *cs->picked, cmp_u64);
    for (int k = 0; k < n; k++) { /* unrank: pair, then the subset in lexicographic order */
        int *row = table + (size_t)k * (size_t)(1 + l);
        uint64_t rank = cs->picked[k] % per_pair;
        row[0] = (int)(cs->picked[k] / per_pair);
        for (int i = 0, x = 0; i < l; i++, x++) {
            for (;;) {
                uint64_t c = cs->binom[(size_t)(m - 1 - x) * (l + 1) + (l - 1 - i)];
                if (rank < c)
                    break;
                rank -= c;
                x++;
            }
            row[1 + i] = x;
        }
    }
    *count = n;
    return HVP_OK;
}

/* The joint choice of pair and locals (cl/hvp_select.cl, hvp_select_locals), after
 * hvp_select_pairs; a capped scoring step uploads its drawn combinations. */
static hvp_status select_locals(hvp_selector *s, hvp_ctx *ctx, int b, int scored, long step,
                                const hvp_tensor *scores, const hvp_tensor *local_scores,
                                const hvp_tensor *rows, const hvp_tensor *chosen,
                                const hvp_tensor *local_rows, const hvp_tensor *kept)
{
    int nl = s->cfg.local_keep, ncombos = 0;
    hvp_tensor combos = s->pairs_dev; /* any buffer when there is no table */
    if (scored)
        HVP_TRY(hvp_select_combinations(s, step, s->combo_host, &ncombos));
    if (ncombos > 0) {
        HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 2, (int[]){ncombos, 1 + nl},
                                 "drawn combinations", &combos));
        HVP_TRY(hvp_tensor_upload(ctx, &combos, s->combo_host));
    }
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_hvp_select_locals, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, b);
    hvp_arg_int(&a, s->npairs);
    hvp_arg_int(&a, s->cfg.local_candidates);
    hvp_arg_int(&a, nl);
    hvp_arg_int(&a, scored);
    hvp_arg_mem(&a, scores->buf);
    hvp_arg_int(&a, (int)scores->off);
    hvp_arg_mem(&a, local_scores->buf);
    hvp_arg_int(&a, (int)local_scores->off);
    hvp_arg_int(&a, ncombos);
    hvp_arg_mem(&a, combos.buf);
    hvp_arg_int(&a, (int)combos.off);
    hvp_arg_mem(&a, s->pairs_dev.buf);
    hvp_arg_int(&a, (int)s->pairs_dev.off);
    hvp_arg_uint(&a, (unsigned)s->cfg.seed);
    hvp_arg_uint(&a, (unsigned)(s->cfg.seed >> 32));
    hvp_arg_uint(&a, (unsigned)step);
    hvp_arg_float(&a, s->cfg.random_fraction);
    hvp_arg_int(&a, s->cfg.rank);
    hvp_arg_int(&a, s->cfg.world > 1 ? s->cfg.world : 1);
    hvp_arg_mem(&a, rows->buf);
    hvp_arg_int(&a, (int)rows->off);
    hvp_arg_mem(&a, chosen->buf);
    hvp_arg_int(&a, (int)chosen->off);
    hvp_arg_mem(&a, local_rows->buf);
    hvp_arg_int(&a, (int)local_rows->off);
    hvp_arg_mem(&a, kept->buf);
    hvp_arg_int(&a, (int)kept->off);
    return hvp_launch_1d(ctx, &a, (size_t)b);
}

/* How many of b images a scoring step scores: ceil(f b), at least 1. */
static int images_scored(const hvp_selector *s, int b)
{
    float f = s->cfg.score_fraction;
    if (f >= 1 || f <= 0)
        return b;
    int n = (int)ceil((double)f * b - 1e-6);
    return n < 1 ? 1 : n > b ? b : n;
}

/* The candidates of the first bs of b images: views [n*b, ...] -> [n*bs, ...], view-major. */
static hvp_status first_images(hvp_ctx *ctx, const hvp_tensor *views, int n, int b, int bs,
                               hvp_tensor *out)
{
    if (bs == b) {
        *out = *views;
        return HVP_OK;
    }
    size_t per = hvp_numel(views) / (size_t)views->shape[0]; /* elements of one view */
    int shape[HVP_MAX_DIMS];
    memcpy(shape, views->shape, sizeof shape);
    shape[0] = n * bs;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "views to score", out, views->ndim, shape));
    shape[0] = bs;
    for (int v = 0; v < n; v++) {
        hvp_tensor from = hvp_tensor_view(views, (size_t)v * b * per, views->ndim, shape);
        hvp_tensor to = hvp_tensor_view(out, (size_t)v * bs * per, views->ndim, shape);
        HVP_TRY(hvp_tensor_copy(ctx, &to, &from));
    }
    return HVP_OK;
}

/* Scores from the method (m) or given from the host (host_scores [npairs, B]). */
static hvp_status select_views(hvp_selector *s, hvp_ctx *ctx, hvp_method *m,
                               const float *host_scores, const hvp_tensor *views,
                               const hvp_tensor *score_views, const hvp_tensor *locals,
                               long step, hvp_tensor *x12, hvp_tensor *local_out)
{
    if (!score_views)
        score_views = views;
    int n = s->cfg.views;
    if (views->ndim < 2 || views->shape[0] % n)
        return HVP_FAIL(HVP_ERR_ARG, "selection: %d view rows are not %d views per image",
                        views->shape[0], n);
    int b = views->shape[0] / n;
    s->ctx = ctx;
    if (score_views->shape[0] != views->shape[0])
        return HVP_FAIL(HVP_ERR_ARG, "selection: %d rows to score for %d views",
                        score_views->shape[0], views->shape[0]);
    int nl = s->cfg.local_keep, nc = s->cfg.local_candidates;
    if (nl > 0 && (!locals || !local_out || locals->ndim < 2 || locals->shape[0] != nc * b))
        return HVP_FAIL(HVP_ERR_ARG, "selection: %d local candidates of %d images need %d rows, "
                        "got %d", nc, b, nc * b, locals && locals->ndim ? locals->shape[0] : 0);
    if (nl > 0 && !m->ops->score_pairs_locals)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.local_candidates: method %s cannot score local views",
                        m->ops->name);
    int scored = step % s->cfg.select_every == 0;
    int bs = scored ? images_scored(s, b) : 0; /* b whenever nl > 0 (selector_create) */

    if (!s->pairs_dev.buf) { /* constant: uploaded once, outside the steps' arena */
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_I32, 2, (int[]){s->npairs, 2}, "view pairs",
                                 &s->pairs_dev));
        HVP_TRY(hvp_tensor_upload(ctx, &s->pairs_dev, s->pairs));
    }
    hvp_tensor scores, rows, chosen, local_scores, local_rows, kept;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "pair losses", &scores, 2,
                          (int[]){s->npairs, bs > 0 ? bs : 1}));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, (int[]){2 * b}, "chosen rows", &rows));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &b, "chosen pairs", &chosen));
    if (nl > 0) {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "local losses", &local_scores, 3,
                              (int[]){s->npairs, nc, b}));
        HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, (int[]){nl * b}, "kept local rows",
                                 &local_rows));
        HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, (int[]){nl * b}, "kept locals", &kept));
    }
    if (scored) {
        /* Scoring keeps no activations; give its memory back once the scores exist. */
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        hvp_tensor to_score;
        if (host_scores) { /* uploaded through the step's staging: no wait */
            HVP_TRY(hvp_tensor_upload(ctx, &scores, host_scores));
        } else if (nl > 0) {
            hvp_step_input in = {(uint32_t)step, locals, nc};
            HVP_TRY(m->ops->score_pairs_locals(m, ctx, score_views, n, s->npairs,
                                               (const int (*)[2])s->pairs, &in, &scores,
                                               &local_scores));
        } else {
            HVP_TRY(first_images(ctx, score_views, n, b, bs, &to_score));
            HVP_TRY(m->ops->score_pairs(m, ctx, &to_score, n, s->npairs,
                                        (const int (*)[2])s->pairs, (uint32_t)step, &scores));
        }
        hvp_arena_rewind(ctx->acts, mark);
    }

    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_hvp_select_pairs, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, b);
    hvp_arg_int(&a, s->npairs);
    hvp_arg_int(&a, bs);
    hvp_arg_mem(&a, scores.buf);
    hvp_arg_int(&a, (int)scores.off);
    hvp_arg_mem(&a, s->pairs_dev.buf);
    hvp_arg_int(&a, (int)s->pairs_dev.off);
    hvp_arg_uint(&a, (unsigned)s->cfg.seed);
    hvp_arg_uint(&a, (unsigned)(s->cfg.seed >> 32));
    hvp_arg_uint(&a, (unsigned)step);
    hvp_arg_float(&a, s->cfg.random_fraction);
    hvp_arg_int(&a, s->cfg.rank);
    hvp_arg_int(&a, s->cfg.world > 1 ? s->cfg.world : 1);
    hvp_arg_mem(&a, rows.buf);
    hvp_arg_int(&a, (int)rows.off);
    hvp_arg_mem(&a, chosen.buf);
    hvp_arg_int(&a, (int)chosen.off);
    HVP_TRY(hvp_launch_1d(ctx, &a, (size_t)b));
    if (nl > 0)
        HVP_TRY(select_locals(s, ctx, b, scored, step, &scores, &local_scores, &rows, &chosen,
                              &local_rows, &kept));

    int shape[HVP_MAX_DIMS];
    memcpy(shape, views->shape, sizeof shape);
    shape[0] = 2 * b;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "selected views", x12, views->ndim, shape));
    HVP_TRY(hvp_gather_fwd(ctx, views, &rows, x12));
    if (nl > 0) {
        memcpy(shape, locals->shape, sizeof shape);
        shape[0] = nl * b;
        HVP_TRY(hvp_alloc_f32(ctx->acts, "selected local views", local_out, locals->ndim, shape));
        HVP_TRY(hvp_gather_fwd(ctx, locals, &local_rows, local_out));
    }

    s->pending = 0;
    if (scored) {
        /* Read back without waiting: the statistics are folded in after the step. */
        HVP_TRY(ensure_host(s, bs));
        wait_reads(s); /* the previous step's, when it was never collected */
        s->reads_drains = ctx->host_waits;
        CL_CHECK(clEnqueueReadBuffer(ctx->queue, chosen.buf, CL_FALSE, chosen.off * sizeof(int),
                                     (size_t)bs * sizeof(int), s->chosen_host, 0, NULL,
                                     &s->reads[0]));
        CL_CHECK(clEnqueueReadBuffer(ctx->queue, scores.buf, CL_FALSE,
                                     scores.off * sizeof(float), hvp_nbytes(&scores),
                                     s->scores_host, 0, NULL, &s->reads[1]));
        if (nl > 0)
            CL_CHECK(clEnqueueReadBuffer(ctx->queue, kept.buf, CL_FALSE, kept.off * sizeof(int),
                                         hvp_nbytes(&kept), s->local_host, 0, NULL,
                                         &s->reads[2]));
        s->pending = 1;
        s->pending_b = bs;
    }
    return HVP_OK;
}

hvp_status hvp_select(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                      const hvp_tensor *score_views, long step, hvp_tensor *x12)
{
    return select_views(s, ctx, m, NULL, views, score_views, NULL, step, x12, NULL);
}

hvp_status hvp_select_views(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                            const hvp_tensor *score_views, const hvp_tensor *locals, long step,
                            hvp_tensor *x12, hvp_tensor *local_out)
{
    return select_views(s, ctx, m, NULL, views, score_views, locals, step, x12, local_out);
}

hvp_status hvp_select_given(hvp_selector *s, hvp_ctx *ctx, const float *scores,
                            const hvp_tensor *views, long step, hvp_tensor *x12)
{
    if ((s->cfg.score_fraction > 0 && s->cfg.score_fraction < 1) || s->cfg.local_keep > 0)
        return HVP_FAIL(HVP_ERR_ARG, "selection by given scores: hvp.score_fraction must be 1 "
                        "and no local-crop selection");
    return select_views(s, ctx, NULL, scores, views, NULL, NULL, step, x12, NULL);
}

void hvp_selector_collect(hvp_selector *s)
{
    wait_reads(s);
    if (!s->pending)
        return;
    int b = s->pending_b;
    for (int i = 0; i < b; i++) {
        int k = s->chosen_host[i];
        s->wins[k]++;
        s->sum_chosen_loss += s->scores_host[(size_t)k * b + i];
        for (int p = 0; p < s->npairs; p++)
            s->sum_all_loss += s->scores_host[(size_t)p * b + i] / s->npairs;
    }
    for (int j = 0; j < s->cfg.local_keep * b; j++)
        s->local_wins[s->local_host[j]]++;
    s->scored_samples += b;
    s->pending = 0;
}

void hvp_selector_reset_stats(hvp_selector *s)
{
    s->sum_chosen_loss = s->sum_all_loss = 0;
    s->scored_samples = 0;
    memset(s->wins, 0, (size_t)s->npairs * sizeof *s->wins);
    if (s->local_wins)
        memset(s->local_wins, 0, (size_t)s->cfg.local_candidates * sizeof *s->local_wins);
}
