/* Dropout and drop-path (cl/dropout.cl), masks regenerated from Philox in the backward. */
#include "hvp/dist.h"
#include "hvp/ops.h"
#include "ops/launch.h"
#include "ops/op_util.h"

static hvp_status check_p(const char *op, float p)
{
    if (!(p >= 0.0f && p < 1.0f))
        return HVP_FAIL(HVP_ERR_ARG, "%s: drop probability %g outside [0, 1)", op, (double)p);
    return HVP_OK;
}

/* The Philox key every dropout kernel takes: four kernel arguments. */
#define KEY_ARGS(seed, step, layer)                                                            \
    HVP_UINT((uint32_t)(seed)), HVP_UINT((uint32_t)((seed) >> 32)), HVP_UINT(step),           \
        HVP_UINT(layer)

static hvp_status dropout_run(hvp_ctx *ctx, const char *op, hvp_kernel_id kernel,
                              const hvp_tensor *in, float p, uint64_t seed, uint32_t step,
                              uint32_t layer, const hvp_tensor *out)
{
    HVP_TRY(check_p(op, p));
    size_t n = hvp_numel(in);
    HVP_TRY(hvp_expect_numel(in, n, op, "input"));
    HVP_TRY(hvp_expect_numel(out, n, op, "output"));
    return hvp_launch_elementwise(ctx, kernel, n, 4,
                                  HVP_KARGS(KEY_ARGS(seed, step, layer), HVP_FLOAT(p),
                                            HVP_FLOAT(1.0f / (1.0f - p)), HVP_TENSOR(in),
                                            HVP_TENSOR(out)));
}

hvp_status hvp_dropout_fwd(hvp_ctx *ctx, const hvp_tensor *x, float p, uint64_t seed,
                           uint32_t step, uint32_t layer, const hvp_tensor *y)
{
    return dropout_run(ctx, "dropout_fwd", HVP_K_dropout_fwd, x, p, seed, step, layer, y);
}

hvp_status hvp_dropout_bwd(hvp_ctx *ctx, const hvp_tensor *dy, float p, uint64_t seed,
                           uint32_t step, uint32_t layer, const hvp_tensor *dx)
{
    return dropout_run(ctx, "dropout_bwd", HVP_K_dropout_bwd, dy, p, seed, step, layer, dx);
}

hvp_status hvp_dropout_bits(hvp_ctx *ctx, uint64_t seed, uint32_t step, uint32_t layer,
                            const hvp_tensor *out)
{
    size_t n = hvp_numel(out);
    if (out->dtype != HVP_I32)
        return HVP_FAIL(HVP_ERR_ARG, "dropout_bits: out is %s, expected I32",
                        hvp_dtype_name(out->dtype));
    if (out->off + n > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "dropout_bits: out reaches past element 2^31");
    return hvp_launch_elementwise(ctx, HVP_K_dropout_bits, n, 4,
                                  HVP_KARGS(KEY_ARGS(seed, step, layer), HVP_TENSOR(out)));
}

static hvp_status drop_path_run(hvp_ctx *ctx, const char *op, hvp_kernel_id kernel,
                                const hvp_tensor *in, float p, uint64_t seed, uint32_t step,
                                uint32_t layer, const hvp_tensor *out)
{
    HVP_TRY(check_p(op, p));
    size_t n = hvp_numel(in);
    if (in->ndim < 1 || in->shape[0] <= 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: input has no samples", op);
    HVP_TRY(hvp_expect_numel(in, n, op, "input"));
    HVP_TRY(hvp_expect_numel(out, n, op, "output"));
    int samples = in->shape[0], per = (int)(n / (size_t)samples);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, kernel, &k));
    hvp_args a = hvp_args_begin(k);
    /* data-parallel: keyed by the global batch's sample (rank, world) */
    hvp_args_add(&a, HVP_KARGS(HVP_INT(per), KEY_ARGS(seed, step, layer), HVP_FLOAT(p),
                               HVP_FLOAT(1.0f / (1.0f - p)), HVP_INT(hvp_dist_rank()),
                               HVP_INT(hvp_dist_world()), HVP_TENSOR(in), HVP_TENSOR(out)));
    /* Groups inside one sample (local size 1 across samples): one Philox draw per group. */
    size_t global[2] = {((size_t)per + 15) / 16, (size_t)samples}, local[2] = {256, 1};
    if (local[0] > k->max_work_group_size)
        local[0] = k->max_work_group_size;
    return hvp_launch(ctx, &a, 2, global, local);
}

hvp_status hvp_drop_path_fwd(hvp_ctx *ctx, const hvp_tensor *x, float p, uint64_t seed,
                             uint32_t step, uint32_t layer, const hvp_tensor *y)
{
    return drop_path_run(ctx, "drop_path_fwd", HVP_K_dropout_fwd_path, x, p, seed, step, layer, y);
}

hvp_status hvp_drop_path_bwd(hvp_ctx *ctx, const hvp_tensor *dy, float p, uint64_t seed,
                             uint32_t step, uint32_t layer, const hvp_tensor *dx)
{
    return drop_path_run(ctx, "drop_path_bwd", HVP_K_dropout_bwd_path, dy, p, seed, step, layer,
                         dx);
}
