/* Hard view selection: candidate pairs, the device-side pairwise-loss reduction, and the
 * gather of the chosen views. Knows no method's loss: the method scores the pairs. */
#include <stdlib.h>
#include <string.h>

#include "hvp/select.h"

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
    hvp_selector *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    s->cfg = *cfg;
    s->npairs = cfg->views * (cfg->views - 1) / 2;
    s->pairs = calloc((size_t)s->npairs, sizeof *s->pairs);
    s->wins = calloc((size_t)s->npairs, sizeof *s->wins);
    if (!s->pairs || !s->wins) {
        hvp_selector_destroy(s);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    int k = 0;
    for (int i = 0; i < cfg->views; i++)
        for (int j = i + 1; j < cfg->views; j++, k++) {
            s->pairs[k][0] = i;
            s->pairs[k][1] = j;
        }
    *out = s;
    return HVP_OK;
}

/* Waits for the reads into the host copies, so that they may be moved or freed (a step
 * that failed after hvp_select leaves them queued). */
static void wait_reads(hvp_selector *s)
{
    for (int i = 0; i < 2; i++)
        if (s->reads[i]) {
            /* finished already if the in-order queue was drained since (the step's loss) */
            if (s->ctx && s->ctx->host_waits == s->reads_drains)
                s->ctx->host_waits++;
            clWaitForEvents(1, &s->reads[i]);
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
    if (!c || !f)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    s->host_cap = need;
    return HVP_OK;
}

hvp_status hvp_select(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                      const hvp_tensor *score_views, long step, hvp_tensor *x12)
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
    int scored = step % s->cfg.select_every == 0;

    if (!s->pairs_dev.buf) { /* constant: uploaded once, outside the steps' arena */
        HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_I32, 2, (int[]){s->npairs, 2}, "view pairs",
                                 &s->pairs_dev));
        HVP_TRY(hvp_tensor_upload(ctx, &s->pairs_dev, s->pairs));
    }
    hvp_tensor scores, rows, chosen;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "pair losses", &scores, 2, (int[]){s->npairs, b}));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, (int[]){2 * b}, "chosen rows", &rows));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &b, "chosen pairs", &chosen));
    if (scored) {
        /* Scoring keeps no activations; give its memory back once the scores exist. */
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        HVP_TRY(m->ops->score_pairs(m, ctx, score_views, n, s->npairs,
                                    (const int (*)[2])s->pairs, &scores));
        hvp_arena_rewind(ctx->acts, mark);
    }

    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "hvp_select", "hvp_select_pairs", &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, b);
    hvp_arg_int(&a, s->npairs);
    hvp_arg_int(&a, scored);
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

    int shape[HVP_MAX_DIMS];
    memcpy(shape, views->shape, sizeof shape);
    shape[0] = 2 * b;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "selected views", x12, views->ndim, shape));
    HVP_TRY(hvp_gather_fwd(ctx, views, &rows, x12));

    s->pending = 0;
    if (scored) {
        /* Read back without waiting: the statistics are folded in after the step. */
        HVP_TRY(ensure_host(s, b));
        wait_reads(s); /* the previous step's, when it was never collected */
        s->reads_drains = ctx->host_waits;
        CL_CHECK(clEnqueueReadBuffer(ctx->queue, chosen.buf, CL_FALSE, chosen.off * sizeof(int),
                                     (size_t)b * sizeof(int), s->chosen_host, 0, NULL,
                                     &s->reads[0]));
        CL_CHECK(clEnqueueReadBuffer(ctx->queue, scores.buf, CL_FALSE,
                                     scores.off * sizeof(float), hvp_nbytes(&scores),
                                     s->scores_host, 0, NULL, &s->reads[1]));
        s->pending = 1;
        s->pending_b = b;
    }
    return HVP_OK;
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
    s->scored_samples += b;
    s->pending = 0;
}

void hvp_selector_reset_stats(hvp_selector *s)
{
    s->sum_chosen_loss = s->sum_all_loss = 0;
    s->scored_samples = 0;
    memset(s->wins, 0, (size_t)s->npairs * sizeof *s->wins);
}
