/* The training loop: for each batch, cut the candidate views on the device, choose the
 * hardest pair per image (when HVP is on), run the method's step and the optimizer, and
 * at epoch ends evaluate, log and checkpoint. One sync per step (the loss read back).
 * A stop request ends the run after a step, with a checkpoint; a resume continues at its
 * checkpoint's step, inside an epoch too (the order, views and masks are keyed by epoch,
 * dataset index and step, so the continuation is the uninterrupted run's). */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hvp/augment.h"
#include "hvp/checkpoint.h"
#include "hvp/data.h"
#include "hvp/dist.h"
#include "hvp/logs.h"
#include "hvp/model_io.h"
#include "hvp/nn.h"
#include "hvp/select.h"
#include "hvp/online_probe.h"
#include "hvp/ssl.h"
#include "hvp/train.h"
#include "train/replicas.h"

typedef struct trainer {
    const hvp_config *cfg;
    FILE *out;
    hvp_ctx *ctx;
    hvp_dataset *data;
    hvp_loader *loader;
    hvp_augment *aug;
    hvp_augment *aug_score; /* hvp.select_resolution: the same views, smaller, to score */
    hvp_method *method;
    hvp_optim *optim;
    hvp_selector *sel;
    hvp_view_config views; /* of t->aug */
    float *given_scores;   /* hvp.select_by = overlap: [npairs, batch] from the host */
    hvp_online_probe *probe; /* eval.online_probe */
    hvp_tensor loss;     /* one float, outside the per-step arena */
    char run_dir[1024];
    hvp_metrics *steps_csv, *epochs_csv, *epochs_jsonl;
    hvp_metrics *wins_csv; /* per epoch, how often each pair of views was chosen */
    hvp_metrics *chosen_csv; /* log.chosen_pairs: per step and image */
    hvp_metrics *local_wins_csv; /* with local selection: per epoch, each local candidate's */
    hvp_tb *tb;
    hvp_progress progress;
    long step;           /* optimizer steps done */
    int epoch;           /* epochs done: step / steps_per_epoch between steps */
    long saved_step;     /* the step of saved_dir, the last checkpoint written or resumed */
    char saved_dir[1100];
    long steps_per_epoch, total_steps;
    int epochs; /* the epochs total_steps reaches into (train.epochs unless a budget) */
    double base_lr;
    int first_step_done; /* of this invocation (for the steady-state counts) */
    /* FLOPs (hvp_flops_total) of the last step's selection and training, and their sums
     * over this epoch's and this invocation's steps */
    double step_select_flops, step_train_flops;
    double epoch_select_flops, epoch_train_flops, run_flops;
    /* Data parallelism (hvp/dist.h): world ranks, each with data.batch_size / world
     * images of every batch; rank 0 alone writes checkpoints, logs and the progress line. */
    int rank, world;
    int stop_agreed;     /* world > 1: the stop request every rank acts on */
    float *grad_host;    /* the gradient region on its way through the all-reduce */
    double comm_seconds; /* this epoch's time in collectives */
} trainer;

/* Set by hvp_train_request_stop, from a signal handler or another thread: a lock-free
 * atomic is both async-signal-safe and seen by the training thread. Process-wide, as a
 * signal is: it stops every run in the process. */
static atomic_int stop_requested;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "hvp_train_request_stop needs a lock-free int");

void hvp_train_request_stop(void) { atomic_store(&stop_requested, 1); }

static int stopping(void) { return atomic_load(&stop_requested); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void say(trainer *t, const char *fmt, ...)
{
    if (!t->out)
        return;
    hvp_progress_break(&t->progress);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(t->out, fmt, ap);
    va_end(ap);
    fflush(t->out);
}

static void warn_bad_file(void *user, const char *item, const char *why)
{
    trainer *t = user; /* the loader counts skipped files for the epoch summary */
    if (strstr(why, item)) /* the reason names the file already: once is enough */
        say(t, "warning: skipping a bad file: %s\n", why);
    else
        say(t, "warning: skipping %s: %s\n", item, why);
}

/* Linear warm-up, then cosine decay to optim.min_lr, by step. */
static double lr_at(const trainer *t, long step)
{
    const hvp_config *c = t->cfg;
    double warm = (double)c->optim.warmup_epochs * (double)t->steps_per_epoch;
    if (step < warm)
        return t->base_lr * (double)(step + 1) / warm;
    if (c->optim.schedule == HVP_SCHED_CONSTANT)
        return t->base_lr;
    double progress = (double)(step - warm) / fmax(1.0, (double)t->total_steps - warm);
    return c->optim.min_lr + (t->base_lr - c->optim.min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
}

/* Weight decay: constant, or a cosine from optim.weight_decay to optim.weight_decay_end over
 * the run, by step (as utils.cosine_scheduler without warm-up in the official code). */
static double wd_at(const trainer *t, long step)
{
    const hvp_config *c = t->cfg;
    if (c->optim.weight_decay_end < 0 || t->total_steps <= 0)
        return c->optim.weight_decay;
    double end = c->optim.weight_decay_end, start = c->optim.weight_decay;
    return end + 0.5 * (start - end) * (1.0 + cos(M_PI * (double)step / (double)t->total_steps));
}

/* The method's parameters frozen during the first method.freeze_last_layer epochs (its
 * policy's frozen_early): their gradients are zeroed before clipping and the step, and their weights
 * restored after the step, so weight decay does not move them either. */
static int is_frozen(const trainer *t, const hvp_param *p)
{
    const char *frozen = t->method->policy.frozen_early;
    return frozen && t->epoch < t->cfg->method.freeze_last_layer && strstr(p->name, frozen);
}

/* Where the copy of frozen value v starts at element off of kept. */
static hvp_tensor kept_part(const hvp_tensor *kept, const hvp_tensor *v, size_t off)
{
    hvp_tensor part = *v;
    part.buf = kept->buf;
    part.off = kept->off + off;
    return part;
}

/* Copies the frozen parameters' values one after another into *kept (scratch from the
 * step's arena; no buffer when none is frozen), and zeroes their gradients. */
static hvp_status hold_frozen(trainer *t, hvp_tensor *kept)
{
    hvp_ctx *ctx = t->ctx;
    const hvp_state *s = &t->method->state;
    size_t total = 0;
    for (int i = 0; i < s->nparams; i++)
        if (is_frozen(t, &s->params[i]))
            total += hvp_numel(&s->params[i].value);
    memset(kept, 0, sizeof *kept);
    if (total == 0)
        return HVP_OK;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "frozen parameters", kept, 1, (int[]){(int)total}));
    size_t off = 0;
    for (int i = 0; i < s->nparams; i++)
        if (is_frozen(t, &s->params[i])) {
            const hvp_tensor *v = &s->params[i].value;
            hvp_tensor part = kept_part(kept, v, off);
            HVP_TRY(hvp_tensor_zero(ctx, &s->params[i].grad));
            HVP_TRY(hvp_tensor_copy(ctx, &part, v));
            off += hvp_numel(v);
        }
    return HVP_OK;
}

