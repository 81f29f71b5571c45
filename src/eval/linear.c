/* Linear probe on frozen features: standardise each feature with the training set's mean
 * and variance (BatchNorm without affine, as MAE's probe), then train a linear classifier
 * with SGD + momentum and a cosine schedule on shuffled mini-batches, all on the device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/data.h"
#include "hvp/eval.h"
#include "hvp/ops.h"
#include "hvp/optim.h"

hvp_linear_probe_config hvp_linear_probe_defaults(void)
{
    hvp_linear_probe_config c = {100, 256, 0.1f, 0.0f, 0};
    return c;
}

/* Standardises each feature as BatchNorm1d(affine=False) over the whole training set: the
 * training features with their mean and biased variance (train mode, in place), the test
 * features with the running statistics at momentum 1 (eval mode: the unbiased variance). */
static hvp_status standardise(hvp_ctx *ctx, const hvp_tensor *train, const hvp_tensor *test)
{
    int d = train->shape[1];
    hvp_batchnorm_desc bd = HVP_BATCHNORM_DESC(train->shape[0], d, 1);
    bd.momentum = 1.0f;
    hvp_tensor mean, var, save_mean, save_invstd;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "probe feature mean", &mean, 1, &d));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "probe feature variance", &var, 1, &d));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "probe saved mean", &save_mean, 1, &d));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "probe saved invstd", &save_invstd, 1, &d));
    HVP_TRY(hvp_tensor_zero(ctx, &mean));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &var, 1.0f));
    HVP_TRY(hvp_batchnorm_fwd_train(ctx, &bd, train, NULL, NULL, &mean, &var, train,
                                    &save_mean, &save_invstd));
    bd.n = test->shape[0];
    return hvp_batchnorm_fwd_eval(ctx, &bd, test, NULL, NULL, &mean, &var, test);
}

/* Top-1 and top-5 (percent) of logits [n, c] against labels. */
static void score(const float *logits, const int *labels, int n, int c, hvp_linear_probe_result *r)
{
    long hit1 = 0, hit5 = 0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c;
        int rank = 0; /* classes scoring above the true one; ties to the lower index */
        for (int j = 0; j < c; j++)
            rank += z[j] > z[labels[i]] || (z[j] == z[labels[i]] && j < labels[i]);
        hit1 += rank == 0;
        hit5 += rank < 5;
    }
    r->top1 = n ? 100.0 * hit1 / n : 0;
    r->top5 = n ? 100.0 * hit5 / n : 0;
    r->count = n;
}

static hvp_status train_epochs(hvp_ctx *ctx, const hvp_tensor *train, const int *labels,
                               const hvp_linear_probe_config *pc, hvp_param *p, hvp_optim *opt,
                               float *last_loss)
{
    int n = train->shape[0], d = train->shape[1], c = p[0].value.shape[0];
    int batch = pc->batch_size < n ? pc->batch_size : n;
    long steps_per_epoch = n / batch, total = steps_per_epoch * pc->epochs, step = 0;
    int64_t *order = malloc((size_t)n * sizeof *order);
    int *host_perm = malloc((size_t)2 * n * sizeof *host_perm), *host_labels = host_perm + n;
    hvp_status st = order && host_perm ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    hvp_tensor perm, perm_labels, x, logits, loss;
    if (st == HVP_OK)
        st = hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &n, "probe order", &perm);
    if (st == HVP_OK)
        st = hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &n, "probe labels in order", &perm_labels);
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "probe batch", &x, 2, (int[]){batch, d});
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "probe logits", &logits, 2, (int[]){batch, c});
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "probe loss", &loss, 1, (int[]){1});
    for (int e = 0; st == HVP_OK && e < pc->epochs; e++) {
        st = hvp_loader_order(n, pc->seed, e, 1, 0, 1, order);
        for (int i = 0; st == HVP_OK && i < n; i++) {
            host_perm[i] = (int)order[i];
            host_labels[i] = labels[order[i]];
        }
        if (st == HVP_OK)
            st = hvp_tensor_upload(ctx, &perm, host_perm);
        if (st == HVP_OK)
            st = hvp_tensor_upload(ctx, &perm_labels, host_labels);
        for (long s = 0; st == HVP_OK && s < steps_per_epoch; s++, step++) {
            hvp_tensor idx = hvp_tensor_view(&perm, (size_t)(s * batch), 1, &batch);
            hvp_tensor y = hvp_tensor_view(&perm_labels, (size_t)(s * batch), 1, &batch);
            opt->groups[0].lr =
                (float)(pc->lr * batch / 256.0 * 0.5 * (1.0 + cos(M_PI * step / total)));
            opt->groups[0].weight_decay = pc->weight_decay;
            st = hvp_gather_fwd(ctx, train, &idx, &x);
            if (st == HVP_OK)
                st = hvp_linear_fwd(ctx, &x, &p[0].value, &p[1].value, &logits);
            if (st == HVP_OK && s == steps_per_epoch - 1 && e == pc->epochs - 1)
                st = hvp_cross_entropy_fwd(ctx, &logits, &y, NULL, 1.0f, NULL, &loss);
            if (st == HVP_OK)
                st = hvp_params_zero_grad(ctx, p, 2);
            if (st == HVP_OK)
                st = hvp_cross_entropy_bwd(ctx, &logits, &y, NULL, 1.0f, 1.0f, &logits);
            if (st == HVP_OK)
                st = hvp_linear_bwd(ctx, &x, &p[0].value, &logits, NULL, &p[0].grad, &p[1].grad);
            if (st == HVP_OK)
                st = hvp_optim_step(ctx, opt);
        }
        if (st == HVP_OK)
            st = hvp_ctx_finish(ctx);
    }
    if (st == HVP_OK && total > 0)
        st = hvp_tensor_download(ctx, &loss, last_loss);
    free(order);
    free(host_perm);
    return st;
}

