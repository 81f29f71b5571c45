/* Hard view selection on its own (a stand-in method with constant pair losses): the host
 * copies that a scoring step reads without blocking outlive any error path. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/augment.h"
#include "hvp/select.h"

static hvp_status constant_scores(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                                  int nviews, int npairs, const int (*pairs)[2], uint32_t step,
                                  const hvp_tensor *scores)
{
    (void)m, (void)views, (void)nviews, (void)npairs, (void)pairs, (void)step;
    return hvp_tensor_fill_f32(ctx, scores, 1.0f);
}

static const hvp_method_ops constant_ops = {.name = "constant", .score_pairs = constant_scores};

typedef struct destroyer {
    hvp_selector *sel;
    atomic_int done;
} destroyer;

static void *destroy_selector(void *arg)
{
    destroyer *d = arg;
    hvp_selector_destroy(d->sel);
    atomic_store(&d->done, 1);
    return NULL;
}

/* A step that fails after hvp_select leaves its reads queued, and teardown destroys the
 * selector: destroy must wait for them, not free the buffers the device writes into. The
 * queue is held back by a user event, so the reads are certainly still pending. */
HVP_TEST(select_destroy_waits_for_pending_reads)
{
    hvp_ctx *ctx = test_ctx();
    int n = 3, b = 5;
    hvp_method m = {.ops = &constant_ops};
    hvp_select_config cfg = {.views = n, .select_every = 1, .seed = 7};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&cfg, &sel));
    float *x = test_floats((size_t)n * b * 4);
    test_fill_uniform(x, (size_t)n * b * 4, -1, 1);
    hvp_tensor views = test_tensor(2, (int[]){n * b, 4}, x), x12;
    /* The first step uploads the pair table (which waits for the queue): not held back. */
    REQUIRE_OK(hvp_select(sel, ctx, &m, &views, NULL, 0, &x12));
    clFinish(ctx->queue);
    hvp_selector_collect(sel);
    EXPECT(sel->scored_samples == b && sel->wins[0] == b,
           "equal losses go to pair 0: %ld of %ld samples", sel->wins[0], sel->scored_samples);

    cl_int err;
    cl_event gate = clCreateUserEvent(ctx->context, &err);
    EXPECT(err == CL_SUCCESS, "clCreateUserEvent: %d", err);
    if (err != CL_SUCCESS)
        return;
    EXPECT(clEnqueueMarkerWithWaitList(ctx->queue, 1, &gate, NULL) == CL_SUCCESS, "marker");
    hvp_status st = hvp_select(sel, ctx, &m, &views, NULL, 1, &x12);
    EXPECT(st == HVP_OK, "second step: %s", hvp_last_error());
    destroyer d = {sel, 0};
    pthread_t thread;
    EXPECT(pthread_create(&thread, NULL, destroy_selector, &d) == 0, "pthread_create");
    usleep(200 * 1000);
    EXPECT(!atomic_load(&d.done),
           "hvp_selector_destroy returned while its reads were still queued");
    clSetUserEventStatus(gate, CL_COMPLETE);
    pthread_join(thread, NULL);
    clFinish(ctx->queue);
    clReleaseEvent(gate);
}

/* Losses per pair [3 pairs, 5 samples] with ties, NaN and -inf: the choice follows
 * torch.argmax (ties to the lower pair, the first NaN wins), as hvp_argmax_fwd does. */
static const float given[3 * 5] = {
    1, 5, 1,   NAN, -INFINITY, /* pair 0 of samples 0..4 */
    2, 5, NAN, NAN, -1,        /* pair 1 */
    3, 1, 9,   1,   -1,        /* pair 2 */
};

static hvp_status given_scores(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                               int nviews, int npairs, const int (*pairs)[2], uint32_t step,
                               const hvp_tensor *scores)
{
    (void)m, (void)views, (void)nviews, (void)npairs, (void)pairs, (void)step;
    return hvp_tensor_upload(ctx, scores, given);
}