/* Puts back the values hold_frozen kept (the same parameters: the epoch has not moved). */
static hvp_status restore_frozen(trainer *t, const hvp_tensor *kept)
{
    const hvp_state *s = &t->method->state;
    size_t off = 0;
    for (int i = 0; kept->buf && i < s->nparams; i++)
        if (is_frozen(t, &s->params[i])) {
            const hvp_tensor *v = &s->params[i].value;
            hvp_tensor part = kept_part(kept, v, off);
            HVP_TRY(hvp_tensor_copy(t->ctx, v, &part));
            off += hvp_numel(v);
        }
    return HVP_OK;
}

static hvp_status make_optimizer(trainer *t)
{
    const hvp_config *c = t->cfg;
    hvp_optim_config oc = hvp_optim_defaults(c->optim.name);
    oc.momentum = (float)c->optim.momentum;
    oc.beta1 = (float)c->optim.betas.v[0];
    oc.beta2 = (float)c->optim.betas.v[1];
    oc.eps = (float)c->optim.eps;
    oc.lars_eta = (float)c->optim.lars_eta;
    oc.lars_exclude_bias_n_norm = c->optim.lars_exclude_bias_bn;
    oc.lars_clip_lr = c->optim.lars_clip_lr;
    oc.decay_all = t->method->policy.decay_all;
    HVP_TRY(hvp_optim_create(t->ctx, &oc, t->method->state.params, t->method->state.nparams,
                             &t->optim));
    if (c->optim.fix_pred_lr && t->method->policy.fixed_lr_prefix)
        hvp_optim_set_group(t->optim, t->method->policy.fixed_lr_prefix, 1);
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        t->optim->groups[g].weight_decay = (float)c->optim.weight_decay;
    t->base_lr = c->optim.lr * (c->optim.scale_lr ? c->data.batch_size / 256.0 : 1.0);
    return HVP_OK;
}

static hvp_status open_logs(trainer *t)
{
    char path[1200];
    const hvp_config *c = t->cfg;
    if (t->rank != 0)
        return HVP_OK;
    HVP_TRY(hvp_mkdirs(t->run_dir));
    snprintf(path, sizeof path, "%s/config.ini", t->run_dir);
    HVP_TRY(hvp_config_save(c, path));
    if (c->log.csv) {
        snprintf(path, sizeof path, "%s/steps.csv", t->run_dir);
        HVP_TRY(hvp_metrics_open(path, HVP_METRICS_CSV, &t->steps_csv));
        snprintf(path, sizeof path, "%s/epochs.csv", t->run_dir);
        HVP_TRY(hvp_metrics_open(path, HVP_METRICS_CSV, &t->epochs_csv));
        snprintf(path, sizeof path, "%s/pair_wins.csv", t->run_dir);
        if (t->sel)
            HVP_TRY(hvp_metrics_open(path, HVP_METRICS_CSV, &t->wins_csv));
        snprintf(path, sizeof path, "%s/local_wins.csv", t->run_dir);
        if (t->sel && t->sel->cfg.local_keep > 0)
            HVP_TRY(hvp_metrics_open(path, HVP_METRICS_CSV, &t->local_wins_csv));
    }
    if (c->log.chosen_pairs && t->sel) {
        snprintf(path, sizeof path, "%s/chosen_pairs.csv", t->run_dir);
        HVP_TRY(hvp_metrics_open(path, HVP_METRICS_CSV, &t->chosen_csv));
    }
    if (c->log.jsonl) {
        snprintf(path, sizeof path, "%s/epochs.jsonl", t->run_dir);
        HVP_TRY(hvp_metrics_open(path, HVP_METRICS_JSONL, &t->epochs_jsonl));
    }
    if (c->log.tensorboard) {
        snprintf(path, sizeof path, "%s/tb", t->run_dir);
        HVP_TRY(hvp_tb_open(path, &t->tb));
    }
    return HVP_OK;
}

static hvp_status save_checkpoint(trainer *t)
{
    if (t->rank != 0) { /* rank 0 writes; the others hold the same state */
        t->saved_step = t->step;
        return HVP_OK;
    }
    hvp_ckpt_tx tx;
    char path[1200];
    HVP_TRY(hvp_ckpt_begin(t->run_dir, t->step, &tx));
    hvp_st_writer *w = NULL;
    hvp_status st = hvp_st_writer_new(&w);
    if (st == HVP_OK)
        st = hvp_state_write(t->ctx, &t->method->state, w);
    if (st == HVP_OK)
        st = hvp_st_set_metadata(w, "format", "hvp");
    if (st == HVP_OK)
        st = hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_WEIGHTS, path, sizeof path));
    hvp_st_writer_free(w);
    if (st == HVP_OK) /* epochs completed; see resume */
        st = hvp_train_write_state(t->ctx, t->optim, t->step, t->step / t->steps_per_epoch,
                                   t->cfg, hvp_ckpt_file(&tx, HVP_CKPT_STATE, path, sizeof path));
    if (st == HVP_OK)
        st = hvp_ckpt_commit(&tx);
    else
        hvp_ckpt_abort(&tx);
    if (st == HVP_OK && t->cfg->train.keep_last > 0)
        st = hvp_ckpt_prune(t->run_dir, t->cfg->train.keep_last);
    if (st == HVP_OK) {
        t->saved_step = t->step;
        snprintf(t->saved_dir, sizeof t->saved_dir, "%s", tx.final_dir);
    }
    return st;
}

/* One checkpoint per step at most: epoch ends and train.save_every_steps may fall together. */
static hvp_status save_checkpoint_once(trainer *t)
{
    return t->saved_step == t->step ? HVP_OK : save_checkpoint(t);
}

/* Where a checkpoint says the run is, checked rather than trusted: step and epoch must be
 * whole numbers, the epoch the one the step falls in at this run's steps per epoch, the
 * step the one the folder is named for and the optimizer's own count, and not past this
 * run's last step. */
static hvp_status read_position(trainer *t, const hvp_st_file *f, const char *dir)
{
    const char *path = hvp_st_name(f);
    int64_t step, epoch;
    HVP_TRY(hvp_st_metadata_int(f, "step", 0, INT64_MAX, &step));
    HVP_TRY(hvp_st_metadata_int(f, "epoch", 0, INT_MAX, &epoch));
    int64_t done = step / t->steps_per_epoch; /* epochs completed at that step */
    /* earlier versions counted the epoch a train.max_steps end fell in as done */
    int max_steps_end = step % t->steps_per_epoch != 0 && epoch == done + 1;
    if (epoch != done && !max_steps_end)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: metadata \"epoch\" is %" PRId64 ", expected %"
                        PRId64 " for step %" PRId64 " at %ld steps per epoch (has the dataset, "
                        "data.batch_size or data.drop_last changed since?)", path, epoch, done,
                        step, t->steps_per_epoch);
    int64_t named = hvp_ckpt_step_of(dir);
    if (named >= 0 && step != named)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: metadata \"step\" is %" PRId64 ", expected %"
                        PRId64 " as the folder's name says", path, step, named);
    if (step != t->optim->step)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: optimizer.step is %ld, expected %" PRId64
                        " as the metadata's \"step\"", path, t->optim->step, step);
    if (step > t->total_steps)
        return HVP_FAIL(HVP_ERR_ARG, "%s: step %" PRId64 " is past this run's last step %ld "
                        "(train.epochs = %d, train.max_steps = %d); raise them to go on, or "
                        "start afresh with train.resume = none", path, step, t->total_steps,
                        t->epochs, t->cfg->train.max_steps);
    t->step = (long)step;
    t->epoch = (int)done; /* a mid-epoch checkpoint: the run continues inside that epoch */
    return HVP_OK;
}

