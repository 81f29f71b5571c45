/* The online linear probe (solo-learn's online classifier): trained inside each training
 * step on the detached features of the step's first views, evaluated at epoch ends. The
 * trainer calls it without knowing more than these three functions. */
#include <stdlib.h>
#include <string.h>

#include "hvp/classify.h"
#include "hvp/online_probe.h"
#include "hvp/ops.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

struct hvp_online_probe {
    hvp_param head[2]; /* probe.weight [classes, dim], probe.bias [classes] */
    hvp_optim *opt;
    hvp_tensor labels;
    int dim, classes, max_batch;
};

hvp_status hvp_online_probe_create(hvp_ctx *ctx, const hvp_config *cfg, int feature_dim,
                                   int classes, int max_batch, hvp_online_probe **out)
{
    *out = NULL;
    if (classes < 1)
        return HVP_FAIL(HVP_ERR_ARG, "eval.online_probe = true needs labelled data (a class "
                        "per folder, CIFAR or IDX labels)");
    hvp_online_probe *p = calloc(1, sizeof *p);
    if (!p)
        return HVP_FAIL(HVP_ERR_NOMEM, "online probe: out of host memory");
    p->dim = feature_dim;
    p->classes = classes;
    p->max_batch = max_batch;
    hvp_status st = HVP_OK;
    for (int i = 0; st == HVP_OK && i < 2; i++) {
        int shape[2] = {classes, feature_dim};
        snprintf(p->head[i].name, sizeof p->head[i].name, i ? "probe.bias" : "probe.weight");
        p->head[i].no_decay = i == 1;
        st = hvp_alloc_f32(ctx->params, p->head[i].name, &p->head[i].value, 2 - i, shape);
        if (st == HVP_OK)
            st = hvp_alloc_f32(ctx->params, p->head[i].name, &p->head[i].grad, 2 - i, shape);
        if (st == HVP_OK)
            st = hvp_tensor_zero(ctx, &p->head[i].value);
    }
    if (st == HVP_OK)
        st = hvp_tensor_alloc(ctx->params, HVP_I32, 1, &max_batch, "online probe labels",
                              &p->labels);
    hvp_optim_config oc = hvp_optim_defaults(HVP_OPTIM_SGD);
    oc.momentum = 0.9f;
    if (st == HVP_OK)
        st = hvp_optim_create(ctx, &oc, p->head, 2, &p->opt);
    if (st == HVP_OK) {
        p->opt->groups[0].lr = (float)(cfg->eval.online_probe_lr * max_batch / 256.0);
        p->opt->groups[0].weight_decay = 0.0f;
        *out = p;
        return HVP_OK;
    }
    hvp_online_probe_destroy(p);
    return st;
}

void hvp_online_probe_destroy(hvp_online_probe *p)
{
    if (!p)
        return;
    hvp_optim_destroy(p->opt);
    free(p);
}

hvp_status hvp_online_probe_step(hvp_online_probe *p, hvp_ctx *ctx, hvp_method *m,
                                 const hvp_tensor *x, const int *labels)
{
    int n = x->shape[0];
    if (n > p->max_batch)
        return HVP_FAIL(HVP_ERR_ARG, "online probe: %d images, at most %d", n, p->max_batch);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= p->classes)
            return HVP_FAIL(HVP_ERR_ARG, "online probe: label %d of image %d is outside [0, %d)",
                            labels[i], i, p->classes);
    hvp_tensor f, logits, y = hvp_tensor_view(&p->labels, 0, 1, &n);
    HVP_TRY(hvp_tensor_upload(ctx, &y, labels));
    HVP_TRY(m->ops->features(m, ctx, x, &f)); /* eval mode, no gradient: detached */
    HVP_TRY(hvp_alloc_f32(ctx->acts, "online probe logits", &logits, 2, (int[]){n, p->classes}));
    HVP_TRY(hvp_linear_fwd(ctx, &f, &p->head[0].value, &p->head[1].value, &logits));
    HVP_TRY(hvp_params_zero_grad(ctx, p->head, 2));
    HVP_TRY(hvp_cross_entropy_bwd(ctx, &logits, &y, NULL, 1.0f, 1.0f, &logits));
    HVP_TRY(hvp_linear_bwd(ctx, &f, &p->head[0].value, &logits, NULL, &p->head[0].grad,
                           &p->head[1].grad));
    return hvp_optim_step(ctx, p->opt);
}

hvp_status hvp_online_probe_logits(hvp_online_probe *p, hvp_ctx *ctx, const hvp_tensor *features,
                                   hvp_tensor *logits)
{
    if (features->ndim != 2 || features->shape[1] != p->dim)
        return HVP_FAIL(HVP_ERR_ARG, "online probe: features of %d dimensions, it takes %d",
                        features->ndim == 2 ? features->shape[1] : -1, p->dim);
    HVP_TRY(hvp_alloc_f32(ctx->acts, "online probe logits", logits, 2,
                          (int[]){features->shape[0], p->classes}));
    return hvp_linear_fwd(ctx, features, &p->head[0].value, &p->head[1].value, logits);
}

hvp_status hvp_online_probe_evaluate(hvp_online_probe *p, hvp_ctx *ctx, hvp_method *m,
                                     const hvp_config *cfg, double *top1, double *top5)
{
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor feats, logits;
    int *labels = NULL;
    float *host = NULL;
    /* the probe learns the pretraining data's classes: its test split, whatever dataset
     * eval.train_root / eval.test_root give the other evaluations */
    hvp_config own = *cfg;
    if (own.eval.train_root[0])
        own.eval.train_root[0] = own.eval.test_root[0] = 0;
    hvp_status st = hvp_eval_split_features(ctx, m, &own, 1, cfg->eval.knn_test_limit, &feats,
                                            &labels);
    int n = st == HVP_OK ? feats.shape[0] : 0;
    if (st == HVP_OK)
        st = hvp_online_probe_logits(p, ctx, &feats, &logits);
    if (st == HVP_OK && !(host = malloc((size_t)n * p->classes * sizeof *host)))
        st = HVP_FAIL(HVP_ERR_NOMEM, "online probe: out of host memory");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, &logits, host);
    long hit1 = 0, hit5 = 0;
    if (st == HVP_OK)
        hvp_classify_hits(host, labels, n, p->classes, &hit1, &hit5);
    *top1 = n ? 100.0 * hit1 / n : 0;
    *top5 = n ? 100.0 * hit5 / n : 0;
    free(host);
    free(labels);
    hvp_arena_rewind(ctx->acts, mark);
    return st;
}