HVP_TEST(select_follows_the_argmax_rule_for_ties_and_nan)
{
    hvp_ctx *ctx = test_ctx();
    static const hvp_method_ops given_ops = {.name = "given", .score_pairs = given_scores};
    hvp_method m = {.ops = &given_ops};
    hvp_select_config cfg = {.views = 3, .select_every = 1, .seed = 7};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&cfg, &sel));
    float *x = test_floats(3 * 5 * 4);
    test_fill_uniform(x, 3 * 5 * 4, -1, 1);
    hvp_tensor views = test_tensor(2, (int[]){3 * 5, 4}, x), x12;
    REQUIRE_OK(hvp_select(sel, ctx, &m, &views, NULL, 0, &x12));
    clFinish(ctx->queue);
    const int want[5] = {2, 0, 1, 0, 1};
    for (int s = 0; s < 5; s++)
        EXPECT(sel->chosen_host[s] == want[s], "sample %d: pair %d chosen, want %d", s,
               sel->chosen_host[s], want[s]);
    /* the same rule as hvp_argmax_fwd on the same losses, one sample per row */
    float rows[5 * 3];
    for (int s = 0; s < 5; s++)
        for (int k = 0; k < 3; k++)
            rows[s * 3 + k] = given[k * 5 + s];
    hvp_tensor tx = test_tensor(2, (int[]){5, 3}, rows);
    hvp_tensor idx;
    REQUIRE_OK(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, (int[]){5}, "argmax", &idx));
    REQUIRE_OK(hvp_argmax_fwd(ctx, &tx, &idx, NULL));
    int got[5];
    REQUIRE_OK(hvp_tensor_download(ctx, &idx, got));
    for (int s = 0; s < 5; s++)
        EXPECT(got[s] == want[s], "hvp_argmax_fwd row %d: %d, want %d", s, got[s], want[s]);
    hvp_selector_collect(sel);
    hvp_selector_destroy(sel);
}

/* ---- (even, odd) pairs, local-crop selection and its cap ---------------------------- */

HVP_TEST(select_pairs_even_odd_for_asymmetric_methods)
{
    /* itertools.product(range(0, N, 2), range(1, N, 2)), as the paper's DINO code */
    static const int want4[][2] = {{0, 1}, {0, 3}, {2, 1}, {2, 3}};
    static const int want5[][2] = {{0, 1}, {0, 3}, {2, 1}, {2, 3}, {4, 1}, {4, 3}};
    for (int n = 4; n <= 5; n++) {
        hvp_select_config cfg = {.views = n, .select_every = 1, .asymmetric = 1};
        hvp_selector *sel;
        REQUIRE_OK(hvp_selector_create(&cfg, &sel));
        const int(*want)[2] = n == 4 ? want4 : want5;
        int count = n == 4 ? 4 : 6;
        EXPECT(sel->npairs == count, "%d views: %d pairs, want %d", n, sel->npairs, count);
        for (int k = 0; k < sel->npairs && k < count; k++)
            EXPECT(sel->pairs[k][0] == want[k][0] && sel->pairs[k][1] == want[k][1],
                   "%d views, pair %d: (%d,%d), want (%d,%d)", n, k, sel->pairs[k][0],
                   sel->pairs[k][1], want[k][0], want[k][1]);
        hvp_selector_destroy(sel);
    }
    hvp_select_config all = {.views = 4, .select_every = 1};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&all, &sel));
    EXPECT(sel->npairs == 6 && sel->pairs[5][0] == 2 && sel->pairs[5][1] == 3,
           "symmetric: every pair, lexicographic (%d pairs)", sel->npairs);
    hvp_selector_destroy(sel);
}

/* The combinations of npairs pairs with l of m locals in the reference's order (pairs
 * outer, itertools.combinations inner): rows of 1 + l ints; returns their number. */
static int list_combinations(int npairs, int m, int l, int *table)
{
    int n = 0, idx[64];
    for (int q = 0; q < npairs; q++) {
        for (int i = 0; i < l; i++)
            idx[i] = i;
        for (;;) {
            table[n * (1 + l)] = q;
            memcpy(table + n * (1 + l) + 1, idx, (size_t)l * sizeof *idx);
            n++;
            int i = l - 1;
            while (i >= 0 && idx[i] == m - l + i)
                i--;
            if (i < 0)
                break;
            idx[i]++;
            for (int j = i + 1; j < l; j++)
                idx[j] = idx[j - 1] + 1;
        }
    }
    return n;
}