static hvp_status resume(trainer *t)
{
    char dir[1100], path[1300];
    HVP_TRY(hvp_ckpt_resolve(t->cfg->train.resume, t->run_dir, dir, sizeof dir));
    if (!dir[0])
        return HVP_OK;
    hvp_st_file *f = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, HVP_CKPT_WEIGHTS);
    HVP_TRY(hvp_st_open(path, &f));
    hvp_status st = hvp_state_read(t->ctx, &t->method->state, f, NULL, 1);
    hvp_st_close(f);
    HVP_TRY(st);
    snprintf(path, sizeof path, "%s/%s", dir, HVP_CKPT_STATE);
    HVP_TRY(hvp_st_open(path, &f));
    st = hvp_optim_read(t->ctx, t->optim, f);
    if (st == HVP_OK)
        st = read_position(t, f, dir);
    hvp_st_close(f);
    HVP_TRY(st);
    t->saved_step = t->step;
    snprintf(t->saved_dir, sizeof t->saved_dir, "%s", dir);
    say(t, "resumed from %s (epoch %d, step %ld)\n", dir, t->epoch, t->step);
    return HVP_OK;
}

static void teardown(trainer *t);

/* The device, data, views, model, optimizer and selector: all a step needs. */
static hvp_status setup_model(trainer *t)
{
    const hvp_config *c = t->cfg;
    HVP_TRY(hvp_train_open_device(c, &t->ctx));
    t->ctx->sync_bn = t->world > 1; /* SyncBN: the statistics of the global batch */
    say(t, "device: %s / %s\n", t->ctx->info.platform_name, t->ctx->info.device_name);
    char desc[4096];
    hvp_gemm_describe(t->ctx, desc, sizeof desc);
    say(t, "gemm: %s\n", desc);
    hvp_conv2d_describe(t->ctx, desc, sizeof desc);
    say(t, "conv: %s\n", desc);
    HVP_TRY(hvp_build_all_programs(t->ctx));
    HVP_TRY(hvp_train_open_dataset(c, "train", 0, &t->data));
    say(t, "data: %s (%s, %lld images, %d channels, %d classes)\n", hvp_dataset_root(t->data),
        hvp_data_format_name(hvp_dataset_format(t->data)), (long long)hvp_dataset_size(t->data),
        hvp_dataset_channels(t->data), hvp_dataset_num_classes(t->data));
    if (c->data.batch_size % t->world)
        return HVP_FAIL(HVP_ERR_ARG, "data.batch_size = %d is the global batch: it does not "
                        "split evenly over %d ranks (make it a multiple of %d)",
                        c->data.batch_size, t->world, t->world);
    if (t->world > 1)
        say(t, "data parallel: %d ranks, %d images each per step of %d\n", t->world,
            c->data.batch_size / t->world, c->data.batch_size);
    hvp_loader_opts lo = {c->data.batch_size / t->world, c->data.workers, c->data.prefetch, 1,
                          c->data.drop_last, (uint64_t)c->run.seed, t->rank, t->world,
                          warn_bad_file, t};
    HVP_TRY(hvp_loader_create(t->data, &lo, &t->loader));
    t->steps_per_epoch = (long)hvp_loader_num_batches(t->loader);
    if (t->steps_per_epoch < 1)
        return HVP_FAIL(HVP_ERR_ARG, "data.batch_size %d leaves no batch of %lld images",
                        c->data.batch_size, (long long)hvp_dataset_size(t->data));
    t->total_steps = t->steps_per_epoch * c->train.epochs;
    if (c->train.max_steps > 0 && c->train.max_steps < t->total_steps)
        t->total_steps = c->train.max_steps;
    t->epochs = c->train.epochs;

    int nviews = c->hvp.enabled ? c->hvp.views : 2;
    hvp_view_config vc;
    HVP_TRY(hvp_train_view_config(c, hvp_dataset_channels(t->data), nviews, &vc));
    int nlocal = c->data.local_crops;
    /* hvp.local_candidates > data.local_crops: draw that many, train on the hardest */
    int ncand = c->hvp.enabled && c->hvp.local_candidates > nlocal ? c->hvp.local_candidates
                                                                    : nlocal;
    if (c->hvp.local_candidates > 0 && c->hvp.local_candidates < nlocal)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.local_candidates = %d: at least data.local_crops = %d "
                        "(or 0: no local selection)", c->hvp.local_candidates, nlocal);
    if (ncand > nlocal && nlocal == 0)
        return HVP_FAIL(HVP_ERR_ARG, "hvp.local_candidates = %d: data.local_crops is 0, so no "
                        "local view is trained on to select", ncand);
    if (nviews + ncand > HVP_MAX_VIEWS)
        return HVP_FAIL(HVP_ERR_ARG, "%d global and %d local views: at most %d in all", nviews,
                        ncand, HVP_MAX_VIEWS);
    for (int v = nviews; v < nviews + ncand; v++) {
        /* Local crops (multi-crop): the even globals' colour and blur (data.local_blur_prob
         * apart), smaller, from less area */
        hvp_view_slot *sl = &vc.slot[v];
        *sl = vc.slot[0];
        if (c->data.local_blur_prob >= 0)
            sl->blur_p = c->data.local_blur_prob;
        sl->size = c->data.local_image_size;
        sl->scale_min = c->data.local_crop_scale.v[0];
        sl->scale_max = c->data.local_crop_scale.v[1];
        sl->blur_kernel = 0;
    }
    vc.n_local = ncand;
    HVP_TRY(hvp_views_validate(&vc));
    HVP_TRY(hvp_augment_create(t->ctx, &vc, &t->aug));
    int low = c->hvp.select_resolution;
    if (c->hvp.enabled && low > 0 && low < c->data.image_size) {
        /* Same distribution, so the same crops, flips and colours from the same keys;
         * only the output size (and the blur's pixel sigma with it) shrinks. */
        hvp_view_config lvc = vc;
        lvc.n_local = 0; /* only the candidates are scored */
        double f = (double)low / c->data.image_size;
        for (int v = 0; v < nviews; v++) {
            lvc.slot[v].size = low;
            lvc.slot[v].sigma_min *= f;
            lvc.slot[v].sigma_max *= f;
            lvc.slot[v].blur_kernel = 0;
        }
        HVP_TRY(hvp_views_validate(&lvc));
        HVP_TRY(hvp_augment_create(t->ctx, &lvc, &t->aug_score));
        hvp_augment_set_blur_mode(t->aug_score, HVP_BLUR_DIRECT);
    }
    /* a fixed rule, so that a resumed or repeated run takes the same path */
    hvp_augment_set_blur_mode(t->aug, hvp_views_blur_mode(&vc));
    t->views = vc;
    HVP_TRY(hvp_train_make_method(t->ctx, c, hvp_dataset_channels(t->data), &t->method));
    if (nlocal > 0 && !t->method->policy.takes_local)
        return HVP_FAIL(HVP_ERR_ARG, "data.local_crops = %d: method.name = %s takes no local "
                        "views", nlocal, t->method->ops->name);
    hvp_backbone_config bc;
    char arch[128];
    HVP_TRY(hvp_train_backbone_config(c, hvp_dataset_channels(t->data), &bc));
    hvp_backbone_describe(&bc, arch, sizeof arch);
    say(t, "model: %s on %s, %.2f M parameters%s%s\n", t->method->ops->title, arch,
        (double)hvp_state_numel(&t->method->state) / 1e6,
        c->model.init[0] ? "; backbone from " : "", c->model.init);
    HVP_TRY(make_optimizer(t));
    if (c->eval.online_probe && hvp_dataset_num_classes(t->data) < 1)
        return HVP_FAIL(HVP_ERR_ARG, "eval.online_probe = true needs labelled data; %s has no "
                        "labels", hvp_dataset_root(t->data));
    if (c->eval.online_probe)
        HVP_TRY(hvp_online_probe_create(t->ctx, c, t->method->feature_dim,
                                        hvp_dataset_num_classes(t->data), c->data.batch_size,
                                        &t->probe));
    if (c->hvp.enabled) {
        hvp_select_config sc = {.views = c->hvp.views,
                                .select_every = c->hvp.select_every,
                                .random_fraction = (float)c->hvp.random_fraction,
                                .seed = (uint64_t)c->run.seed ^ 0x48565053454cULL,
                                .asymmetric = t->method->policy.asymmetric_globals,
                                .local_candidates = ncand,
                                .local_keep = ncand > nlocal ? nlocal : 0,
                                .limit = c->hvp.limit_comparisons,
                                .score_fraction = (float)c->hvp.score_fraction,
                                .rank = t->rank,
                                .world = t->world};
        if (sc.local_keep > 0 && !t->method->ops->score_pairs_locals)
            return HVP_FAIL(HVP_ERR_ARG, "hvp.local_candidates = %d: method.name = %s cannot "
                            "score local views to select them (set it to 0)", ncand,
                            t->method->ops->name);
        if (sc.local_keep > 0 && c->hvp.select_by == HVP_SELECT_BY_OVERLAP)
            return HVP_FAIL(HVP_ERR_ARG, "hvp.local_candidates = %d: hvp.select_by = overlap "
                            "cannot select local crops (set it to loss)", ncand);
        HVP_TRY(hvp_selector_create(&sc, &t->sel));
        if (c->hvp.select_by == HVP_SELECT_BY_OVERLAP &&
            !(t->given_scores = malloc((size_t)t->sel->npairs * (size_t)c->data.batch_size *
                                       sizeof *t->given_scores)))
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    HVP_TRY(hvp_alloc_f32(t->ctx->params, "loss", &t->loss, 1, (int[]){1}));
    return HVP_OK;
}

