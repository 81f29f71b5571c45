/* Evaluation of a method's backbone: features of the training and test images in eval
 * mode (the whole image, resized; larger images are centre-cropped as Resize(256) +
 * CenterCrop(224) would), then weighted kNN (src/eval/knn.c) or a linear probe
 * (src/eval/linear.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/augment.h"
#include "hvp/checkpoint.h"
#include "hvp/data.h"
#include "hvp/dist.h"
#include "hvp/eval.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

/* Under MPI the ranks share the extraction: the batches of the one-rank order are cut into
 * contiguous shares, rank r taking [nb r / K, nb (r+1) / K), and after every round (each
 * rank's j-th batch) every rank gathers the others' features and labels into its own
 * tensor. Each batch holds the images one rank would put in it, so the features are bitwise
 * one rank's (the same kernels on the same shapes), in the same order. Eval mode has no
 * batch statistics, so no other collective runs in between. */
typedef struct feature_rounds {
    long nb;          /* batches of all ranks */
    int batch, dim;
    unsigned char *mine, *all; /* a rank's round: count, labels[batch], features[batch, dim] */
} feature_rounds;

static long share_first(long nb, int rank) { return nb * rank / hvp_dist_world(); }

static size_t round_bytes(const feature_rounds *fr)
{
    return sizeof(int32_t) * (1 + (size_t)fr->batch) +
           sizeof(float) * (size_t)fr->batch * (size_t)fr->dim;
}

static hvp_status rounds_begin(feature_rounds *fr, long nb, int batch, int dim)
{
    int world = hvp_dist_world();
    memset(fr, 0, sizeof *fr);
    fr->nb = nb;
    fr->batch = batch;
    fr->dim = dim;
    if (world == 1)
        return HVP_OK;
    fr->mine = malloc(round_bytes(fr));
    fr->all = malloc(round_bytes(fr) * (size_t)world);
    return fr->mine && fr->all ? HVP_OK
                               : HVP_FAIL(HVP_ERR_NOMEM, "evaluation: out of host memory for "
                                          "the features of %d ranks' batches", world);
}

static void rounds_end(feature_rounds *fr)
{
    free(fr->mine);
    free(fr->all);
}

/* Round j: this rank's `take` rows of f and their labels (take 0: it has no j-th batch) to
 * every rank; the others' rows into feats and labels where one rank would have put them. */
static hvp_status round_gather(feature_rounds *fr, hvp_ctx *ctx, long j, const hvp_tensor *f,
                               int take, const int *batch_labels, hvp_tensor *feats,
                               int *labels)
{
    int rank = hvp_dist_rank(), world = hvp_dist_world();
    size_t bytes = round_bytes(fr), label_bytes = sizeof(int32_t) * (1 + (size_t)fr->batch);
    int32_t head = take;
    memcpy(fr->mine, &head, sizeof head);
    for (int i = 0; i < take; i++) {
        int32_t l = batch_labels[i];
        memcpy(fr->mine + sizeof(int32_t) * (1 + (size_t)i), &l, sizeof l);
    }
    if (take > 0) {
        hvp_tensor rows = hvp_tensor_view(f, 0, 2, (int[]){take, fr->dim});
        HVP_TRY(hvp_tensor_download(ctx, &rows, fr->mine + label_bytes));
    }
    HVP_TRY(hvp_dist_allgather(fr->mine, bytes, fr->all));
    for (int r = 0; r < world; r++) {
        const unsigned char *theirs = fr->all + bytes * (size_t)r;
        int32_t count;
        memcpy(&count, theirs, sizeof count);
        if (r == rank || count == 0)
            continue;
        long at = (share_first(fr->nb, r) + j) * fr->batch;
        for (int i = 0; i < count; i++) {
            int32_t l;
            memcpy(&l, theirs + sizeof(int32_t) * (1 + (size_t)i), sizeof l);
            labels[at + i] = l;
        }
        hvp_tensor dst = hvp_tensor_view(feats, (size_t)at * (size_t)fr->dim, 2,
                                         (int[]){count, fr->dim});
        HVP_TRY(hvp_tensor_upload(ctx, &dst, theirs + label_bytes));
    }
    return HVP_OK;
}

