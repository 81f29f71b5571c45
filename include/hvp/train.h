/* The training run behind `hvp CONFIG`: data, views, hard view selection, the method's
 * step, the optimizer and its schedule, kNN evaluation, checkpoints and logs. */
#ifndef HVP_TRAIN_H
#define HVP_TRAIN_H

#include <stdio.h>

#include "hvp/augment.h"
#include "hvp/config.h"
#include "hvp/data.h"

typedef struct hvp_train_result {
    long steps;            /* optimizer steps taken in total (resumed ones included) */
    int epoch;             /* the epoch (from 1) the last step belongs to; 0 before any */
    int stopped;           /* 1: hvp_train_request_stop ended the run before its end */
    char checkpoint[1100]; /* the checkpoint of the last step ("" when none holds it) */
    double final_loss;     /* mean loss of the last epoch summarised (0 when none was) */
    double knn_top1;       /* last kNN evaluation, -1 when none ran */
    double knn_top5;
    double knn_init_top1;  /* eval.at_start: kNN top-1 before training, else -1 */
    double knn_pixels_top1; /* raw-pixel kNN top-1 on the same samples, -1 when no kNN ran */
    double seconds;        /* wall time of this invocation */
    double flops;          /* FLOPs of this invocation's steps (counted from shapes) */
    /* The steps after this invocation's first: how many, and the device buffers they
     * created and host waits they made in all (by design 0 and one per step). */
    long steady_steps, steady_buffers, steady_waits;
    char run_dir[1024];
} hvp_train_result;

/* Runs (or resumes, per train.resume) the training that cfg describes. Messages and the
 * progress line go to out (NULL: silent). A NaN or Inf loss stops the run with an error
 * naming the step; the last checkpoint written stays intact. A resume checks the
 * checkpoint (step, epoch, finite values) and continues at its step, inside an epoch too.
 * After hvp_train_request_stop it returns HVP_OK with result->stopped set once the current
 * step is done and saved in a checkpoint (result->checkpoint). */
hvp_status hvp_train(const hvp_config *cfg, FILE *out, hvp_train_result *result);

/* ---- the run's length from FLOPs (train.flops_budget, train.match) -------------------- */

/* The FLOPs of each kind of step a config's run takes (counted from shapes): [scored][last]
 * with scored = step % select_every == 0 (always without HVP) and last = the step is the
 * last of its epoch (a smaller batch when data.drop_last is off). */
typedef struct hvp_step_flops {
    long steps_per_epoch;
    int select_every; /* 1 without HVP */
    double step[2][2];
} hvp_step_flops;

/* Builds cfg's device, data, model and optimizer, counts one step of each kind without
 * computing it, and gives the length cfg sets by train.epochs and train.max_steps. */
hvp_status hvp_train_count_flops(const hvp_config *cfg, hvp_step_flops *plan, long *total_steps);
/* The FLOPs of a run's first n steps (src/train/flops_budget.c). */
double hvp_step_flops_sum(const hvp_step_flops *p, long n);
/* The number of steps whose FLOPs come nearest to budget (0 when half a first step is more). */
long hvp_step_flops_steps_for(const hvp_step_flops *p, double budget);
/* train.match = "CONFIG [section.key=value ...]": the FLOPs that run spends. */
hvp_status hvp_train_match_budget(const char *match, double *budget);

/* ---- sweeps (`hvp sweep SWEEP.ini`, src/train/sweep.c) -------------------------------- */

#define HVP_SWEEP_MAX_CELLS 32
#define HVP_SWEEP_MAX_SEEDS 16
#define HVP_SWEEP_MAX_SETS 16

/* A cell: its name (its folder) and its overrides, "section.key=value". */
typedef struct hvp_sweep_cell {
    char name[64];
    int nset;
    char set[HVP_SWEEP_MAX_SETS][HVP_CFG_STR];
} hvp_sweep_cell;

/* A sweep file: [sweep] with config (the base config), seeds, dir (default
 * runs/sweep-<file name>) and section.key overrides of every cell; then one [name]
 * section per cell with its own overrides. */
typedef struct hvp_sweep {
    char config[HVP_CFG_STR], dir[HVP_CFG_STR];
    int seeds[HVP_SWEEP_MAX_SEEDS], nseeds;
    hvp_sweep_cell common, cells[HVP_SWEEP_MAX_CELLS];
    int ncells;
} hvp_sweep;