static hvp_status set_length_by_flops(trainer *t, const hvp_step_flops *own, double budget);

static hvp_status setup(trainer *t)
{
    const hvp_config *c = t->cfg;
    double budget = c->train.flops_budget;
    if (c->train.match[0]) /* before this run's model: one model on the device at a time */
        HVP_TRY(hvp_train_match_budget(c->train.match, &budget));
    /* This config's steps are counted on a model of their own: a counted step enqueues no
     * kernel, so state it would set up once (the selector's pair table) stays unset. */
    hvp_step_flops own;
    long unused;
    if (budget > 0)
        HVP_TRY(hvp_train_count_flops(c, &own, &unused));
    HVP_TRY(setup_model(t));
    if (budget > 0)
        HVP_TRY(set_length_by_flops(t, &own, budget));
    if (t->method->ops->set_schedule)
        t->method->ops->set_schedule(t->method, t->steps_per_epoch, t->total_steps);
    hvp_config_run_dir(c, t->run_dir, sizeof t->run_dir);
    HVP_TRY(resume(t));
    HVP_TRY(open_logs(t));
    int off = c->log.progress == HVP_PROGRESS_OFF || t->rank != 0;
    hvp_progress_init(&t->progress, t->out ? t->out : stderr, off ? 2 : (int)c->log.progress,
                      off ? INT_MAX : c->log.every, t->total_steps, t->step);
    return HVP_OK;
}

static void teardown(trainer *t)
{
    free(t->grad_host);
    hvp_progress_break(&t->progress);
    hvp_metrics_close(t->steps_csv);
    hvp_metrics_close(t->epochs_csv);
    hvp_metrics_close(t->wins_csv);
    hvp_metrics_close(t->chosen_csv);
    hvp_metrics_close(t->local_wins_csv);
    hvp_metrics_close(t->epochs_jsonl);
    hvp_tb_close(t->tb);
    hvp_selector_destroy(t->sel);
    free(t->given_scores);
    hvp_online_probe_destroy(t->probe);
    hvp_optim_destroy(t->optim);
    hvp_method_destroy(t->method);
    hvp_augment_destroy(t->aug_score);
    hvp_augment_destroy(t->aug);
    hvp_loader_destroy(t->loader);
    hvp_dataset_close(t->data);
    hvp_ctx_destroy(t->ctx);
}

/* [V, B, C, S, S] -> [V*B, C, S, S]: view v of image i is row v*B + i. */
static hvp_tensor view_rows(const hvp_tensor *global)
{
    hvp_tensor views = *global;
    views.ndim = 4;
    views.shape[0] = global->shape[0] * global->shape[1];
    for (int d = 1; d < 4; d++)
        views.shape[d] = global->shape[d + 1];
    return views;
}

/* A stop request is acted on by every rank at the same step (a rank that stopped alone
 * would leave the others waiting in a collective): the requests are summed every step. */
static hvp_status agree_on_stop(trainer *t)
{
    if (t->world == 1)
        return HVP_OK;
    double requested = stopping();
    HVP_TRY(hvp_dist_allreduce_sum_f64(&requested, 1));
    t->stop_agreed = requested > 0;
    return HVP_OK;
}

static int stop_seen(const trainer *t) { return t->world > 1 ? t->stop_agreed : stopping(); }

/* chosen_pairs.csv: per image of the global batch, numbered by its place there (rank r's
 * image k is k * world + r), the chosen pair and, with local selection, the kept local
 * candidates (local_0 .. local_{L-1}, indices among the local candidates, ascending).
 * Every rank takes part; rank 0 writes. */
