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
    /* Share of a batch's images whose candidates are scored (the first ceil(f B): the
     * loader shuffles); the others keep a random pair, and scoring costs f of its FLOPs.
     * In (0, 1]; 1 scores all. */
    float score_fraction;
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
     * buffers are neither moved nor freed before the reads' events complete. pending_b:
     * the images scored (the batch's first; hvp_select_config.score_fraction). */
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
 * lowest pair index). With score_fraction < 1 only the first images are scored. */
hvp_status hvp_select(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                      const hvp_tensor *score_views, long step, hvp_tensor *x12);
/* The same with the [npairs, B] scores given from the host (score_fraction 1), e.g. by
 * hvp_overlap_scores: no forward. */
hvp_status hvp_select_given(hvp_selector *s, hvp_ctx *ctx, const float *scores,
                            const hvp_tensor *views, long step, hvp_tensor *x12);

/* Hardness without a forward (hvp.select_by = overlap, ours, src/hvp/overlap.c): the score
 * of pair (i, j) of an image is 1 - IoU of the two views' crop boxes in the source image
 * (the same draw hvp_augment_batch makes from seed, epoch and the image's index), so the
 * pair whose crops overlap least is chosen; scores [npairs, b->count]. */
struct hvp_view_config;
struct hvp_image_batch;
void hvp_overlap_scores(const hvp_selector *s, const struct hvp_view_config *vc,
                        const struct hvp_image_batch *b, uint64_t seed, int64_t epoch,
                        float *scores);

/* Folds the last step's choices into the statistics; call after the step's queue finished. */
void hvp_selector_collect(hvp_selector *s);
void hvp_selector_reset_stats(hvp_selector *s);

#endif
