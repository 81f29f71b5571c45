/* ViT token embedding (cl/vit_embed.cl): patch features -> [cls; patches] + pos_embed. */
#include "hvp/ops.h"
#include "ops/op_util.h"

static hvp_status check_dims(const char *op, int B, int D, int L)
{
    if (B < 1 || D < 1 || L < 1)
        return HVP_FAIL(HVP_ERR_ARG, "%s: B %d, D %d, L %d must be positive", op, B, D, L);
    if ((size_t)B * (size_t)(L + 1) * (size_t)D > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d x %d x %d tokens exceed 2^31 elements", op, B,
                        L + 1, D);
    return HVP_OK;
}

hvp_status hvp_vit_embed_fwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *c,
                             const hvp_tensor *cls, const hvp_tensor *pos, const hvp_tensor *y)
{
    const char *op = "vit_embed_fwd";
    HVP_TRY(check_dims(op, B, D, L));
    size_t tokens = (size_t)(L + 1) * (size_t)D;
    HVP_TRY(hvp_expect_numel(c, (size_t)B * D * L, op, "c"));
    HVP_TRY(hvp_expect_numel(cls, (size_t)D, op, "cls"));
    HVP_TRY(hvp_expect_numel(pos, tokens, op, "pos"));
    HVP_TRY(hvp_expect_numel(y, (size_t)B * tokens, op, "y"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_vit_embed_fwd, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, B);
    hvp_arg_int(&a, D);
    hvp_arg_int(&a, L);
    hvp_arg_tensor(&a, c);
    hvp_arg_tensor(&a, cls);
    hvp_arg_tensor(&a, pos);
    hvp_arg_tensor(&a, y);
    return hvp_launch_1d(ctx, &a, (size_t)B * tokens);
}

hvp_status hvp_vit_embed_bwd(hvp_ctx *ctx, int B, int D, int L, const hvp_tensor *dy,
                             const hvp_tensor *dc, const hvp_tensor *dcls,
                             const hvp_tensor *dpos)
{
    const char *op = "vit_embed_bwd";
    HVP_TRY(check_dims(op, B, D, L));
    size_t tokens = (size_t)(L + 1) * (size_t)D;
    HVP_TRY(hvp_expect_numel(dy, (size_t)B * tokens, op, "dy"));
    HVP_TRY(hvp_expect_numel(dcls, (size_t)D, op, "dcls"));
    HVP_TRY(hvp_expect_numel(dpos, tokens, op, "dpos"));
    hvp_kernel *k;
    hvp_args a;
    if (dc) {
        HVP_TRY(hvp_expect_numel(dc, (size_t)B * D * L, op, "dc"));
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_vit_embed_bwd_c, &k));
        a = hvp_args_begin(k);
        hvp_arg_int(&a, B);
        hvp_arg_int(&a, D);
        hvp_arg_int(&a, L);
        hvp_arg_tensor(&a, dy);
        hvp_arg_tensor(&a, dc);
        HVP_TRY(hvp_launch_1d(ctx, &a, (size_t)B * D * L));
    }
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_vit_embed_bwd_params, &k));
    a = hvp_args_begin(k);
    hvp_arg_int(&a, B);
    hvp_arg_int(&a, D);
    hvp_arg_int(&a, L);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, dcls);
    hvp_arg_tensor(&a, dpos);
    return hvp_launch_1d(ctx, &a, tokens);
}

static hvp_status cls_run(hvp_ctx *ctx, hvp_kernel_id kernel, int B, int T, int D,
                          const hvp_tensor *src, size_t src_n, const hvp_tensor *dst,
                          size_t dst_n)
{
    const char *op = hvp_kernel_name(kernel);
    if (B < 1 || T < 1 || D < 1)
        return HVP_FAIL(HVP_ERR_ARG, "%s: B %d, T %d, D %d must be positive", op, B, T, D);
    if ((size_t)B * (size_t)T * (size_t)D > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d x %d x %d tokens exceed 2^31 elements", op, B, T,
                        D);
    HVP_TRY(hvp_expect_numel(src, src_n, op, "input"));
    HVP_TRY(hvp_expect_numel(dst, dst_n, op, "output"));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, kernel, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, B);
    hvp_arg_int(&a, T);
    hvp_arg_int(&a, D);
    hvp_arg_tensor(&a, src);
    hvp_arg_tensor(&a, dst);
    return hvp_launch_1d(ctx, &a, dst_n);
}

hvp_status hvp_vit_cls_fwd(hvp_ctx *ctx, int B, int T, int D, const hvp_tensor *x,
                           const hvp_tensor *y)
{
    size_t all = (size_t)B * (size_t)T * (size_t)D, rows = (size_t)B * (size_t)D;
    return cls_run(ctx, HVP_K_vit_embed_cls_fwd, B, T, D, x, all, y, rows);
}

hvp_status hvp_vit_cls_bwd(hvp_ctx *ctx, int B, int T, int D, const hvp_tensor *dy,
                           const hvp_tensor *dx)
{
    size_t all = (size_t)B * (size_t)T * (size_t)D, rows = (size_t)B * (size_t)D;
    return cls_run(ctx, HVP_K_vit_embed_cls_bwd, B, T, D, dy, rows, dx, all);
}