static int rank_of(const int *row, const int *all, int count, int l)
{
    for (int k = 0; k < count; k++)
        if (!memcmp(row, all + k * (1 + l), (size_t)(1 + l) * sizeof *row))
            return k;
    return -1;
}

HVP_TEST(select_cap_draws_distinct_combinations_in_order)
{
    int m = 5, l = 2, npairs = 4, total = 40; /* 4 (even, odd) pairs x C(5, 2) */
    int all[40 * 3], table[40 * 3], count;
    EXPECT(list_combinations(npairs, m, l, all) == total, "the test's own list");
    for (int limit = 0; limit <= 41; limit++) {
        hvp_select_config cfg = {.views = 4, .select_every = 1, .seed = 11, .asymmetric = 1,
                                 .local_candidates = m, .local_keep = l, .limit = limit};
        hvp_selector *sel;
        REQUIRE_OK(hvp_selector_create(&cfg, &sel));
        EXPECT(sel->ncombos == (uint64_t)total, "%llu combinations, want %d",
               (unsigned long long)sel->ncombos, total);
        int seen[40] = {0};
        for (long step = 0; step < 100; step++) {
            REQUIRE_OK(hvp_select_combinations(sel, step, table, &count));
            if (limit == 0 || limit >= total) { /* no cap: every one, exactly */
                EXPECT(count == 0, "limit %d: %d drawn, want 0 (all scored)", limit, count);
                break;
            }
            EXPECT(count == limit, "limit %d, step %ld: %d drawn", limit, step, count);
            int last = -1;
            for (int k = 0; k < count; k++) {
                int r = rank_of(table + k * 3, all, total, l);
                EXPECT(r > last, "limit %d, step %ld: combination %d (pair %d, locals %d %d) "
                       "not a new one in the listed order", limit, step, k, table[k * 3],
                       table[k * 3 + 1], table[k * 3 + 2]);
                last = r;
                if (r >= 0)
                    seen[r]++;
            }
        }
        if (limit >= 5 && limit < total) /* every one can be drawn (missed: p < 1e-4) */
            for (int r = 0; r < total; r++)
                EXPECT(seen[r] > 0, "limit %d: combination %d never drawn in 100 steps", limit,
                       r);
        if (limit == 7) { /* a step's draw depends on (seed, step) only */
            int again[7 * 3], other[7 * 3];
            REQUIRE_OK(hvp_select_combinations(sel, 3, table, &count));
            REQUIRE_OK(hvp_select_combinations(sel, 3, again, &count));
            REQUIRE_OK(hvp_select_combinations(sel, 4, other, &count));
            EXPECT(!memcmp(table, again, sizeof again), "step 3 drawn twice differs");
            EXPECT(memcmp(table, other, sizeof other), "steps 3 and 4 drew the same");
        }
        hvp_selector_destroy(sel);
    }
    hvp_select_config bad = {.views = 4, .select_every = 1, .local_candidates = 1,
                             .local_keep = 2};
    hvp_selector *sel = NULL;
    EXPECT(hvp_selector_create(&bad, &sel) != HVP_OK && strstr(hvp_last_error(), "keeps 2 of 1"),
           "2 of 1 local candidates: %s", hvp_last_error());
}

/* A stand-in method whose pair and local scores are given ([pairs, B], [pairs, M, B]). */
static const float *given_pair_scores, *given_local_scores;
static hvp_step_input given_views_seen; /* what the selection gave the method */
static hvp_status given_views_scores(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                                     int nviews, int npairs, const int (*pairs)[2],
                                     const hvp_step_input *in, const hvp_tensor *scores,
                                     const hvp_tensor *local_scores)
{
    (void)m, (void)views, (void)nviews, (void)npairs, (void)pairs;
    given_views_seen = *in;
    HVP_TRY(hvp_tensor_upload(ctx, scores, given_pair_scores));
    return hvp_tensor_upload(ctx, local_scores, given_local_scores);
}

/* Per sample the combination of the highest pair + local scores among rows of table
 * (ties to the first), on the host. */
