/* Weighted kNN evaluation (Wu et al. 2018, as DINO's eval_knn.py): similarities by GEMM in
 * chunks of test samples, top-k on the device, weighted votes on the host. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/eval.h"
#include "hvp/ops.h"
#include "ops/launch.h"

hvp_status hvp_topk_rows(hvp_ctx *ctx, const hvp_tensor *sims, int k, const hvp_tensor *values,
                         const hvp_tensor *indices)
{
    if (sims->ndim != 2 || k < 1 || k > HVP_KNN_MAX_K || k > sims->shape[1])
        return HVP_FAIL(HVP_ERR_ARG, "top-k: k = %d must be in [1, min(%d, columns)]", k,
                        HVP_KNN_MAX_K);
    int rows = sims->shape[0], cols = sims->shape[1];
    if (hvp_numel(values) != (size_t)rows * k || hvp_numel(indices) != (size_t)rows * k)
        return HVP_FAIL(HVP_ERR_ARG, "top-k: outputs must hold %d x %d values", rows, k);
    return hvp_launch_elementwise(ctx, HVP_K_topk_rows, (size_t)rows, 1, /* an item per row */
                                  HVP_KARGS(HVP_INT(cols), HVP_INT(k), HVP_TENSOR(sims),
                                            HVP_TENSOR(values), HVP_TENSOR(indices)));
}

/* Ranks classes by summed vote weight; fills hit1/hit5 for one test sample. */
static void vote(const float *sims, const int *idx, int k, const int *train_labels,
                 int num_classes, float temperature, int label, double *weights, int *hit1,
                 int *hit5)
{
    memset(weights, 0, (size_t)num_classes * sizeof *weights);
    for (int i = 0; i < k; i++)
        if (idx[i] >= 0) {
            int c = train_labels[idx[i]];
            if (c >= 0 && c < num_classes)
                weights[c] += exp((double)sims[i] / temperature);
        }
    /* The label's rank: classes with a larger weight, or an equal one and a lower index. */
    int rank = 0;
    for (int c = 0; c < num_classes; c++)
        if (weights[c] > weights[label] || (weights[c] == weights[label] && c < label))
            rank++;
    *hit1 = rank < 1;
    *hit5 = rank < 5;
}

hvp_status hvp_knn_classify(hvp_ctx *ctx, const hvp_tensor *train, const int *train_labels,
                            const hvp_tensor *test, const int *test_labels, int num_classes,
                            int k, float temperature, hvp_knn_result *out)
{
    memset(out, 0, sizeof *out);
    if (train->ndim != 2 || test->ndim != 2 || train->shape[1] != test->shape[1])
        return HVP_FAIL(HVP_ERR_ARG, "kNN: features must be [n, d] with the same d");
    if (num_classes < 1 || !(temperature > 0))
        return HVP_FAIL(HVP_ERR_ARG, "kNN: needs classes and a positive temperature");
    int ntr = train->shape[0], nte = test->shape[0], d = train->shape[1];
    if (k > ntr)
        k = ntr;
    HVP_TRY(hvp_l2norm_fwd(ctx, train, train, 1e-12f));
    HVP_TRY(hvp_l2norm_fwd(ctx, test, test, 1e-12f));

    /* Chunks of test rows whose similarity rows stay under ~64 MiB. */
    int chunk = (int)(((size_t)16 << 20) / (size_t)ntr);
    chunk = chunk < 1 ? 1 : chunk > nte ? nte : chunk;
    float *vals = malloc((size_t)chunk * k * sizeof *vals);
    int *idx = malloc((size_t)chunk * k * sizeof *idx);
    double *weights = malloc((size_t)num_classes * sizeof *weights);
    hvp_status st = vals && idx && weights ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    long hits1 = 0, hits5 = 0;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    for (int first = 0; st == HVP_OK && first < nte; first += chunk) {
        int rows = nte - first < chunk ? nte - first : chunk;
        hvp_tensor sims, tv, ti;
        hvp_arena_rewind(ctx->acts, mark);
        st = hvp_alloc_f32(ctx->acts, "kNN similarities", &sims, 2, (int[]){rows, ntr});
        if (st == HVP_OK)
            st = hvp_alloc_f32(ctx->acts, "kNN top-k values", &tv, 2, (int[]){rows, k});
        if (st == HVP_OK)
            st = hvp_tensor_alloc(ctx->acts, HVP_I32, 2, (int[]){rows, k}, "kNN top-k indices",
                                  &ti);
        hvp_mat q = {test->buf, test->off + (size_t)first * d, d};
        if (st == HVP_OK)
            st = hvp_gemm(ctx, 0, 1, rows, ntr, d, 1.0f, q, hvp_mat_of(train, d), 0.0f,
                          hvp_mat_of(&sims, ntr));
        if (st == HVP_OK)
            st = hvp_topk_rows(ctx, &sims, k, &tv, &ti);
        if (st == HVP_OK)
            st = hvp_tensor_download(ctx, &tv, vals);
        if (st == HVP_OK)
            st = hvp_tensor_download(ctx, &ti, idx);
        for (int r = 0; st == HVP_OK && r < rows; r++) {
            int label = test_labels[first + r], h1, h5;
            if (label < 0 || label >= num_classes) {
                st = HVP_FAIL(HVP_ERR_ARG, "kNN: test label %d outside [0, %d)", label,
                              num_classes);
                break;
            }
            vote(vals + (size_t)r * k, idx + (size_t)r * k, k, train_labels, num_classes,
                 temperature, label, weights, &h1, &h5);
            hits1 += h1;
            hits5 += h5;
        }
    }
    hvp_arena_rewind(ctx->acts, mark);
    free(vals);
    free(idx);
    free(weights);
    if (st != HVP_OK)
        return st;
    out->count = nte;
    out->top1 = nte ? 100.0 * (double)hits1 / nte : 0;
    out->top5 = nte ? 100.0 * (double)hits5 / nte : 0;
    return HVP_OK;
}
