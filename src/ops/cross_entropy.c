/* Cross-entropy with hard labels or soft targets and a temperature (cl/cross_entropy.cl). */
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

static hvp_status check(const char *op, const hvp_tensor *logits, const hvp_tensor *labels,
                        const hvp_tensor *targets, float temperature, int *rows, int *cols)
{
    HVP_TRY(hvp_rows_cols(logits, op, "logits", rows, cols));
    HVP_TRY(hvp_expect_numel(logits, hvp_numel(logits), op, "logits"));
    if ((labels == NULL) == (targets == NULL))
        return HVP_FAIL(HVP_ERR_ARG, "%s: give exactly one of labels and targets", op);
    if (labels)
        HVP_TRY(hvp_expect_i32(labels, (size_t)*rows, op, "labels"));
    else
        HVP_TRY(hvp_expect_numel(targets, hvp_numel(logits), op, "targets"));
    if (!(temperature > 0))
        return HVP_FAIL(HVP_ERR_ARG, "%s: temperature %g must be positive", op,
                        (double)temperature);
    return HVP_OK;
}

/* The arguments the two kernels share after (rows, cols), up to and including tau; the
 * unused one of labels / targets gets the logits' buffer as a stand-in. */
#define COMMON_ARGS(logits, labels, targets, temperature)                                      \
    HVP_TENSOR(logits), HVP_TENSOR((labels) ? (labels) : (logits)),                           \
        HVP_TENSOR((targets) ? (targets) : (logits)), HVP_INT((targets) != NULL),             \
        HVP_FLOAT(temperature)

hvp_status hvp_cross_entropy_fwd(hvp_ctx *ctx, const hvp_tensor *logits, const hvp_tensor *labels,
                                 const hvp_tensor *targets, float temperature,
                                 const hvp_tensor *losses, const hvp_tensor *mean)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 5.0 * (double)hvp_numel(logits)); /* per element */
    const char *op = "cross_entropy_fwd";
    int rows = 0, cols = 0;
    HVP_TRY(check(op, logits, labels, targets, temperature, &rows, &cols));
    if (!losses && !mean)
        return HVP_FAIL(HVP_ERR_ARG, "%s: neither losses nor mean asked for", op);
    hvp_tensor scratch;
    if (losses)
        HVP_TRY(hvp_expect_numel(losses, (size_t)rows, op, "losses"));
    else {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "cross_entropy losses", &scratch, 1, &rows));
        losses = &scratch;
    }
    if (mean)
        HVP_TRY(hvp_expect_numel(mean, 1, op, "mean"));
    HVP_TRY(hvp_launch_rowwise(
        ctx, HVP_K_cross_entropy_fwd, HVP_K_cross_entropy_fwd_item, rows, cols, HVP_VEC,
        HVP_KARGS(COMMON_ARGS(logits, labels, targets, temperature), HVP_TENSOR(losses))));
    return mean ? hvp_reduce(ctx, HVP_REDUCE_MEAN, losses, mean) : HVP_OK;
}

hvp_status hvp_cross_entropy_bwd(hvp_ctx *ctx, const hvp_tensor *logits, const hvp_tensor *labels,
                                 const hvp_tensor *targets, float temperature, float scale,
                                 const hvp_tensor *dlogits)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 4.0 * (double)hvp_numel(logits)); /* per element */
    const char *op = "cross_entropy_bwd";
    int rows = 0, cols = 0;
    HVP_TRY(check(op, logits, labels, targets, temperature, &rows, &cols));
    HVP_TRY(hvp_expect_numel(dlogits, hvp_numel(logits), op, "dlogits"));
    float dscale = (float)((double)scale / ((double)rows * (double)temperature));
    return hvp_launch_rowwise(
        ctx, HVP_K_cross_entropy_bwd, HVP_K_cross_entropy_bwd_item, rows, cols, HVP_VEC,
        HVP_KARGS(COMMON_ARGS(logits, labels, targets, temperature), HVP_FLOAT(dscale),
                  HVP_TENSOR(dlogits)));
}