static hvp_status log_chosen(trainer *t)
{
    enum { MAX_LOCAL_COLS = 64 }; /* data.local_crops' limit */
    char local_cols[MAX_LOCAL_COLS][16];
    const hvp_selector *sel = t->sel;
    int b = sel->pending_b, nl = sel->cfg.local_keep, world = t->world;
    if (nl > MAX_LOCAL_COLS)
        return HVP_FAIL(HVP_ERR_ARG, "chosen_pairs.csv: %d kept local views, at most %d", nl,
                        MAX_LOCAL_COLS);
    for (int j = 0; j < nl; j++)
        snprintf(local_cols[j], sizeof local_cols[j], "local_%d", j);
    size_t per = (size_t)b * (size_t)(1 + nl); /* a rank's chosen pairs, then its locals */
    int *mine = malloc(per * sizeof *mine), *all = malloc(per * (size_t)world * sizeof *all);
    hvp_status st = mine && all ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    if (st == HVP_OK) {
        memcpy(mine, sel->chosen_host, (size_t)b * sizeof *mine);
        if (nl > 0)
            memcpy(mine + b, sel->local_host, (size_t)nl * b * sizeof *mine);
        st = hvp_dist_allgather(mine, per * sizeof *mine, all);
    }
    for (int g = 0; st == HVP_OK && t->chosen_csv && g < b * world; g++) {
        const int *of = all + (size_t)(g % world) * per; /* its rank's */
        int i = g / world;
        hvp_metric row[3 + MAX_LOCAL_COLS] = {
            {"step", (double)t->step + 1}, {"image", g}, {"pair", of[i]}};
        for (int j = 0; j < nl; j++)
            row[3 + j] = (hvp_metric){local_cols[j], of[b + (size_t)j * b + i]};
        st = hvp_metrics_row(t->chosen_csv, row, 3 + nl);
    }
    free(mine);
    free(all);
    return st;
}

/* Enqueues one optimizer step on one batch, counting its selection's and its training's
 * FLOPs into t->step_select_flops and t->step_train_flops. */
static hvp_status enqueue_step(trainer *t, const hvp_image_batch *b)
{
    hvp_ctx *ctx = t->ctx;
    const hvp_config *c = t->cfg;
    hvp_tensor global, local;
    HVP_TRY(hvp_augment_batch(t->aug, b, (uint64_t)c->run.seed, t->epoch, &global, &local));
    hvp_tensor views = view_rows(&global), locals = view_rows(&local);
    /* with local selection the candidates, else the trained local views */
    int select_locals = t->sel && t->sel->cfg.local_keep > 0;
    hvp_tensor trained_locals = locals; /* with local selection, the kept ones */
    hvp_step_input in = {.step = (uint32_t)t->step}; /* drop-path masks of this step */
    if (t->method->policy.takes_local && c->data.local_crops > 0) {
        in.local = &trained_locals;
        in.nlocal = c->data.local_crops;
    }
    const hvp_tensor *cand = select_locals ? &locals : NULL;
    hvp_tensor *kept_locals = select_locals ? &trained_locals : NULL;
    hvp_tensor x12;
    uint64_t f0 = hvp_flops_total(ctx);
    if (t->sel && t->given_scores) { /* by the crops' overlap: no forward */
        hvp_overlap_scores(t->sel, &t->views, b, (uint64_t)c->run.seed, t->epoch,
                           t->given_scores);
        HVP_TRY(hvp_select_given(t->sel, ctx, t->given_scores, &views, t->step, &x12));
    } else if (t->sel && t->aug_score) {
        hvp_tensor low_global, low_local, low;
        HVP_TRY(hvp_augment_batch(t->aug_score, b, (uint64_t)c->run.seed, t->epoch, &low_global,
                                  &low_local));
        low = view_rows(&low_global);
        HVP_TRY(hvp_select_views(t->sel, ctx, t->method, &views, &low, cand, t->step, &x12,
                                 kept_locals));
    } else if (t->sel) {
        HVP_TRY(hvp_select_views(t->sel, ctx, t->method, &views, NULL, cand, t->step, &x12,
                                 kept_locals));
    } else {
        x12 = views; /* views 0 and 1 are the first 2B rows */
        x12.shape[0] = 2 * b->count;
    }
    uint64_t f1 = hvp_flops_total(ctx);
    HVP_TRY(hvp_params_zero_grad(ctx, t->method->state.params, t->method->state.nparams));
    HVP_TRY(t->method->ops->train_step(t->method, ctx, &x12, &in, &t->loss));
    uint64_t probe_flops = 0; /* evaluation, not training: left out of the step's count */
    if (t->probe && !ctx->count_only) { /* on the first view of each image, before the update */
        hvp_tensor x1 = x12;
        x1.shape[0] = b->count;
        uint64_t fp = hvp_flops_total(ctx);
        HVP_TRY(hvp_online_probe_step(t->probe, ctx, t->method, &x1, b->labels));
        probe_flops = hvp_flops_total(ctx) - fp;
    }
    if (t->world > 1) { /* its time, with the transfers, goes into comm_seconds */
        t->comm_seconds += hvp_dist_take_seconds(); /* batch norm's, so far this step */
        double t0 = now();
        HVP_TRY(hvp_replicas_average_gradients(t->ctx, t->method->state.params,
                                                t->method->state.nparams, &t->grad_host));
        hvp_dist_take_seconds(); /* counted in the line below */
        t->comm_seconds += now() - t0;
    }
    if (c->optim.clip_grad > 0 && t->method->policy.clip_per_param)
        HVP_TRY(hvp_optim_clip_grad_per_param(ctx, t->optim, (float)c->optim.clip_grad, NULL));
    else if (c->optim.clip_grad > 0)
        HVP_TRY(hvp_optim_clip_grad_norm(ctx, t->optim, (float)c->optim.clip_grad, NULL));
    hvp_tensor kept;
    HVP_TRY(hold_frozen(t, &kept));
    double lr = lr_at(t, t->step);
    t->optim->groups[0].lr = (float)lr;
    t->optim->groups[1].lr = (float)t->base_lr; /* fix_pred_lr: the method's fixed_lr_prefix */
    for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++)
        t->optim->groups[g].weight_decay = (float)wd_at(t, t->step);
    HVP_TRY(hvp_optim_step(ctx, t->optim));
    HVP_TRY(restore_frozen(t, &kept));
    if (t->method->ops->after_step)
        HVP_TRY(t->method->ops->after_step(t->method, ctx, t->step));
    /* the global batch's: this rank's share times the ranks (equal shares; SimCLR's loss
     * over the gathered rows, which every rank computes, is counted once per rank) */
    t->step_select_flops = (double)(f1 - f0) * t->world;
    t->step_train_flops = (double)(hvp_flops_total(ctx) - f1 - probe_flops) * t->world;
    return HVP_OK;
}

/* One optimizer step on one batch; *loss gets its value (read back: the step's sync). */
static hvp_status step_body(trainer *t, const hvp_image_batch *b, double *loss)
{
    hvp_ctx *ctx = t->ctx;
    HVP_TRY(enqueue_step(t, b));
    float value;
    HVP_TRY(hvp_tensor_download(ctx, &t->loss, &value)); /* waits for the step */
    if (t->world > 1) { /* the global batch's loss: the mean of the ranks' means */
        double global = value;
        HVP_TRY(hvp_replicas_mean_loss(&global));
        value = (float)global;
        t->comm_seconds += hvp_dist_take_seconds();
    }
    int scored = t->sel && t->sel->pending;
    if (t->sel)
        hvp_selector_collect(t->sel);
    if (scored && t->cfg->log.chosen_pairs) /* every rank takes part */
        HVP_TRY(log_chosen(t));
    if (!isfinite(value))
        return HVP_FAIL(HVP_ERR_NUMERIC, "the loss is %g at step %ld (epoch %d): stopping; the "
                        "last checkpoint in %s/checkpoints is intact", (double)value, t->step + 1,
                        t->epoch + 1, t->run_dir);
    *loss = value;
    t->step++;
    t->epoch_select_flops += t->step_select_flops;
    t->epoch_train_flops += t->step_train_flops;
    t->run_flops += t->step_select_flops + t->step_train_flops;
    return HVP_OK;
}