/* Features [n, d] of `limit` images of ds (all when 0) and their labels; every rank takes
 * part and every rank ends with all of them. */
static hvp_status extract(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg,
                          const hvp_dataset *ds, long limit, hvp_tensor *feats, int **labels)
{
    long n = (long)hvp_dataset_size(ds);
    int dim = m ? m->feature_dim : 0;
    if (limit > 0 && limit < n)
        n = limit;
    int batch = cfg->eval.batch_size > 0 ? cfg->eval.batch_size : cfg->data.batch_size;
    hvp_view_config vc;
    /* data.channels, when set, is what the backbone takes (another dataset's gray images
     * are replicated to 3 channels) */
    HVP_TRY(hvp_train_view_config(cfg, cfg->data.channels ? cfg->data.channels
                                                          : hvp_dataset_channels(ds), 1, &vc));
    hvp_augment *aug = NULL;
    hvp_loader *loader = NULL;
    feature_rounds fr = {0};
    hvp_view_params *params = malloc((size_t)batch * sizeof *params);
    *labels = malloc((size_t)(n > 0 ? n : 1) * sizeof **labels);
    hvp_status st = params && *labels ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    if (!m) /* raw pixels: the normalised view itself is the feature */
        dim = vc.out_channels * vc.slot[0].size * vc.slot[0].size;
    int rank = hvp_dist_rank();
    long nb = (n + batch - 1) / batch;
    long first = share_first(nb, rank), last = share_first(nb, rank + 1);
    long rounds = (nb + hvp_dist_world() - 1) / hvp_dist_world(); /* the largest share */
    if (st == HVP_OK)
        st = rounds_begin(&fr, nb, batch, dim);
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "kNN features", feats, 2, (int[]){(int)n, dim});
    if (st == HVP_OK)
        st = hvp_augment_create(ctx, &vc, &aug);
    /* A limit takes a random sample (a fixed shuffle): the dataset's own order can be
     * sorted by class (ImageFolder), where its first images would be one or two classes. */
    int sample = n < (long)hvp_dataset_size(ds);
    hvp_loader_opts lo = {batch, cfg->data.workers, 0, sample, 0, 0x6b6e6eULL, 0, 1, NULL, NULL};
    if (st == HVP_OK)
        st = hvp_loader_create(ds, &lo, &loader);
    if (st == HVP_OK && first < last)
        st = hvp_loader_start_epoch_at(loader, 0, first);
    for (long j = 0; st == HVP_OK && j < rounds; j++) {
        long done = (first + j) * batch; /* where this round's batch goes */
        const hvp_image_batch *b = NULL;
        if (first + j < last) {
            st = hvp_loader_next(loader, &b);
            if (st == HVP_OK && !b)
                st = HVP_FAIL(HVP_ERR_IO, "evaluation: the loader ended after %ld of %ld "
                              "images", done, n);
        }
        if (st != HVP_OK)
            break;
        int take = !b ? 0 : b->count < n - done ? b->count : (int)(n - done);
        for (int i = 0; b && i < b->count; i++) /* the whole batch, as one rank */
            hvp_eval_view_params(b->heights[i], b->widths[i], vc.slot[0].size, &params[i]);
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        hvp_tensor views, unused, f = {0};
        if (take > 0)
            st = hvp_augment_apply(aug, b, params, &views, &unused);
        if (st == HVP_OK && take > 0) {
            hvp_tensor x = views;
            x.ndim = 4; /* [1, count, C, S, S] -> [count, C, S, S] */
            for (int d = 0; d < 4; d++)
                x.shape[d] = views.shape[d + 1];
            if (m)
                st = m->ops->features(m, ctx, &x, &f);
            else
                f = x;
        }
        if (st == HVP_OK && take > 0) {
            hvp_tensor src = hvp_tensor_view(&f, 0, 2, (int[]){take, dim});
            hvp_tensor dst = hvp_tensor_view(feats, (size_t)done * (size_t)dim, 2,
                                             (int[]){take, dim});
            st = hvp_tensor_copy(ctx, &dst, &src);
        }
        for (int i = 0; i < take; i++)
            (*labels)[done + i] = b->labels[i];
        if (st == HVP_OK && hvp_dist_world() > 1)
            st = round_gather(&fr, ctx, j, &f, take, b ? b->labels : NULL, feats, *labels);
        if (st == HVP_OK)
            st = hvp_ctx_finish(ctx);
        hvp_arena_rewind(ctx->acts, mark);
    }
    rounds_end(&fr);
    hvp_loader_destroy(loader);
    hvp_augment_destroy(aug);
    free(params);
    return st;
}

