/* iBOT's masked patch embedding (cl/vit_mask.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"

static hvp_status check(const char *op, int B, int D, int L, const hvp_tensor *mask)
{
    if (B < 1 || D < 1 || L < 1)
        return HVP_FAIL(HVP_ERR_ARG, "%s: B %d, D %d, L %d must be positive", op, B, D, L);
    if ((size_t)B * (size_t)L * (size_t)D > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d x %d x %d elements exceed 2^31", op, B, D, L);
    if (mask->dtype != HVP_I32)
        return HVP_FAIL(HVP_ERR_ARG, "%s: the mask must be I32", op);
    if (hvp_numel(mask) != (size_t)B * L || mask->off + (size_t)B * L > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: the mask has %zu elements, expected %d x %d", op,
                        hvp_numel(mask), B, L);
    return HVP_OK;
}

static hvp_status run(hvp_ctx *ctx, hvp_kernel_id kernel, int B, int D, int L,
                      const hvp_tensor *in, const hvp_tensor *mask, const hvp_tensor *e,
                      const hvp_tensor *out, size_t n)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, kernel, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, B);
    hvp_arg_int(&a, D);
    hvp_arg_int(&a, L);
    hvp_arg_tensor(&a, in);
    hvp_arg_tensor(&a, mask);
    if (e)
        hvp_arg_tensor(&a, e);
    hvp_arg_tensor(&a, out);
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_vit_mask_fwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *c,
                            const hvp_tensor *mask, const hvp_tensor *e, const hvp_tensor *y)
{
    const char *op = "vit_mask_fwd";
    HVP_TRY(check(op, B, D, L, mask));
    size_t n = (size_t)B * D * L;
    HVP_TRY(hvp_expect_numel(c, n, op, "c"));
    HVP_TRY(hvp_expect_numel(e, (size_t)D, op, "masked_embed"));
    HVP_TRY(hvp_expect_numel(y, n, op, "y"));
    return run(ctx, HVP_K_vit_mask_fwd, B, D, L, c, mask, e, y, n);
}

hvp_status hvp_vit_mask_bwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *dy,
                            const hvp_tensor *mask, const hvp_tensor *dc, const hvp_tensor *de)
{
    const char *op = "vit_mask_bwd";
    HVP_TRY(check(op, B, D, L, mask));
    size_t n = (size_t)B * D * L;
    HVP_TRY(hvp_expect_numel(dy, n, op, "dy"));
    HVP_TRY(hvp_expect_numel(de, (size_t)D, op, "dmasked_embed"));
    /* de first: dc may overwrite dy */
    HVP_TRY(run(ctx, HVP_K_vit_mask_bwd_e, B, D, L, dy, mask, NULL, de, (size_t)D));
    if (!dc)
        return HVP_OK;
    HVP_TRY(hvp_expect_numel(dc, n, op, "dc"));
    return run(ctx, HVP_K_vit_mask_bwd_c, B, D, L, dy, mask, NULL, dc, n);
}