/* ---- the run's length from a FLOP budget -------------------------------------------- */

/* The FLOPs of each kind of step the run takes, counted without computing them
 * (hvp_flops_count_only): scored or not (hvp.select_every), on a full batch or on an
 * epoch's last one (smaller when data.drop_last is off). The model, optimizer and
 * selector are left as they were. */
static hvp_status count_step_kinds(trainer *t, hvp_step_flops *out)
{
    memset(out, 0, sizeof *out);
    out->steps_per_epoch = t->steps_per_epoch;
    out->select_every = t->sel ? t->cfg->hvp.select_every : 1;
    long step = t->step, optim_step = t->optim->step;
    int was = hvp_flops_count_only(t->ctx, 1);
    hvp_status st = HVP_OK;
    for (int last = 0; last < 2 && st == HVP_OK; last++) {
        const hvp_image_batch *b = NULL;
        st = hvp_loader_start_epoch_at(t->loader, 0, last ? t->steps_per_epoch - 1 : 0);
        if (st == HVP_OK)
            st = hvp_loader_next(t->loader, &b);
        if (st == HVP_OK && !b)
            st = HVP_FAIL(HVP_ERR_ARG, "counting FLOPs: the loader gave no batch");
        for (int scored = 0; scored < 2 && st == HVP_OK; scored++) {
            t->step = scored ? 0 : 1; /* step 0 is scored, step 1 not when select_every > 1 */
            st = hvp_ctx_step_begin(t->ctx);
            if (st == HVP_OK)
                st = enqueue_step(t, b);
            hvp_ctx_step_end(t->ctx);
            if (st == HVP_OK)
                st = hvp_ctx_finish(t->ctx);
            out->step[scored][last] = t->step_select_flops + t->step_train_flops;
        }
    }
    hvp_flops_count_only(t->ctx, was);
    t->step = step;
    t->optim->step = optim_step;
    t->step_select_flops = t->step_train_flops = 0;
    return st;
}

/* train.flops_budget / train.match: as many steps as come nearest to the budget; the
 * schedules then follow that length. */
static hvp_status set_length_by_flops(trainer *t, const hvp_step_flops *own, double budget)
{
    long n = hvp_step_flops_steps_for(own, budget);
    if (n < 1)
        return HVP_FAIL(HVP_ERR_ARG, "a FLOP budget of %.4g is less than this config's first "
                        "step (%.4g FLOPs)", budget, own->step[1][0]);
    t->total_steps = n;
    t->epochs = (int)((n + t->steps_per_epoch - 1) / t->steps_per_epoch);
    say(t, "length: %ld steps (%d epochs of %ld), %.4g FLOPs, for a budget of %.4g FLOPs "
        "(%.4g per step%s)\n", n, t->epochs, t->steps_per_epoch,
        hvp_step_flops_sum(own, n), budget, own->step[1][0],
        own->select_every > 1 ? " when scored" : "");
    return HVP_OK;
}

hvp_status hvp_train_count_flops(const hvp_config *cfg, hvp_step_flops *plan, long *total_steps)
{
    trainer t;
    memset(&t, 0, sizeof t);
    t.cfg = cfg;
    t.rank = hvp_dist_rank(); /* every rank counts its share, as its run would */
    t.world = hvp_dist_world();
    t.saved_step = -1;
    hvp_status st = setup_model(&t);
    if (st == HVP_OK)
        st = count_step_kinds(&t, plan);
    *total_steps = t.total_steps;
    teardown(&t);
    return st;
}

static hvp_status log_step(trainer *t, double loss, double lr, int images)
{
    hvp_metric row[] = {{"step", (double)t->step}, {"epoch", t->epoch + 1},
                        {"loss", loss}, {"lr", lr},
                        {"select_flops", t->step_select_flops},
                        {"train_flops", t->step_train_flops}};
    if (t->steps_csv && t->step % (t->cfg->log.every > 0 ? t->cfg->log.every : 1) == 0)
        HVP_TRY(hvp_metrics_row(t->steps_csv, row, 6));
    if (t->tb) {
        HVP_TRY(hvp_tb_scalar(t->tb, "train/loss", t->step, loss));
        HVP_TRY(hvp_tb_scalar(t->tb, "train/lr", t->step, lr));
        HVP_TRY(hvp_tb_scalar(t->tb, "flops/select", t->step, t->step_select_flops));
        HVP_TRY(hvp_tb_scalar(t->tb, "flops/train", t->step, t->step_train_flops));
    }
    (void)images;
    return HVP_OK;
}

/* How often each pair of views won; past MAX_WINS_SHOWN pairs (more than 5 views) only the
 * most frequent winners, so that the line stays readable. */
#define MAX_WINS_SHOWN 10
static void say_wins(trainer *t, const hvp_selector *sel)
{
    int n = sel->npairs, shown = n <= MAX_WINS_SHOWN ? n : MAX_WINS_SHOWN;
    int *order = malloc((size_t)n * sizeof *order);
    for (int k = 0; order && k < n; k++)
        order[k] = k;
    for (int r = 0; order && r < shown; r++) {
        for (int k = r + 1; shown < n && k < n; k++) /* selection of the r-th most chosen */
            if (sel->wins[order[k]] > sel->wins[order[r]]) {
                int swap = order[r];
                order[r] = order[k];
                order[k] = swap;
            }
        int p = order[r];
        say(t, " (%d,%d):%ld", sel->pairs[p][0], sel->pairs[p][1], sel->wins[p]);
    }
    if (order && shown < n)
        say(t, " (the %d most chosen of %d pairs)", shown, n);
    say(t, "\n");
    free(order);
}

/* Closes epoch `number` (from 1), of which this process ran the steps [first, last): all of
 * them, unless it resumed inside the epoch or train.max_steps ended it early; the
 * statistics then cover only those steps, and the log says so. */
/* Raw-pixel kNN on the evaluation's samples, once per run (and cached per dataset): the
 * baseline the learnt features are shown against. */
/* kNN of the model on the test sample. Every rank extracts a share of the features in
 * eval mode, batches of its own: no batch-norm synchronisation. */
static hvp_status knn_of_model(trainer *t, double *top1, double *top5)
{
    const hvp_config *c = t->cfg;
    t->ctx->sync_bn = 0;
    hvp_status st = hvp_eval_knn_method(t->ctx, t->method, c, c->eval.knn_train_limit,
                                        c->eval.knn_test_limit, top1, top5);
    t->ctx->sync_bn = t->world > 1;
    return st;
}

