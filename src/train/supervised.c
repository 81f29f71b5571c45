/* The supervised evaluation protocols on labelled data: the linear probe with augmentations
 * (the backbone frozen in eval mode, features recomputed every step) and fine-tuning (the
 * whole network), each epoch over the evaluation's training split with fresh views, then
 * top-1 / top-5 on its test split with the evaluation preprocessing. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/augment.h"
#include "hvp/checkpoint.h"
#include "hvp/classify.h"
#include "hvp/data.h"
#include "hvp/dist.h"
#include "hvp/logs.h"
#include "hvp/model_io.h"
#include "hvp/train.h"
#include "train/replicas.h"

/* Whether key was set by the config file or the command line. */
static int given(const hvp_config *cfg, const char *name)
{
    const hvp_config_key *k = hvp_config_find(name);
    return k && cfg->from[k - hvp_config_keys] != HVP_CFG_FROM_DEFAULT;
}

hvp_status hvp_supervised_opts_from_config(const hvp_config *cfg, int finetune,
                                           hvp_supervised_opts *o)
{
    memset(o, 0, sizeof *o);
    o->finetune = finetune;
    o->momentum = cfg->optim.momentum;
    o->last_blocks = 1;
    if (finetune) {
        o->optim = cfg->eval.finetune_optim == 1 ? HVP_OPTIM_ADAMW : HVP_OPTIM_SGD;
        o->epochs = cfg->eval.finetune_epochs;
        o->batch_size = cfg->eval.finetune_batch_size;
        o->lr = cfg->eval.finetune_lr;
        o->weight_decay = cfg->eval.finetune_weight_decay;
        o->warmup_epochs = cfg->eval.finetune_warmup_epochs;
        o->label_smoothing = cfg->eval.finetune_label_smoothing;
        o->augment = 1;
        return HVP_OK;
    }
    o->augment = cfg->eval.augment;
    o->momentum = 0.9;
    /* the official recipes, then any eval.linear_* key given explicitly */
    switch (cfg->eval.recipe) {
    case HVP_RECIPE_SIMSIAM: /* facebookresearch/simsiam main_lincls.py with --lars */
        o->optim = HVP_OPTIM_LARS;
        o->epochs = 90;
        o->batch_size = 4096;
        o->lr = 0.1;
        break;
    case HVP_RECIPE_DINO: /* facebookresearch/dino eval_linear.py: 8 GPUs x 128 */
        o->optim = HVP_OPTIM_SGD;
        o->epochs = 100;
        o->batch_size = 1024;
        o->lr = 0.001;
        /* n_last_blocks for ViT-S/16, where the backbone has features per block */
        if (hvp_backbone_arch_at(cfg->model.arch)->ops->forward_last_blocks)
            o->last_blocks = 4;
        break;
    default:
        o->optim = HVP_OPTIM_SGD;
        o->epochs = cfg->eval.linear_epochs;
        o->batch_size = cfg->eval.linear_batch_size;
        o->lr = cfg->eval.linear_lr;
        o->weight_decay = cfg->eval.linear_weight_decay;
    }
    if (given(cfg, "eval.linear_epochs"))
        o->epochs = cfg->eval.linear_epochs;
    if (given(cfg, "eval.linear_batch_size"))
        o->batch_size = cfg->eval.linear_batch_size;
    if (given(cfg, "eval.linear_lr"))
        o->lr = cfg->eval.linear_lr;
    if (given(cfg, "eval.linear_weight_decay"))
        o->weight_decay = cfg->eval.linear_weight_decay;
    if (given(cfg, "eval.last_blocks"))
        o->last_blocks = cfg->eval.last_blocks;
    return HVP_OK;
}

/* lr of step s of total: linear warm-up over `warmup` steps, then cosine to 0. */
static double lr_at(double peak, long s, long warmup, long total)
{
    if (s < warmup)
        return peak * (double)(s + 1) / (double)warmup;
    if (total <= warmup)
        return peak;
    return peak * 0.5 * (1.0 + cos(M_PI * (double)(s - warmup) / (double)(total - warmup)));
}

/* The views of one batch as [count, C, S, S] (from ctx->acts). */
static hvp_status views_of(hvp_augment *a, const hvp_image_batch *b, hvp_view_params *params,
                           int train, uint64_t seed, int epoch, int size, hvp_tensor *x)
{
    for (int i = 0; i < b->count; i++) {
        if (train)
            hvp_eval_train_view_params(seed, epoch, b->indices[i], b->heights[i], b->widths[i],
                                       size, &params[i]);
        else
            hvp_eval_view_params(b->heights[i], b->widths[i], size, &params[i]);
    }
    hvp_tensor views, unused;
    HVP_TRY(hvp_augment_apply(a, b, params, &views, &unused));
    *x = views;
    x->ndim = 4; /* [1, count, C, S, S] -> [count, C, S, S] */
    for (int d = 0; d < 4; d++)
        x->shape[d] = views.shape[d + 1];
    return HVP_OK;
}