hvp_status hvp_linear_probe(hvp_ctx *ctx, const hvp_tensor *train, const int *train_labels,
                            const hvp_tensor *test, const int *test_labels, int num_classes,
                            const hvp_linear_probe_config *pc, hvp_linear_probe_result *out)
{
    int n = train->shape[0], d = train->shape[1], nt = test->shape[0], c = num_classes;
    memset(out, 0, sizeof *out);
    if (train->ndim != 2 || test->ndim != 2 || test->shape[1] != d || n < 2 || nt < 1 ||
        c < 1 || pc->epochs < 0 || pc->batch_size < 1)
        return HVP_FAIL(HVP_ERR_ARG, "linear probe: want train [N >= 2, D] and test [M >= 1, D] "
                                     "features, classes >= 1, batch >= 1");
    for (int i = 0; i < n; i++)
        if (train_labels[i] < 0 || train_labels[i] >= c)
            return HVP_FAIL(HVP_ERR_ARG, "linear probe: training label %d of sample %d is "
                                         "outside [0, %d)", train_labels[i], i, c);
    hvp_arena_mark acts = hvp_arena_get_mark(ctx->acts);
    hvp_arena_mark params = hvp_arena_get_mark(ctx->params);
    hvp_param p[2];
    memset(p, 0, sizeof p);
    snprintf(p[0].name, sizeof p[0].name, "probe.weight");
    snprintf(p[1].name, sizeof p[1].name, "probe.bias");
    p[1].no_decay = 1;
    hvp_optim *opt = NULL;
    hvp_optim_config oc = hvp_optim_defaults(HVP_OPTIM_SGD);
    hvp_tensor logits;
    float *host = NULL;
    /* Zero initial weights: the problem is convex, and the result depends on nothing else. */
    hvp_status st = HVP_OK;
    for (int i = 0; st == HVP_OK && i < 2; i++) {
        int shape[2] = {c, d};
        st = hvp_alloc_f32(ctx->params, p[i].name, &p[i].value, 2 - i, shape);
        if (st == HVP_OK)
            st = hvp_alloc_f32(ctx->params, p[i].name, &p[i].grad, 2 - i, shape);
        if (st == HVP_OK)
            st = hvp_tensor_zero(ctx, &p[i].value);
    }
    if (st == HVP_OK)
        st = hvp_optim_create(ctx, &oc, p, 2, &opt);
    if (st == HVP_OK)
        st = standardise(ctx, train, test);
    if (st == HVP_OK)
        st = train_epochs(ctx, train, train_labels, pc, p, opt, &out->train_loss);
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "probe test logits", &logits, 2, (int[]){nt, c});
    if (st == HVP_OK)
        st = hvp_linear_fwd(ctx, test, &p[0].value, &p[1].value, &logits);
    if (st == HVP_OK && !(host = malloc((size_t)nt * c * sizeof *host)))
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, &logits, host);
    if (st == HVP_OK)
        score(host, test_labels, nt, c, out);
    free(host);
    hvp_optim_destroy(opt);
    hvp_arena_rewind(ctx->acts, acts);
    hvp_arena_rewind(ctx->params, params);
    return st;
}
