/* ViT position-embedding interpolation (cl/vit_pos_interp.cl), as DINO's
 * interpolate_pos_encoding. */
#include "hvp/ops.h"
#include "ops/op_util.h"

float hvp_vit_pos_interp_scale(int G, int g)
{
    /* DINO: F.interpolate(scale_factor=(g + 0.1) / G, mode="bicubic"); PyTorch maps an
     * output index through 1 / scale_factor, computed in double and used as float */
    return (float)(1.0 / (((double)g + 0.1) / (double)G));
}

static hvp_status check(const char *op, int D, int G, int g, float scale, const hvp_tensor *src,
                        const char *src_name, size_t src_n, const hvp_tensor *dst,
                        const char *dst_name, size_t dst_n)
{
    if (D < 1 || G < 1 || g < 1)
        return HVP_FAIL(HVP_ERR_ARG, "%s: D %d, grids %d and %d must be positive", op, D, G, g);
    if (!(scale > 0))
        return HVP_FAIL(HVP_ERR_ARG, "%s: scale %g must be positive", op, (double)scale);
    size_t big = (size_t)(1 + (size_t)(G > g ? G : g) * (G > g ? G : g)) * (size_t)D;
    if (big > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d x %d grid of %d exceeds 2^31 elements", op, G, G, D);
    HVP_TRY(hvp_expect_numel(src, src_n, op, src_name));
    return hvp_expect_numel(dst, dst_n, op, dst_name);
}

/* Both directions take (D, G, g, scale, from, to) and one work-item per element of the
 * output: the interpolated grid forward, the stored one backward (no atomics). */
static hvp_status launch(hvp_ctx *ctx, hvp_kernel_id kernel, int D, int G, int g, float scale,
                         const hvp_tensor *from, const hvp_tensor *to, size_t items)
{
    /* per interpolated element 4 x 4 taps, a multiply-add each, in both directions */
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 32.0 * (double)g * g * D);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, kernel, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, D);
    hvp_arg_int(&a, G);
    hvp_arg_int(&a, g);
    hvp_arg_float(&a, scale);
    hvp_arg_tensor(&a, from);
    hvp_arg_tensor(&a, to);
    return hvp_launch_1d(ctx, &a, items);
}

hvp_status hvp_vit_pos_interp_fwd(hvp_ctx *ctx, int D, int G, int g, float scale,
                                  const hvp_tensor *pos, const hvp_tensor *out)
{
    const char *op = "vit_pos_interp_fwd";
    size_t np = (size_t)(1 + G * G) * (size_t)D, no = (size_t)(1 + g * g) * (size_t)D;
    HVP_TRY(check(op, D, G, g, scale, pos, "pos", np, out, "out", no));
    return launch(ctx, HVP_K_vit_pos_interp_fwd, D, G, g, scale, pos, out, no);
}

hvp_status hvp_vit_pos_interp_bwd(hvp_ctx *ctx, int D, int G, int g, float scale,
                                  const hvp_tensor *dout, const hvp_tensor *dpos)
{
    const char *op = "vit_pos_interp_bwd";
    size_t np = (size_t)(1 + G * G) * (size_t)D, no = (size_t)(1 + g * g) * (size_t)D;
    HVP_TRY(check(op, D, G, g, scale, dout, "dout", no, dpos, "dpos", np));
    return launch(ctx, HVP_K_vit_pos_interp_bwd, D, G, g, scale, dout, dpos, np);
}