/* Features and labels of both splits, in ctx->acts (the caller rewinds it). */
typedef struct split_features {
    hvp_tensor train, test;
    int *train_labels, *test_labels;
    int num_classes;
} split_features;

static hvp_status features_of_splits(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg,
                                     long train_limit, long test_limit, split_features *f)
{
    hvp_dataset *train = NULL, *test = NULL;
    memset(f, 0, sizeof *f);
    hvp_status st = hvp_train_open_eval_dataset(cfg, 0, &train);
    if (st == HVP_OK)
        st = hvp_train_open_eval_dataset(cfg, 1, &test);
    if (st == HVP_OK && hvp_dataset_num_classes(train) < 1)
        st = HVP_FAIL(HVP_ERR_ARG, "evaluation needs labels; %s has none (set eval.every=0)",
                      hvp_dataset_root(train));
    if (st == HVP_OK)
        st = extract(ctx, m, cfg, train, train_limit, &f->train, &f->train_labels);
    if (st == HVP_OK)
        st = extract(ctx, m, cfg, test, test_limit, &f->test, &f->test_labels);
    if (st == HVP_OK)
        f->num_classes = hvp_dataset_num_classes(train);
    hvp_dataset_close(train);
    hvp_dataset_close(test);
    return st;
}

hvp_status hvp_eval_split_features(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg,
                                   int is_test, long limit, hvp_tensor *feats, int **labels)
{
    hvp_dataset *ds = NULL;
    *labels = NULL;
    hvp_status st = hvp_train_open_eval_dataset(cfg, is_test, &ds);
    if (st == HVP_OK)
        st = extract(ctx, m, cfg, ds, limit, feats, labels);
    hvp_dataset_close(ds);
    return st;
}

/* kNN (linear 0) or the linear probe (linear 1) on the features of both splits. */
static hvp_status evaluate(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg, int linear,
                           long train_limit, long test_limit, double *top1, double *top5)
{
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    split_features f;
    *top1 = *top5 = -1;
    hvp_status st = features_of_splits(ctx, m, cfg, train_limit, test_limit, &f);
    int classify = hvp_dist_rank() == 0; /* every rank holds the features; rank 0 classifies */
    if (st == HVP_OK && classify && !linear) {
        hvp_knn_result r;
        st = hvp_knn_classify(ctx, &f.train, f.train_labels, &f.test, f.test_labels,
                              f.num_classes, cfg->eval.knn_k, (float)cfg->eval.knn_temperature,
                              &r);
        *top1 = r.top1;
        *top5 = r.top5;
    } else if (st == HVP_OK && classify) {
        hvp_linear_probe_config pc = {cfg->eval.linear_epochs, cfg->eval.linear_batch_size,
                                      (float)cfg->eval.linear_lr,
                                      (float)cfg->eval.linear_weight_decay,
                                      (uint64_t)cfg->run.seed};
        hvp_linear_probe_result r;
        st = hvp_linear_probe(ctx, &f.train, f.train_labels, &f.test, f.test_labels,
                              f.num_classes, &pc, &r);
        *top1 = r.top1;
        *top5 = r.top5;
    }
    hvp_arena_rewind(ctx->acts, mark);
    free(f.train_labels);
    free(f.test_labels);
    double result[2] = {*top1, *top5};
    if (st == HVP_OK && hvp_dist_world() > 1) /* the same result on every rank */
        st = hvp_dist_broadcast(result, sizeof result);
    *top1 = result[0];
    *top5 = result[1];
    return st;
}

