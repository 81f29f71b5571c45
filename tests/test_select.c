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
                                  int nviews, int npairs, const int (*pairs)[2],
                                  const hvp_tensor *scores)
{
    (void)m, (void)views, (void)nviews, (void)npairs, (void)pairs;
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
    hvp_select_config cfg = {n, 1, 0.0f, 7, 1.0f};
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
                               int nviews, int npairs, const int (*pairs)[2],
                               const hvp_tensor *scores)
{
    (void)m, (void)views, (void)nviews, (void)npairs, (void)pairs;
    return hvp_tensor_upload(ctx, scores, given);
}

HVP_TEST(select_follows_the_argmax_rule_for_ties_and_nan)
{
    hvp_ctx *ctx = test_ctx();
    static const hvp_method_ops given_ops = {.name = "given", .score_pairs = given_scores};
    hvp_method m = {.ops = &given_ops};
    hvp_select_config cfg = {3, 1, 0.0f, 7, 1.0f};
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

/* hvp.score_fraction: the method scores the first ceil(f B) images' candidates (rows
 * v B + i, i < that, as one view-major batch); they take their hardest pair, the others a
 * random pair of two different views of their own image, and only the scored ones count
 * in the statistics. */
static int scored_rows;
static hvp_status view_major_scores(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                                    int nviews, int npairs, const int (*pairs)[2],
                                    const hvp_tensor *scores)
{
    (void)m, (void)pairs;
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
    hvp_select_config cfg = {n, 1, 0.0f, 7, 0.4f};
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
    hvp_select_config bad = {n, 1, 0.0f, 7, 0.0f};
    EXPECT(hvp_selector_create(&bad, &sel) != HVP_OK && strstr(hvp_last_error(), "score_fraction"),
           "score_fraction 0 must be refused, naming the key");
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
    hvp_select_config cfg = {N, 1, 0.0f, 7, 1.0f};
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
