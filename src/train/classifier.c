/* A backbone with a new linear head, trained on labels: the step of the linear probe with
 * augmentations, the online probe and fine-tuning (the loops are in supervised.c and
 * online_probe.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/classify.h"
#include "hvp/model_io.h"
#include "hvp/ops.h"
#include "hvp/rng.h"

hvp_status hvp_classifier_create(hvp_ctx *ctx, const hvp_backbone_config *bc, int classes,
                                 int finetune, int last_blocks, int max_batch, uint64_t seed,
                                 hvp_classifier *c)
{
    memset(c, 0, sizeof *c);
    if (classes < 1 || max_batch < 1 || last_blocks < 1 || (finetune && last_blocks != 1))
        return HVP_FAIL(HVP_ERR_ARG, "classifier: %d classes, batch %d (both >= 1), features "
                        "of %d blocks (1 when fine-tuning)", classes, max_batch, last_blocks);
    c->last_blocks = last_blocks;
    c->classes = classes;
    c->finetune = finetune;
    c->max_batch = max_batch;
    hvp_state_init(&c->state, seed);
    HVP_TRY(hvp_backbone_init(&c->backbone, &c->state, ctx, "", bc));
    int d = c->dim = hvp_backbone_feature_dim(&c->backbone) * last_blocks;
    hvp_state_init(&c->head_state, seed);
    HVP_TRY(hvp_state_param(&c->head_state, ctx, "head.weight", 2, (int[]){classes, d},
                            HVP_INIT_ZERO, d, 0, &c->head[0]));
    HVP_TRY(hvp_state_param(&c->head_state, ctx, "head.bias", 1, &classes, HVP_INIT_ZERO, d, 1,
                            &c->head[1]));
    /* weight ~ normal(0, 0.01) by Box-Muller from (seed, "head"), bias 0 */
    size_t nw = (size_t)classes * d;
    float *w = calloc(nw + (size_t)classes, sizeof *w);
    c->host_targets = malloc((size_t)max_batch * classes * sizeof *c->host_targets);
    c->params = malloc((size_t)(c->state.nparams + 2) * sizeof *c->params);
    if (!w || !c->host_targets || !c->params) {
        free(w);
        return HVP_FAIL(HVP_ERR_NOMEM, "classifier: out of host memory");
    }
    hvp_rng_stream r = hvp_rng_stream_init(seed, 0x68656164u, 0, 0);
    for (size_t i = 0; i < nw; i++) {
        double u1 = hvp_rng_uniform(&r, 0, 1), u2 = hvp_rng_uniform(&r, 0, 1);
        w[i] = (float)(0.01 * sqrt(-2.0 * log(u1 > 0 ? u1 : 1e-300)) * cos(2 * M_PI * u2));
    }
    hvp_status st = hvp_tensor_upload(ctx, &c->head[0].value, w);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &c->head[1].value, w + nw);
    free(w);
    HVP_TRY(st);
    c->nparams = 0;
    for (int i = 0; finetune && i < c->state.nparams; i++)
        c->params[c->nparams++] = c->state.params[i];
    c->params[c->nparams++] = c->head[0];
    c->params[c->nparams++] = c->head[1];
    HVP_TRY(hvp_tensor_alloc(ctx->params, HVP_I32, 1, &max_batch, "classifier labels",
                             &c->labels));
    return hvp_alloc_f32(ctx->params, "classifier targets", &c->targets, 2,
                         (int[]){max_batch, classes});
}

void hvp_classifier_free(hvp_classifier *c)
{
    hvp_backbone_free(&c->backbone);
    hvp_state_free(&c->state);
    hvp_state_free(&c->head_state);
    free(c->params);
    free(c->host_targets);
    memset(c, 0, sizeof *c);
}

hvp_status hvp_classifier_load_backbone(hvp_classifier *c, hvp_ctx *ctx, const char *file,
                                        const char *prefix)
{
    hvp_st_file *f = NULL;
    HVP_TRY(hvp_st_open(file, &f));
    hvp_status st;
    if (prefix && *prefix) {
        st = hvp_state_read(ctx, &c->state, f, prefix, 0);
    } else {
        int roots = 0;
        st = hvp_state_init_backbone(ctx, &c->state, f, &roots);
    }
    hvp_st_close(f);
    return st;
}