typedef struct run_state {
    hvp_ctx *ctx;
    hvp_classifier *c;
    const hvp_config *cfg;
    hvp_augment *aug;
    hvp_view_params *params;
    int size;
} run_state;

/* Top-1 / top-5 of the classifier on (at most `limit` of) the test split. Under MPI the
 * ranks take contiguous shares of its batches (the one-rank batches, so the same logits)
 * and add up their hits. */
static hvp_status test_accuracy(run_state *r, const hvp_dataset *ds, long limit, int batch,
                                double *top1, double *top5, long *count)
{
    hvp_ctx *ctx = r->ctx;
    long n = (long)hvp_dataset_size(ds);
    double hits[3] = {0, 0, 0}; /* top-1, top-5, images */
    if (limit > 0 && limit < n)
        n = limit;
    int rank = hvp_dist_rank(), world = hvp_dist_world();
    long nb = (n + batch - 1) / batch, first = nb * rank / world, last = nb * (rank + 1) / world;
    /* a limit takes a fixed random sample, as the kNN evaluation */
    hvp_loader_opts lo = {batch, r->cfg->data.workers, 0, n < (long)hvp_dataset_size(ds), 0,
                          0x6b6e6eULL, 0, 1, NULL, NULL};
    hvp_loader *loader = NULL;
    float *logits = malloc((size_t)batch * r->c->classes * sizeof *logits);
    hvp_status st = logits ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    if (st == HVP_OK)
        st = hvp_loader_create(ds, &lo, &loader);
    if (st == HVP_OK && first < last)
        st = hvp_loader_start_epoch_at(loader, 0, first);
    for (long j = first; st == HVP_OK && j < last; j++) {
        const hvp_image_batch *b;
        st = hvp_loader_next(loader, &b);
        if (st != HVP_OK || !b)
            break;
        int take = b->count < n - j * batch ? b->count : (int)(n - j * batch);
        long hit1 = 0, hit5 = 0;
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        hvp_tensor x, z;
        st = views_of(r->aug, b, r->params, 0, 0, 0, r->size, &x);
        if (st == HVP_OK)
            st = hvp_classifier_logits(r->c, ctx, &x, &z);
        if (st == HVP_OK)
            st = hvp_tensor_download(ctx, &z, logits);
        hvp_arena_rewind(ctx->acts, mark);
        if (st == HVP_OK)
            hvp_classify_hits(logits, b->labels, take, r->c->classes, &hit1, &hit5);
        hits[0] += (double)hit1;
        hits[1] += (double)hit5;
        hits[2] += take;
    }
    hvp_loader_destroy(loader);
    free(logits);
    if (st == HVP_OK)
        st = hvp_dist_allreduce_sum_f64(hits, 3);
    *top1 = hits[2] > 0 ? 100.0 * hits[0] / hits[2] : 0;
    *top5 = hits[2] > 0 ? 100.0 * hits[1] / hits[2] : 0;
    *count = (long)hits[2];
    return st;
}

/* Fine-tuning's checkpoint, laid out as training's: weights.safetensors (the backbone and
 * the head under torchvision / timm names), state.safetensors (the optimizer's state, step,
 * epoch and config). */
static hvp_status save(run_state *r, const hvp_optim *opt, const char *dir, long step,
                       int epoch)
{
    hvp_ckpt_tx tx;
    char path[1300];
    hvp_st_writer *w = NULL;
    HVP_TRY(hvp_ckpt_begin(dir, step, &tx));
    hvp_status st = hvp_st_writer_new(&w);
    if (st == HVP_OK)
        st = hvp_state_write(r->ctx, &r->c->state, w);
    if (st == HVP_OK)
        st = hvp_state_write(r->ctx, &r->c->head_state, w);
    if (st == HVP_OK)
        st = hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_WEIGHTS, path, sizeof path));
    hvp_st_writer_free(w);
    if (st == HVP_OK)
        st = hvp_train_write_state(r->ctx, opt, step, epoch, r->cfg,
                                   hvp_ckpt_file(&tx, HVP_CKPT_STATE, path, sizeof path));
    if (st == HVP_OK)
        return hvp_ckpt_commit(&tx);
    hvp_ckpt_abort(&tx);
    return st;
}