static hvp_status pixels_baseline(trainer *t, hvp_train_result *res)
{
    if (res->knn_pixels_top1 >= 0)
        return HVP_OK;
    double top1, top5;
    HVP_TRY(hvp_eval_knn_pixels(t->ctx, t->cfg, &top1, &top5));
    res->knn_pixels_top1 = top1;
    say(t, "raw pixels on the same samples: kNN top-1 %.2f%% top-5 %.2f%%\n", top1, top5);
    return HVP_OK;
}

static hvp_status end_epoch(trainer *t, int number, long first, long last, double mean_loss,
                            double seconds, long images, hvp_train_result *res)
{
    const hvp_config *c = t->cfg;
    hvp_loader_stats ls = hvp_loader_get_stats(t->loader);
    double top1 = -1, top5 = -1;
    int final = number == t->epochs || t->step >= t->total_steps;
    char label[96];
    int n = snprintf(label, sizeof label, "epoch %d", number);
    if (first > 0 || last < t->steps_per_epoch)
        snprintf(label + n, sizeof label - (size_t)n, " (its steps %ld-%ld of %ld)", first + 1,
                 last, t->steps_per_epoch);
    /* every rank extracts a share of the features; rank 0 runs the kNN */
    int eval = c->eval.every > 0 && (number % c->eval.every == 0 || final);
    if (eval && stop_seen(t)) /* it may take minutes; the checkpoint can be evaluated later */
        say(t, "epoch %d: kNN evaluation skipped to stop sooner (`hvp knn RUN_DIR` runs it on "
            "the checkpoint)\n", number);
    else if (eval) {
        double t0 = now();
        HVP_TRY(knn_of_model(t, &top1, &top5));
        res->knn_top1 = top1;
        res->knn_top5 = top5;
        say(t, "epoch %d: kNN top-1 %.2f%% top-5 %.2f%% (k=%d, %.1f s)\n", number, top1, top5,
            c->eval.knn_k, now() - t0);
        HVP_TRY(pixels_baseline(t, res));
        hvp_dist_take_seconds(); /* the evaluation's gathers are not the steps' communication */
    }
    double chosen = -1, all = -1;
    if (t->sel && t->world > 1)
        HVP_TRY(hvp_replicas_sum_selection(t->sel));
    if (t->sel && t->sel->scored_samples) {
        chosen = t->sel->sum_chosen_loss / (double)t->sel->scored_samples;
        all = t->sel->sum_all_loss / (double)t->sel->scored_samples;
        say(t, "%s: hard views: mean loss of chosen pairs %.4f vs all pairs %.4f; wins", label,
            chosen, all);
        say_wins(t, t->sel);
        for (int k = 0; t->wins_csv && k < t->sel->npairs; k++) {
            hvp_metric w[] = {{"epoch", number},
                              {"first_view", t->sel->pairs[k][0]},
                              {"second_view", t->sel->pairs[k][1]},
                              {"wins", (double)t->sel->wins[k]}};
            HVP_TRY(hvp_metrics_row(t->wins_csv, w, 4));
        }
        int nc = t->sel->cfg.local_keep > 0 ? t->sel->cfg.local_candidates : 0;
        if (nc > 0) {
            say(t, "%s: hard views: local candidates kept", label);
            for (int l = 0; l < nc; l++)
                say(t, " %d:%ld", l, t->sel->local_wins[l]);
            say(t, "\n");
        }
        for (int l = 0; t->local_wins_csv && l < nc; l++) {
            hvp_metric w[] = {{"epoch", number}, {"local_view", l},
                              {"wins", (double)t->sel->local_wins[l]}};
            HVP_TRY(hvp_metrics_row(t->local_wins_csv, w, 3));
        }
    }
    say(t, "%s: loss %.4f, %.1f img/s, waited %.1f s for data, %lld files skipped\n", label,
        mean_loss, (double)images / seconds, ls.wait_seconds, (long long)ls.skipped);
    if (t->world > 1 && last > first) /* rank 0's: the gradient all-reduce and the syncs */
        say(t, "%s: communication %.1f ms per step, %.1f%% of the step time, over %d ranks\n",
            label, 1e3 * t->comm_seconds / (double)(last - first),
            100.0 * t->comm_seconds / seconds, t->world);
    /* HVP's cost in FLOPs, beside the epoch's time: selection against training */
    double sel_f = t->epoch_select_flops, train_f = t->epoch_train_flops;
    double overhead = train_f > 0 ? (sel_f + train_f) / train_f : 1;
    say(t, "%s: %.4g TFLOP in %.1f s: training %.4g, selection %.4g (x%.2f the training's "
        "FLOPs)\n", label, (sel_f + train_f) * 1e-12, seconds, train_f * 1e-12, sel_f * 1e-12,
        overhead);
    double probe1 = -1, probe5 = -1;
    if (t->probe) { /* all ranks extract the features; rank 0's probe is the one shown */
        HVP_TRY(hvp_online_probe_evaluate(t->probe, t->ctx, t->method, c, &probe1, &probe5));
        hvp_dist_take_seconds(); /* its gathers are not the steps' communication */
        say(t, "epoch %d: online linear probe top-1 %.2f%% top-5 %.2f%%\n", number, probe1,
            probe5);
    }
    hvp_metric row[] = {{"epoch", number},           {"step", (double)t->step},
                        {"loss", mean_loss},         {"knn_top1", top1},
                        {"knn_top5", top5},          {"hvp_chosen_loss", chosen},
                        {"hvp_all_loss", all},       {"img_per_s", images / seconds},
                        {"data_wait_s", ls.wait_seconds}, {"skipped_files", (double)ls.skipped},
                        {"knn_init_top1", res->knn_init_top1},
                        {"knn_pixels_top1", top1 >= 0 ? res->knn_pixels_top1 : -1},
                        {"select_flops", sel_f}, {"train_flops", train_f},
                        {"seconds", seconds},
                        {"online_probe_top1", probe1}, {"online_probe_top5", probe5}};
    int ncols = sizeof row / sizeof row[0] - (t->probe ? 0 : 2); /* columns only with it */
    if (t->epochs_csv)
        HVP_TRY(hvp_metrics_row(t->epochs_csv, row, ncols));
    if (t->epochs_jsonl)
        HVP_TRY(hvp_metrics_row(t->epochs_jsonl, row, ncols));
    if (t->tb) {
        HVP_TRY(hvp_tb_scalar(t->tb, "epoch/loss", t->step, mean_loss));
        HVP_TRY(hvp_tb_scalar(t->tb, "epoch/flops", t->step, sel_f + train_f));
        HVP_TRY(hvp_tb_scalar(t->tb, "epoch/seconds", t->step, seconds));
        HVP_TRY(hvp_tb_scalar(t->tb, "hvp/flops_overhead", t->step, overhead));
        if (top1 >= 0) {
            HVP_TRY(hvp_tb_scalar(t->tb, "eval/knn_top1", t->step, top1));
            HVP_TRY(hvp_tb_scalar(t->tb, "eval/knn_pixels_top1", t->step, res->knn_pixels_top1));
            if (res->knn_init_top1 >= 0)
                HVP_TRY(hvp_tb_scalar(t->tb, "eval/knn_init_top1", t->step, res->knn_init_top1));
        }
        if (t->probe) {
            HVP_TRY(hvp_tb_scalar(t->tb, "eval/online_probe_top1", t->step, probe1));
            HVP_TRY(hvp_tb_scalar(t->tb, "eval/online_probe_top5", t->step, probe5));
        }
        if (chosen >= 0) {
            HVP_TRY(hvp_tb_scalar(t->tb, "hvp/chosen_pair_loss", t->step, chosen));
            HVP_TRY(hvp_tb_scalar(t->tb, "hvp/all_pairs_loss", t->step, all));
        }
        HVP_TRY(hvp_tb_flush(t->tb));
    }
    if (t->sel)
        hvp_selector_reset_stats(t->sel);
    t->epoch_select_flops = t->epoch_train_flops = 0;
    if (final || (c->train.save_every > 0 && number % c->train.save_every == 0))
        HVP_TRY(save_checkpoint_once(t));
    return HVP_OK;
}