static int best_combination(const int *table, int count, int l, int m, int b, int s,
                            const float *ps, const float *ls)
{
    int best = 0;
    float top = 0;
    for (int k = 0; k < count; k++) {
        const int *row = table + k * (1 + l);
        float v = ps[row[0] * b + s];
        for (int j = 0; j < l; j++)
            v += ls[(row[0] * m + row[1 + j]) * b + s];
        if (k == 0 || v > top) {
            top = v;
            best = k;
        }
    }
    return best;
}

HVP_TEST(select_locals_jointly_with_the_pair_as_brute_force)
{
    hvp_ctx *ctx = test_ctx();
    enum { B = 7, N = 4, M = 5, L = 2, P = 4, D = 3 };
    static const hvp_method_ops ops = {.name = "given", .score_pairs_locals = given_views_scores};
    hvp_method meth = {.ops = &ops};
    float *ps = test_floats(P * B), *ls = test_floats(P * M * B);
    test_fill_uniform(ps, P * B, 0, 1);
    test_fill_uniform(ls, P * M * B, 0, 1);
    given_pair_scores = ps, given_local_scores = ls;
    float *x = test_floats(N * B * D), *xl = test_floats(M * B * D);
    test_fill_uniform(x, N * B * D, -1, 1);
    test_fill_uniform(xl, M * B * D, -1, 1);
    int all[P * 10 * (1 + L)];
    int total = list_combinations(P, M, L, all);
    for (int limit = 0; limit <= 9; limit += 9) { /* no cap, then 9 of the 40 */
        hvp_select_config cfg = {.views = N, .select_every = 1, .seed = 5, .asymmetric = 1,
                                 .local_candidates = M, .local_keep = L, .limit = limit};
        hvp_selector *sel;
        REQUIRE_OK(hvp_selector_create(&cfg, &sel));
        hvp_tensor views = test_tensor(2, (int[]){N * B, D}, x);
        hvp_tensor locals = test_tensor(2, (int[]){M * B, D}, xl), x12, kept;
        long step = 6;
        REQUIRE_OK(hvp_select_views(sel, ctx, &meth, &views, NULL, &locals, step, &x12, &kept));
        REQUIRE_OK(hvp_ctx_finish(ctx));
        hvp_selector_collect(sel);
        EXPECT(given_views_seen.step == step && given_views_seen.local == &locals &&
                   given_views_seen.nlocal == M,
               "the method scored step %u with %d local views, want step %ld and the %d "
               "candidates", (unsigned)given_views_seen.step, given_views_seen.nlocal, step, M);
        int table[9 * (1 + L)], count = 0;
        REQUIRE_OK(hvp_select_combinations(sel, step, table, &count));
        const int *list = limit ? table : all;
        count = limit ? count : total;
        float *got = test_read(&x12), *got_local = test_read(&kept);
        long wins = 0;
        for (int s = 0; s < B; s++) {
            const int *row = list + best_combination(list, count, L, M, B, s, ps, ls) * (1 + L);
            EXPECT(sel->chosen_host[s] == row[0], "limit %d, sample %d: pair %d, want %d", limit,
                   s, sel->chosen_host[s], row[0]);
            for (int j = 0; j < L; j++) {
                EXPECT(sel->local_host[j * B + s] == row[1 + j], "limit %d, sample %d: local "
                       "slot %d holds candidate %d, want %d", limit, s, j,
                       sel->local_host[j * B + s], row[1 + j]);
                EXPECT(!memcmp(got_local + (j * B + s) * D, xl + (row[1 + j] * B + s) * D,
                               D * sizeof(float)),
                       "limit %d, sample %d: local slot %d is not candidate %d's view", limit, s,
                       j, row[1 + j]);
            }
            for (int v = 0; v < 2; v++)
                EXPECT(!memcmp(got + (v * B + s) * D, x + (sel->pairs[row[0]][v] * B + s) * D,
                               D * sizeof(float)),
                       "limit %d, sample %d: global %d is not view %d", limit, s, v,
                       sel->pairs[row[0]][v]);
        }
        for (int l = 0; l < M; l++)
            wins += sel->local_wins[l];
        EXPECT(wins == L * B, "local wins count %ld kept views, want %d", wins, L * B);
        hvp_selector_destroy(sel);
    }
    /* a sample that keeps a random pair keeps the first L candidates */
    hvp_select_config cfg = {.views = N, .select_every = 1, .random_fraction = 1, .seed = 5,
                             .asymmetric = 1, .local_candidates = M, .local_keep = L};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&cfg, &sel));
    hvp_tensor views = test_tensor(2, (int[]){N * B, D}, x);
    hvp_tensor locals = test_tensor(2, (int[]){M * B, D}, xl), x12, kept;
    REQUIRE_OK(hvp_select_views(sel, ctx, &meth, &views, NULL, &locals, 0, &x12, &kept));
    REQUIRE_OK(hvp_ctx_finish(ctx));
    hvp_selector_collect(sel);
    for (int s = 0; s < B; s++)
        for (int j = 0; j < L; j++)
            EXPECT(sel->local_host[j * B + s] == j, "random pair, sample %d: slot %d holds %d", s,
                   j, sel->local_host[j * B + s]);
    hvp_selector_destroy(sel);
}