/* Reads a sweep file; errors name the file and line. */
hvp_status hvp_sweep_load(const char *path, hvp_sweep *s);
/* Runs every cell x seed into DIR/<cell>/seed-<seed> in turn (a run that finished, marked
 * by its sweep_done file, is skipped; one stopped before resumes from its checkpoint),
 * then writes DIR/sweep.md, DIR/sweep.csv and DIR/accuracy_vs_flops.svg: per cell the
 * final kNN top-1's mean and standard deviation over the seeds, the FLOPs and training
 * seconds (epochs.csv). A stop request (hvp_train_request_stop) ends it after the
 * current run's step with *stopped set and no table. */
hvp_status hvp_sweep_run(const hvp_sweep *s, FILE *out, int *stopped);

/* Asks the run in progress (or the next one, if none is) to stop after its current step;
 * it skips an epoch-end kNN evaluation still to come, writes a checkpoint of that step and
 * returns. Async-signal-safe: call it from a SIGINT/SIGTERM handler (the library installs
 * none). hvp_train clears the request when it returns. */
void hvp_train_request_stop(void);

/* The device [device] selects, with its memory limit. */
hvp_status hvp_train_open_device(const hvp_config *cfg, hvp_ctx **out);
/* The dataset of a split; the test split comes from eval.test_root when that is set. */
hvp_status hvp_train_open_dataset(const hvp_config *cfg, const char *split, int is_test,
                                  hvp_dataset **out);
/* The dataset an evaluation uses (kNN memory and test samples, probes, fine-tuning):
 * eval.train_root's splits when it is set (format guessed from its files; the test split
 * from eval.test_root when that is set too), else hvp_train_open_dataset's. */
hvp_status hvp_train_open_eval_dataset(const hvp_config *cfg, int is_test, hvp_dataset **out);
/* A checkpoint's state file (path): the optimizer's state, its step, the epochs completed
 * and the run's config, which a resume checks against. */
hvp_status hvp_train_write_state(hvp_ctx *ctx, const struct hvp_optim *opt, long step,
                                 long epoch, const hvp_config *cfg, const char *path);
/* The views the config describes: nviews global views of data.image_size, one slot each
 * (1..HVP_MAX_VIEWS), with the channels of the images they are cut from; odd slots take
 * data.odd_blur_prob and data.odd_solarize_prob where set (DINO's two kinds of view). */
hvp_status hvp_train_view_config(const hvp_config *cfg, int channels, int nviews,
                                 hvp_view_config *vc);

/* The backbone model.arch describes for images of `channels` channels: a ResNet
 * (model.cifar_stem, model.width, model.zero_init_residual) or a ViT preset for
 * data.image_size, model.patch_size and model.drop_path. */
struct hvp_backbone_config;
hvp_status hvp_train_backbone_config(const hvp_config *cfg, int channels,
                                     struct hvp_backbone_config *out);

/* The method the config describes (SimSiam or SimCLR on that backbone), for images of
 * `channels` channels, initialised from run.seed. */
struct hvp_method;
hvp_status hvp_train_make_method(hvp_ctx *ctx, const hvp_config *cfg, int channels,
                                 struct hvp_method **out);

/* kNN top-1/top-5 of a method's backbone features, as the run's evaluation computes it
 * (used by `hvp knn`). train_limit/test_limit cap the samples used (0: all). m NULL:
 * the normalised pixels themselves are the features (the raw-pixel baseline).
 * Under MPI these evaluations are collective: every rank calls them, extracts a share of
 * the batches and gathers all features (one rank's, bitwise); rank 0 classifies and every
 * rank returns its result. */
hvp_status hvp_eval_knn_method(hvp_ctx *ctx, struct hvp_method *m, const hvp_config *cfg,
                               long train_limit, long test_limit, double *top1, double *top5);
/* Features [n, d] (from ctx->acts) of `limit` images (0: all; else a fixed random sample)
 * of the evaluation's training (is_test 0) or test split, as kNN computes them, and their
 * labels (malloc'ed; the caller frees them). */
hvp_status hvp_eval_split_features(hvp_ctx *ctx, struct hvp_method *m, const hvp_config *cfg,
                                   int is_test, long limit, hvp_tensor *feats, int **labels);
/* kNN of the normalised raw pixels of the same samples (the baseline a method should beat),
 * kept in the cache folder by data and evaluation settings, so computed once per dataset. */
hvp_status hvp_eval_knn_pixels(hvp_ctx *ctx, const hvp_config *cfg, double *top1,
                               double *top5);
/* The same features, classified by a linear probe (hvp_linear_probe with the eval.linear_*
 * keys and run.seed): top-1/top-5 on the test split. */
hvp_status hvp_eval_linear_method(hvp_ctx *ctx, struct hvp_method *m, const hvp_config *cfg,
                                  long train_limit, long test_limit, double *top1, double *top5);

#endif
