/* Hard view selection on its own (a stand-in method with constant pair losses): the host
 * copies that a scoring step reads without blocking outlive any error path. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
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
    hvp_select_config cfg = {n, 1, 0.0f, 7, 0, 1};
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
    hvp_select_config cfg = {3, 1, 0.0f, 7, 0, 1};
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