/* The end of a data-parallel run: every rank must hold bitwise rank 0's classifier. */
static hvp_status check_replicas(hvp_classifier *c, hvp_ctx *ctx, long step, FILE *log)
{
    uint64_t hash;
    HVP_TRY(hvp_replicas_check(ctx, (const hvp_state *[]){&c->state, &c->head_state}, 2, step,
                               &hash));
    if (log)
        fprintf(log, "replicas: the parameters and buffers of all %d ranks are bitwise "
                "identical (FNV-1a %016" PRIx64 ")\n", hvp_dist_world(), hash);
    return HVP_OK;
}

hvp_status hvp_supervised_run(hvp_ctx *ctx, hvp_classifier *c, const hvp_config *cfg,
                              const hvp_supervised_opts *o, FILE *log,
                              hvp_supervised_result *out)
{
    memset(out, 0, sizeof *out);
    /* Data parallel (hvp/dist.h): every rank takes batch / world images of each batch and
     * the gradients are averaged; rank 0 alone speaks and writes. */
    int rank = hvp_dist_rank(), world = hvp_dist_world(), sync_bn = ctx->sync_bn;
    if (rank != 0)
        log = NULL;
    /* the optimizer's state and the loss live for this run only */
    hvp_arena_mark params = hvp_arena_get_mark(ctx->params);
    hvp_dataset *train = NULL, *test = NULL;
    hvp_optim *opt = NULL;
    hvp_metrics *csv = NULL;
    hvp_loader *loader = NULL;
    float *grad_host = NULL; /* the gradients on their way through the all-reduce */
    run_state r = {ctx, c, cfg, NULL, NULL, cfg->data.image_size};
    int batch = o->batch_size;
    hvp_tensor loss;
    hvp_status st = hvp_train_open_eval_dataset(cfg, 0, &train);
    if (st == HVP_OK)
        st = hvp_train_open_eval_dataset(cfg, 1, &test);
    if (st == HVP_OK && hvp_dataset_num_classes(train) != c->classes)
        st = HVP_FAIL(HVP_ERR_ARG, "%s has %d classes, the classifier %d",
                      hvp_dataset_root(train), hvp_dataset_num_classes(train), c->classes);
    long n = st == HVP_OK ? (long)hvp_dataset_size(train) : 0;
    if (cfg->eval.knn_train_limit > 0 && cfg->eval.knn_train_limit < n)
        n = cfg->eval.knn_train_limit;
    if (batch > n)
        batch = (int)n;
    if (st == HVP_OK && batch > c->max_batch)
        st = HVP_FAIL(HVP_ERR_ARG, "batch %d is larger than the classifier's %d", batch,
                      c->max_batch);
    if (st == HVP_OK && batch % world)
        st = HVP_FAIL(HVP_ERR_ARG, "%s: the global batch of %d images%s does not split evenly "
                      "over %d ranks (make it a multiple of %d)",
                      o->finetune ? "eval.finetune_batch_size" : "eval.linear_batch_size", batch,
                      batch < o->batch_size ? " (every training image)" : "", world, world);
    long steps_per_epoch = batch > 0 ? n / batch : 0, total = steps_per_epoch * o->epochs;
    long warmup = steps_per_epoch * o->warmup_epochs;
    hvp_view_config vc;
    if (st == HVP_OK && steps_per_epoch < 1)
        st = HVP_FAIL(HVP_ERR_ARG, "%s: no training image", hvp_dataset_root(train));
    if (st == HVP_OK)
        st = hvp_train_view_config(cfg, cfg->data.channels ? cfg->data.channels
                                                            : hvp_dataset_channels(train),
                                   1, &vc);
    if (st == HVP_OK)
        st = hvp_augment_create(ctx, &vc, &r.aug);
    if (st == HVP_OK && !(r.params = malloc((size_t)c->max_batch * sizeof *r.params)))
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    hvp_optim_config oc = hvp_optim_defaults(o->optim);
    oc.momentum = (float)o->momentum;
    if (o->optim == HVP_OPTIM_ADAMW) {
        oc.beta1 = (float)cfg->optim.betas.v[0];
        oc.beta2 = (float)cfg->optim.betas.v[1];
        oc.eps = (float)cfg->optim.eps;
    }
    if (o->optim == HVP_OPTIM_LARS)
        oc.lars_eta = 0.001f; /* SimSiam's LARS trust coefficient */
    if (st == HVP_OK)
        st = hvp_optim_create(ctx, &oc, c->params, c->nparams, &opt);
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->params, "classifier loss", &loss, 1, (int[]){1});
    char path[1200];
    if (st == HVP_OK && o->out_dir && rank == 0) {
        st = hvp_mkdirs(o->out_dir);
        snprintf(path, sizeof path, "%s/epochs.csv", o->out_dir);
        if (st == HVP_OK)
            st = hvp_metrics_open(path, HVP_METRICS_CSV, &csv);
    }
    c->label_smoothing = (float)o->label_smoothing;
    /* rank r's images of a batch are its every world-th from the r-th, as in pretraining */
    hvp_loader_opts lo = {batch / world, cfg->data.workers, 0, 1, 1, (uint64_t)cfg->run.seed,
                          rank, world, NULL, NULL};
    ctx->sync_bn = world > 1; /* fine-tuning's batch norms: the global batch's statistics */
    if (st == HVP_OK)
        st = hvp_loader_create(train, &lo, &loader);
    double peak = o->lr * batch / 256.0;
    long step = 0;
    for (int e = 0; st == HVP_OK && e < o->epochs; e++) {
        double sum = 0;
        st = hvp_loader_start_epoch(loader, e);
        for (long s = 0; st == HVP_OK && s < steps_per_epoch; s++, step++) {
            const hvp_image_batch *b;
            st = hvp_loader_next(loader, &b);
            if (st == HVP_OK && !b)
                st = HVP_FAIL(HVP_ERR_IO, "%s: the loader ended epoch %d after %ld of %ld "
                              "batches", hvp_dataset_root(train), e + 1, s, steps_per_epoch);
            if (st != HVP_OK)
                break;
            for (int g = 0; g < HVP_OPTIM_MAX_GROUPS; g++) {
                opt->groups[g].lr = (float)lr_at(peak, step, warmup, total);
                opt->groups[g].weight_decay = (float)o->weight_decay;
            }
            hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
            hvp_tensor x;
            float mine = 0;
            double l = 0;
            st = views_of(r.aug, b, r.params, o->augment, (uint64_t)cfg->run.seed, e, r.size,
                          &x);
            if (st == HVP_OK)
                st = hvp_classifier_train_step(c, ctx, &x, b->labels, &loss);
            if (st == HVP_OK && world > 1)
                st = hvp_replicas_average_gradients(ctx, c->params, c->nparams, &grad_host);
            if (st == HVP_OK)
                st = hvp_optim_step(ctx, opt);
            if (st == HVP_OK)
                st = hvp_tensor_download(ctx, &loss, &mine);
            l = mine;
            if (st == HVP_OK && world > 1) /* every rank stops on the same loss */
                st = hvp_replicas_mean_loss(&l);
            hvp_arena_rewind(ctx->acts, mark);
            if (st == HVP_OK && !isfinite(l))
                st = HVP_FAIL(HVP_ERR_NUMERIC, "%s: loss %g at step %ld",
                              o->finetune ? "fine-tuning" : "linear probe", l, step + 1);
            sum += l;
        }
        if (st == HVP_OK)
            st = test_accuracy(&r, test, cfg->eval.knn_test_limit,
                               c->max_batch, &out->top1, &out->top5, &out->count);
        out->last_loss = sum / (double)steps_per_epoch;
        out->steps = step;
        if (st == HVP_OK && log)
            fprintf(log, "%s epoch %d/%d: loss %.4f, test top-1 %.2f%%, top-5 %.2f%% (%ld "
                         "images)\n", o->finetune ? "fine-tuning" : "linear probe", e + 1,
                    o->epochs, out->last_loss, out->top1, out->top5, out->count);
        if (st == HVP_OK && csv) {
            hvp_metric row[] = {{"epoch", e + 1}, {"step", (double)step},
                                {"loss", out->last_loss}, {"lr", lr_at(peak, step - 1, warmup, total)},
                                {"top1", out->top1}, {"top5", out->top5}};
            st = hvp_metrics_row(csv, row, (int)(sizeof row / sizeof row[0]));
        }
        if (st == HVP_OK && o->finetune && o->out_dir && rank == 0)
            st = save(&r, opt, o->out_dir, step, e + 1);
    }
    if (st == HVP_OK && world > 1)
        st = check_replicas(c, ctx, step, log);
    ctx->sync_bn = sync_bn;
    free(grad_host);
    hvp_loader_destroy(loader);
    hvp_status cs = hvp_metrics_close(csv);
    if (st == HVP_OK)
        st = cs;
    hvp_optim_destroy(opt);
    hvp_augment_destroy(r.aug);
    free(r.params);
    hvp_dataset_close(train);
    hvp_dataset_close(test);
    hvp_arena_rewind(ctx->params, params);
    return st;
}