/* hvp.score_fraction: the method scores the first ceil(f B) images' candidates (rows
 * v B + i, i < that, as one view-major batch); they take their hardest pair, the others a
 * random pair of two different views of their own image, and only the scored ones count
 * in the statistics. */
static int scored_rows;
static hvp_status view_major_scores(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                                    int nviews, int npairs, const int (*pairs)[2], uint32_t step,
                                    const hvp_tensor *scores)
{
    (void)m, (void)pairs, (void)step;
    int bs = views->shape[0] / nviews, d = views->shape[1];
    float *x = test_read(views);
    scored_rows = views->shape[0];
    for (int v = 0; v < nviews; v++)
        for (int i = 0; i < bs; i++)
            EXPECT(x[(size_t)(v * bs + i) * d] == (float)(100 * v + i),
                   "row %d of the scored views holds %g, expected view %d of image %d",
                   v * bs + i, x[(size_t)(v * bs + i) * d], v, i);
    /* pair k's loss is k: the last pair is the hardest */
    float *s = test_floats((size_t)npairs * bs);
    for (int k = 0; k < npairs; k++)
        for (int i = 0; i < bs; i++)
            s[k * bs + i] = (float)k;
    return hvp_tensor_upload(ctx, scores, s);
}

HVP_TEST(select_score_fraction_scores_the_first_images)
{
    hvp_ctx *ctx = test_ctx();
    static const hvp_method_ops ops = {.name = "view-major", .score_pairs = view_major_scores};
    hvp_method m = {.ops = &ops};
    int n = 3, b = 7, d = 2, bs = 3; /* ceil(0.4 * 7) */
    hvp_select_config cfg = {.views = n, .select_every = 1, .seed = 7, .score_fraction = 0.4f};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&cfg, &sel));
    float *x = test_floats((size_t)n * b * d);
    for (int v = 0; v < n; v++)
        for (int i = 0; i < b; i++)
            for (int j = 0; j < d; j++)
                x[(size_t)(v * b + i) * d + j] = (float)(100 * v + i);
    hvp_tensor views = test_tensor(2, (int[]){n * b, d}, x), x12;
    scored_rows = 0;
    REQUIRE_OK(hvp_select(sel, ctx, &m, &views, NULL, 0, &x12));
    float *y = test_read(&x12);
    hvp_selector_collect(sel);
    EXPECT(scored_rows == n * bs, "the method scored %d rows, expected %d", scored_rows, n * bs);
    for (int i = 0; i < b; i++) {
        float first = y[(size_t)i * d], second = y[(size_t)(b + i) * d];
        int v1 = (int)first / 100, v2 = (int)second / 100;
        EXPECT((int)first % 100 == i && (int)second % 100 == i && v1 < v2,
               "image %d trains on %g and %g: not two views of itself", i, first, second);
        if (i < bs)
            EXPECT(v1 == 1 && v2 == 2, "scored image %d trains on views %d, %d: expected the "
                   "hardest pair (1, 2)", i, v1, v2);
    }
    EXPECT(sel->scored_samples == bs && sel->wins[2] == bs,
           "statistics over %ld samples (%ld wins of pair 2), expected %d", sel->scored_samples,
           sel->wins[2], bs);
    hvp_selector_destroy(sel);
    hvp_select_config bad = {.views = n, .select_every = 1, .seed = 7, .score_fraction = 1.5f};
    EXPECT(hvp_selector_create(&bad, &sel) != HVP_OK && strstr(hvp_last_error(), "score_fraction"),
           "score_fraction 1.5 must be refused, naming the key");
}