/* One step between hvp_ctx_step_begin and _end (uploads without waits); after the first
 * step of this run, what the step cost in buffers and waits goes into res. */
static hvp_status train_step(trainer *t, const hvp_image_batch *b, double *loss,
                             hvp_train_result *res)
{
    hvp_ctx *ctx = t->ctx;
    long buffers = ctx->buffers_created, waits = ctx->host_waits;
    int first = t->first_step_done == 0;
    hvp_status st = hvp_ctx_step_begin(ctx);
    if (st == HVP_OK)
        st = step_body(t, b, loss);
    hvp_ctx_step_end(ctx);
    t->first_step_done = 1;
    if (!first) {
        res->steady_steps++;
        res->steady_buffers += ctx->buffers_created - buffers;
        res->steady_waits += ctx->host_waits - waits;
    }
    return st;
}

static hvp_status run(trainer *t, hvp_train_result *res)
{
    const hvp_config *c = t->cfg;
    if (c->eval.at_start && t->step == 0) { /* all ranks, as at an epoch's end */
        double top1, top5;
        HVP_TRY(knn_of_model(t, &top1, &top5));
        say(t, "at initialisation: kNN top-1 %.2f%% top-5 %.2f%%\n", top1, top5);
        res->knn_init_top1 = top1;
        HVP_TRY(pixels_baseline(t, res));
        hvp_dist_take_seconds(); /* the evaluation's gathers are not the steps' communication */
    }
    long per_epoch = t->steps_per_epoch, every = c->train.save_every_steps;
    while (t->step < t->total_steps && !stop_seen(t)) {
        /* 0, or where a checkpoint written inside this epoch left off */
        long first = t->step - (long)t->epoch * per_epoch, s = first;
        HVP_TRY(hvp_loader_start_epoch_at(t->loader, t->epoch, first));
        double t0 = now(), sum = 0;
        long images = 0;
        t->comm_seconds = 0;
        /* the steps of this epoch the run will take (train.max_steps may end it early) */
        long shown = t->total_steps - (long)t->epoch * per_epoch;
        shown = shown < per_epoch ? shown : per_epoch;
        for (; s < per_epoch && t->step < t->total_steps; s++) {
            const hvp_image_batch *b;
            HVP_TRY(hvp_loader_next(t->loader, &b));
            HVP_TRY(agree_on_stop(t));
            if (stop_seen(t)) /* checked after the wait for data, before the next step */
                break;
            if (!b)
                return HVP_FAIL(HVP_ERR_ARG, "the loader ended epoch %d after %ld of %ld "
                                "batches", t->epoch + 1, s, per_epoch);
            double loss = 0, lr = lr_at(t, t->step);
            HVP_TRY(train_step(t, b, &loss, res));
            sum += loss;
            images += (long)b->count * t->world; /* the global batch */
            hvp_progress_step(&t->progress, t->step, t->epoch + 1, t->epochs, (int)s + 1,
                              (int)shown, loss, lr, b->count * t->world);
            HVP_TRY(log_step(t, loss, lr, b->count));
            if (every > 0 && t->step % every == 0)
                HVP_TRY(save_checkpoint_once(t));
        }
        if (s < per_epoch && t->step < t->total_steps)
            break; /* stopping inside the epoch: its summary comes from the resumed run */
        int number = ++t->epoch; /* also when train.max_steps ends it early: the run ends */
        res->final_loss = sum / (double)(s - first);
        HVP_TRY(end_epoch(t, number, first, s, res->final_loss, now() - t0, images, res));
    }
    if (stop_seen(t) && t->step < t->total_steps) {
        res->stopped = 1;
        if (t->step > 0) /* before the first step there is nothing to save */
            HVP_TRY(save_checkpoint_once(t));
    }
    return HVP_OK;
}

/* The end of a data-parallel run: every rank must hold bitwise rank 0's state. */
static hvp_status check_replicas(trainer *t)
{
    uint64_t hash;
    HVP_TRY(hvp_replicas_check(t->ctx, (const hvp_state *[]){&t->method->state}, 1, t->step,
                               &hash));
    say(t, "replicas: the parameters and buffers of all %d ranks are bitwise identical "
        "(FNV-1a %016" PRIx64 ")\n", t->world, hash);
    return HVP_OK;
}

hvp_status hvp_train(const hvp_config *cfg, FILE *out, hvp_train_result *result)
{
    trainer t;
    memset(&t, 0, sizeof t);
    memset(result, 0, sizeof *result);
    result->knn_top1 = result->knn_top5 = result->knn_init_top1 = result->knn_pixels_top1 = -1;
    t.cfg = cfg;
    t.rank = hvp_dist_rank();
    t.world = hvp_dist_world();
    t.out = t.rank == 0 ? out : NULL; /* one voice for the job */
    t.saved_step = -1;
    hvp_progress_init(&t.progress, out ? out : stderr, 2, 1, 1, 0);
    double t0 = now();
    hvp_status st = setup(&t);
    if (st == HVP_OK)
        st = run(&t, result);
    if (st == HVP_OK && t.world > 1)
        st = check_replicas(&t);
    result->steps = t.step;
    result->epoch = t.steps_per_epoch > 0 ? (int)((t.step + t.steps_per_epoch - 1) /
                                                  t.steps_per_epoch) : 0;
    if (t.saved_step == t.step)
        snprintf(result->checkpoint, sizeof result->checkpoint, "%s", t.saved_dir);
    result->seconds = now() - t0;
    result->flops = t.run_flops;
    snprintf(result->run_dir, sizeof result->run_dir, "%s", t.run_dir);
    if (t.ctx && result->steps > 0)
        say(&t, "device memory: %.1f MiB held (parameters and optimizer %.1f MiB, activations "
            "at most %.1f MiB)\n", (double)t.ctx->memory_held / 1048576.0,
            (double)hvp_arena_used(t.ctx->params) / 1048576.0,
            (double)hvp_arena_peak(t.ctx->acts) / 1048576.0);
    if (t.ctx && t.ctx->profile && result->steady_steps > 0)
        say(&t, "steps after the first: %ld, with %ld device buffers created and %ld host waits\n",
            result->steady_steps, result->steady_buffers, result->steady_waits);
    atomic_store(&stop_requested, 0); /* handled: the next run starts afresh */
    teardown(&t); /* sets no error: the failure's message stays */
    return st;
}