hvp_status hvp_eval_knn_method(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg,
                               long train_limit, long test_limit, double *top1, double *top5)
{
    return evaluate(ctx, m, cfg, 0, train_limit, test_limit, top1, top5);
}

/* The settings raw-pixel kNN depends on, as one line (the cache key). */
static void pixels_key(const hvp_config *c, char *key, size_t size)
{
    int n = snprintf(key, size, "knn-pixels v1|%d|%s|%s|%d|%d|%d|%d|%d|%.9g", c->data.format,
                     c->data.root, c->eval.test_root, c->data.channels, c->data.image_size,
                     c->eval.knn_train_limit, c->eval.knn_test_limit, c->eval.knn_k,
                     c->eval.knn_temperature);
    if (c->eval.train_root[0] && n > 0 && (size_t)n < size)
        n += snprintf(key + n, size - (size_t)n, "|t%s", c->eval.train_root);
    for (int i = 0; i < c->data.mean.n && n > 0 && (size_t)n < size; i++)
        n += snprintf(key + n, size - (size_t)n, "|m%.9g", c->data.mean.v[i]);
    for (int i = 0; i < c->data.std.n && n > 0 && (size_t)n < size; i++)
        n += snprintf(key + n, size - (size_t)n, "|s%.9g", c->data.std.v[i]);
}

hvp_status hvp_eval_knn_pixels(hvp_ctx *ctx, const hvp_config *cfg, double *top1,
                               double *top5)
{
    char key[3 * HVP_CFG_STR], path[4096], line[sizeof key + 2];
    pixels_key(cfg, key, sizeof key);
    /* a cache that cannot be named, read or written only costs the computation; rank 0's
     * cache decides for all ranks (the extraction needs them all or none) */
    int cached = hvp_dist_rank() == 0 &&
                 hvp_cache_path("knn-pixels", key, "txt", path, sizeof path) == HVP_OK;
    FILE *f = cached ? fopen(path, "r") : NULL;
    double hit[3] = {0, 0, 0}; /* found, top-1, top-5 */
    if (f) {
        hit[0] = fgets(line, sizeof line, f) && strncmp(line, key, strlen(key)) == 0 &&
                 line[strlen(key)] == '\n' && fscanf(f, "%lf %lf", &hit[1], &hit[2]) == 2;
        fclose(f);
    }
    if (hvp_dist_world() > 1)
        HVP_TRY(hvp_dist_broadcast(hit, sizeof hit));
    if (hit[0]) {
        *top1 = hit[1];
        *top5 = hit[2];
        return HVP_OK;
    }
    HVP_TRY(evaluate(ctx, NULL, cfg, 0, cfg->eval.knn_train_limit, cfg->eval.knn_test_limit,
                     top1, top5));
    hvp_atomic_file af;
    if (cached && hvp_atomic_open(path, &af) == HVP_OK) {
        fprintf(af.f, "%s\n%.17g %.17g\n", key, *top1, *top5);
        hvp_atomic_commit(&af); /* removes its temporary file on failure */
    }
    return HVP_OK;
}

hvp_status hvp_eval_linear_method(hvp_ctx *ctx, hvp_method *m, const hvp_config *cfg,
                                  long train_limit, long test_limit, double *top1, double *top5)
{
    return evaluate(ctx, m, cfg, 1, train_limit, test_limit, top1, top5);
}
