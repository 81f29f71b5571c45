/* Hard view selection, generic over methods: from N candidate views per image, keep for
 * each image the pair with the highest loss under the current model (Beyond Random
 * Augmentations: Pretraining with Hard Views, ICLR 2025). */
#ifndef HVP_SELECT_H
#define HVP_SELECT_H

#include "hvp/ssl.h"

typedef struct hvp_select_config {
    int views;             /* N candidates per image (>= 2); 4 in the paper */
    int select_every;      /* score every k-th step; other steps take a random pair */
    float random_fraction; /* share of samples that keep a random pair even when scored */
    uint64_t seed;         /* random pairs draw from (seed, step, sample) */
    /* Data-parallel runs: this rank's images are every world-th of the global batch from
     * the rank-th on, so sample s draws with key s * world + rank, as the one device that
     * holds the whole batch would (world 0 means 1). */
    int rank, world;
} hvp_select_config;

typedef struct hvp_selector {
    hvp_select_config cfg;
    int npairs;      /* N (N - 1) / 2 */
    int (*pairs)[2]; /* pair k = (i, j), i < j, in lexicographic order */
    hvp_tensor pairs_dev; /* the same on the device (from ctx->params, made on first use) */
    /* Statistics since the last hvp_selector_reset_stats, over scored samples. */
    double sum_chosen_loss, sum_all_loss;
    long scored_samples;
    long *wins; /* [npairs]: how often each pair was chosen */
    /* Host copies of the last scored step, read without blocking (see collect); the
     * buffers are neither moved nor freed before the reads' events complete. */
    int pending, pending_b;
    int *chosen_host;
    float *scores_host;
    size_t host_cap;
    cl_event reads[2];
    hvp_ctx *ctx;      /* the queue of the reads (its wait count) */
    long reads_drains; /* ctx->host_waits when the reads were enqueued */
} hvp_selector;

hvp_status hvp_selector_create(const hvp_select_config *cfg, hvp_selector **out);
void hvp_selector_destroy(hvp_selector *s);

/* views [N*B, ...] view-major (view v of image b at row v*B + b) -> x12 [2B, ...] (first
 * the B first views of the chosen pairs, then the B second ones), allocated from
 * ctx->acts. On a scoring step the method scores all pairs of score_views (the same views,
 * possibly cut at a lower resolution: hvp.select_resolution; NULL means views) and a
 * device kernel takes the per-sample argmax over the [pairs, B] losses (ties to the
 * lowest pair index). */
hvp_status hvp_select(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                      const hvp_tensor *score_views, long step, hvp_tensor *x12);
/* Folds the last step's choices into the statistics; call after the step's queue finished. */
void hvp_selector_collect(hvp_selector *s);
void hvp_selector_reset_stats(hvp_selector *s);

#endif