/* Labels (and smoothed targets) of n samples to the device, through the staging slots. */
static hvp_status upload_labels(hvp_classifier *c, hvp_ctx *ctx, const int *labels, int n,
                                hvp_tensor *y, hvp_tensor *t)
{
    if (n < 1 || n > c->max_batch)
        return HVP_FAIL(HVP_ERR_ARG, "classifier: batch of %d (1..%d)", n, c->max_batch);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c->classes)
            return HVP_FAIL(HVP_ERR_ARG, "classifier: label %d of sample %d is outside [0, %d)",
                            labels[i], i, c->classes);
    *y = hvp_tensor_view(&c->labels, 0, 1, &n);
    HVP_TRY(hvp_tensor_upload(ctx, y, labels));
    if (c->label_smoothing <= 0)
        return HVP_OK;
    int k = c->classes;
    float e = c->label_smoothing;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            c->host_targets[(size_t)i * k + j] = (j == labels[i] ? 1.0f - e : 0.0f) + e / k;
    *t = hvp_tensor_view(&c->targets, 0, 2, (int[]){n, k});
    return hvp_tensor_upload(ctx, t, c->host_targets);
}

/* Head forward, loss, head backward; dfeatures NULL: the backbone gets no gradient. */
static hvp_status head_step(hvp_classifier *c, hvp_ctx *ctx, const hvp_tensor *f,
                            const int *labels, const hvp_tensor *loss, hvp_tensor *dfeatures)
{
    int n = f->shape[0];
    hvp_tensor y, t, logits;
    HVP_TRY(upload_labels(c, ctx, labels, n, &y, &t));
    const hvp_tensor *yp = c->label_smoothing > 0 ? NULL : &y;
    const hvp_tensor *tp = c->label_smoothing > 0 ? &t : NULL;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "classifier logits", &logits, 2, (int[]){n, c->classes}));
    HVP_TRY(hvp_linear_fwd(ctx, f, &c->head[0].value, &c->head[1].value, &logits));
    HVP_TRY(hvp_cross_entropy_fwd(ctx, &logits, yp, tp, 1.0f, NULL, loss));
    HVP_TRY(hvp_cross_entropy_bwd(ctx, &logits, yp, tp, 1.0f, 1.0f, &logits));
    if (dfeatures)
        HVP_TRY(hvp_alloc_f32(ctx->acts, "classifier dfeatures", dfeatures, 2,
                              (int[]){n, c->dim}));
    return hvp_linear_bwd(ctx, f, &c->head[0].value, &logits, dfeatures, &c->head[0].grad,
                          &c->head[1].grad);
}

hvp_status hvp_classifier_train_step_features(hvp_classifier *c, hvp_ctx *ctx,
                                              const hvp_tensor *features, const int *labels,
                                              const hvp_tensor *loss)
{
    if (features->ndim != 2 || features->shape[1] != c->dim)
        return HVP_FAIL(HVP_ERR_ARG, "classifier: features of %d dimensions, the head takes %d",
                        features->ndim == 2 ? features->shape[1] : -1, c->dim);
    HVP_TRY(hvp_params_zero_grad(ctx, c->params, c->nparams));
    return head_step(c, ctx, features, labels, loss, NULL);
}

hvp_status hvp_classifier_train_step(hvp_classifier *c, hvp_ctx *ctx, const hvp_tensor *x,
                                     const int *labels, const hvp_tensor *loss)
{
    hvp_tensor f, df;
    HVP_TRY(hvp_params_zero_grad(ctx, c->params, c->nparams));
    if (!c->finetune) {
        hvp_pass p = {ctx, 0, 0, 1, 0};
        HVP_TRY(hvp_backbone_eval_features(&c->backbone, &p, x, c->last_blocks, &f));
        return head_step(c, ctx, &f, labels, loss, NULL);
    }
    hvp_pass p = {ctx, 1, 1, 1, 1};
    hvp_backbone_set_step(&c->backbone, c->step++);
    HVP_TRY(hvp_backbone_forward(&c->backbone, &p, x, &f));
    HVP_TRY(head_step(c, ctx, &f, labels, loss, &df));
    return hvp_backbone_backward(&c->backbone, ctx, &df);
}

hvp_status hvp_classifier_logits(hvp_classifier *c, hvp_ctx *ctx, const hvp_tensor *x,
                                 hvp_tensor *logits)
{
    hvp_pass p = {ctx, 0, 0, 1, 0};
    hvp_tensor f;
    HVP_TRY(hvp_backbone_eval_features(&c->backbone, &p, x, c->last_blocks, &f));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "classifier logits", logits, 2,
                          (int[]){x->shape[0], c->classes}));
    return hvp_linear_fwd(ctx, &f, &c->head[0].value, &c->head[1].value, logits);
}

void hvp_classify_hits(const float *logits, const int *labels, int n, int classes, long *top1,
                       long *top5)
{
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * classes;
        if (labels[i] < 0 || labels[i] >= classes)
            continue; /* a test class the training split lacks: a miss */
        int rank = 0; /* classes scoring above the true one; ties to the lower index */
        for (int j = 0; j < classes; j++)
            rank += z[j] > z[labels[i]] || (z[j] == z[labels[i]] && j < labels[i]);
        *top1 += rank == 0;
        *top5 += rank < 5;
    }
}