/* hvp.select_by = overlap: the score of a pair is 1 - IoU of its crop boxes, as the
 * augmentation draws them (checked here by counting pixels of the two boxes), and the
 * pair whose crops overlap least is trained on, without a forward or a FLOP. */
HVP_TEST(select_by_overlap_takes_the_least_overlapping_crops)
{
    hvp_ctx *ctx = test_ctx();
    enum { N = 3, B = 4, S = 32, D = 2 };
    hvp_view_config vc;
    hvp_views_preset_default(&vc, N, 16);
    hvp_select_config cfg = {.views = N, .select_every = 1, .seed = 7};
    hvp_selector *sel;
    REQUIRE_OK(hvp_selector_create(&cfg, &sel));
    int heights[B] = {S, S, S, S}, widths[B] = {S, S, S, S}, labels[B] = {0};
    int64_t indices[B] = {5, 17, 42, 99};
    size_t offsets[B] = {0};
    hvp_image_batch b = {B, 3, NULL, 0, offsets, heights, widths, labels, indices};
    float scores[3 * B];
    hvp_overlap_scores(sel, &vc, &b, 3, 1, scores);
    int want[B];
    for (int i = 0; i < B; i++) {
        hvp_view_params p[N];
        for (int v = 0; v < N; v++)
            hvp_view_sample(&vc.slot[v], 3, 1, indices[i], v, S, S, &p[v]);
        double best = -1;
        for (int k = 0; k < sel->npairs; k++) {
            const hvp_view_params *a = &p[sel->pairs[k][0]], *c = &p[sel->pairs[k][1]];
            long inter = 0, uni = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    int in_a = y >= a->crop_top && y < a->crop_top + a->crop_h &&
                               x >= a->crop_left && x < a->crop_left + a->crop_w;
                    int in_c = y >= c->crop_top && y < c->crop_top + c->crop_h &&
                               x >= c->crop_left && x < c->crop_left + c->crop_w;
                    inter += in_a && in_c;
                    uni += in_a || in_c;
                }
            double score = 1.0 - (double)inter / (double)uni;
            EXPECT(fabs(scores[k * B + i] - score) < 1e-6,
                   "image %d pair %d: score %g, pixels say %g", i, k, scores[k * B + i], score);
            if (score > best) {
                best = score;
                want[i] = k;
            }
        }
    }
    float *x = test_floats((size_t)N * B * D);
    for (int v = 0; v < N; v++)
        for (int i = 0; i < B; i++)
            for (int j = 0; j < D; j++)
                x[(size_t)(v * B + i) * D + j] = (float)(100 * v + i);
    hvp_tensor views = test_tensor(2, (int[]){N * B, D}, x), x12;
    uint64_t flops = hvp_flops_total(ctx);
    REQUIRE_OK(hvp_select_given(sel, ctx, scores, &views, 0, &x12));
    float *y = test_read(&x12);
    hvp_selector_collect(sel);
    EXPECT(hvp_flops_total(ctx) == flops, "selection by overlap counted %.0f FLOPs",
           (double)(hvp_flops_total(ctx) - flops));
    for (int i = 0; i < B; i++) {
        int k = want[i];
        EXPECT(sel->chosen_host[i] == k, "image %d: pair %d chosen, the least overlap is pair %d",
               i, sel->chosen_host[i], k);
        EXPECT(y[(size_t)i * D] == (float)(100 * sel->pairs[k][0] + i) &&
                   y[(size_t)(B + i) * D] == (float)(100 * sel->pairs[k][1] + i),
               "image %d trains on %g and %g, expected views %d and %d", i, y[(size_t)i * D],
               y[(size_t)(B + i) * D], sel->pairs[k][0], sel->pairs[k][1]);
    }
    hvp_selector_destroy(sel);
}
