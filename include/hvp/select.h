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
    /* The method's policy.asymmetric_globals: candidate pairs are (even, odd) slots only,
     * in the order of the reference's itertools.product(evens, odds); 0: every pair
     * (i, j), i < j, in lexicographic order. */
    int asymmetric;
    /* Local-crop selection (hvp.local_candidates > data.local_crops): of local_candidates
     * local views per image keep local_keep, jointly with the pair: the (pair, locals)
     * combination of the highest method loss (ssl.h, score_pairs_locals). 0: none. */
    int local_candidates, local_keep;
    /* hvp.limit_comparisons: at most this many combinations scored per step, drawn as
     * hvp_select_combinations says; 0 (or at least all of them): every one, exactly. */
    int limit;
    /* Share of a batch's images whose candidates are scored (the first ceil(f B): the
     * loader shuffles); the others keep a random pair, and scoring costs f of its FLOPs.
     * In [0, 1]; 1, or 0 (the zero-initialised default), scores all. */
    float score_fraction;
    /* Data-parallel runs: this rank's images are every world-th of the global batch from
     * the rank-th on, so sample s draws with key s * world + rank, as the one device that
     * holds the whole batch would (world 0 means 1). */
    int rank, world;
} hvp_select_config;

typedef struct hvp_selector {
    hvp_select_config cfg;
    int npairs;      /* N (N - 1) / 2, or ceil(N/2) floor(N/2) when asymmetric */
    int (*pairs)[2]; /* pair k = (i, j), in the order cfg.asymmetric says */
    uint64_t ncombos; /* with local selection: npairs C(local_candidates, local_keep) */
    long *local_wins; /* [local_candidates]: how often each local candidate was kept */
    struct combo_scratch *combos; /* with local selection: binomials, sampling scratch */
    int *combo_host;  /* [limit, 1 + local_keep]: a capped step's combinations */
    int *local_host;  /* [local_keep * B]: the kept local candidates of the last scored step,
                       * slot j of image i at j*B + i (ascending per image) */
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
    cl_event reads[3];
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
 * lowest pair index). With score_fraction < 1 only the first images are scored. step: the
 * training step, passed on to the method. */
hvp_status hvp_select(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                      const hvp_tensor *score_views, long step, hvp_tensor *x12);
/* As hvp_select, with local-crop selection when cfg.local_keep > 0: locals [M*B, ...]
 * are the M = cfg.local_candidates local views (view-major); local_out [L*B, ...] gets the
 * L = cfg.local_keep kept ones, from ctx->acts (slot j of image i at row j*B + i, the kept
 * candidates in ascending order). On a scoring step the method scores the pairs and every
 * local against every pair (score_pairs_locals) and a device kernel takes per sample the
 * combination (pair q, locals S) of the highest pair score + sum of local scores: without
 * a cap each pair with its L best locals (ties to the lower index), over all pairs (ties to
 * the lower pair); with a cap over the drawn combinations (ties to the one listed first).
 * A sample that keeps a random pair (select_every, random_fraction) keeps candidates
 * 0..L-1, random draws like any other. */
hvp_status hvp_select_views(hvp_selector *s, hvp_ctx *ctx, hvp_method *m, const hvp_tensor *views,
                            const hvp_tensor *score_views, const hvp_tensor *locals, long step,
                            hvp_tensor *x12, hvp_tensor *local_out);
/* The combinations a capped step scores (cfg.limit > 0 and below s->ncombos), as rows of
 * 1 + L ints (pair index, then L local indices in ascending order) into table (room for
 * cfg.limit rows); *count gets their number, 0 when every combination is scored. The
 * combinations are listed as the reference's itertools.product(pairs,
 * combinations(range(M), L)) and cfg.limit distinct ones of them drawn uniformly
 * (Floyd's algorithm on Philox keyed by (seed, step)), the same for every image of the
 * step, in the listed order. */
hvp_status hvp_select_combinations(hvp_selector *s, long step, int *table, int *count);
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
