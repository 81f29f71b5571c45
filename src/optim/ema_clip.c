/* EMA of parameters and gradient-norm clipping (cl/optim_util.cl); norms are reduced on the
 * device by hvp_reduce and read there by the clipping kernel. */
#include "hvp/ops.h"
#include "hvp/optim.h"
#include "ops/op_util.h"

static hvp_status ema_one(hvp_ctx *ctx, hvp_kernel *k, const hvp_tensor *t, const hvp_tensor *s,
                          float m)
{
    size_t n = hvp_numel(t);
    HVP_TRY(hvp_expect_numel(t, n, "ema", "teacher"));
    HVP_TRY(hvp_expect_numel(s, n, "ema", "student"));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, t);
    hvp_arg_tensor(&a, s);
    hvp_arg_float(&a, m);
    hvp_arg_float(&a, (float)(1.0 - (double)m));
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_ema_update(hvp_ctx *ctx, const hvp_param *teacher, const hvp_param *student,
                          int n, float m)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "optim_util", "optim_ema", &k));
    for (int i = 0; i < n; i++)
        HVP_TRY(ema_one(ctx, k, &teacher[i].value, &student[i].value, m));
    return HVP_OK;
}

hvp_status hvp_ema_tensors(hvp_ctx *ctx, const hvp_tensor *teacher, const hvp_tensor *student,
                           int n, float m)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "optim_util", "optim_ema", &k));
    for (int i = 0; i < n; i++)
        HVP_TRY(ema_one(ctx, k, &teacher[i], &student[i], m));
    return HVP_OK;
}

/* norms[i] = ||g_i|| for every parameter (into a fresh [n] tensor unless given). */
static hvp_status grad_norms(hvp_ctx *ctx, const hvp_param *params, int n, const hvp_tensor *given,
                             hvp_tensor *norms)
{
    if (given) {
        HVP_TRY(hvp_expect_numel(given, (size_t)n, "clip", "norms"));
        *norms = *given;
    } else {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "gradient norms", norms, 1, &n));
    }
    for (int i = 0; i < n; i++) {
        hvp_tensor out = hvp_tensor_view(norms, (size_t)i, 1, (int[]){1});
        HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &params[i].grad, &out));
    }
    return HVP_OK;
}

static hvp_status scale_grad(hvp_ctx *ctx, hvp_kernel *k, const hvp_param *p,
                             const hvp_tensor *norm, float max_norm)
{
    size_t n = hvp_numel(&p->grad);
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_tensor(&a, &p->grad);
    hvp_arg_tensor(&a, norm);
    hvp_arg_float(&a, max_norm);
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_clip_grad_norm(hvp_ctx *ctx, const hvp_param *params, int n, float max_norm,
                              const hvp_tensor *total_norm)
{
    if (n <= 0)
        return HVP_OK;
    hvp_tensor norms, total;
    HVP_TRY(grad_norms(ctx, params, n, NULL, &norms));
    if (total_norm) {
        HVP_TRY(hvp_expect_numel(total_norm, 1, "clip_grad_norm", "total_norm"));
        total = *total_norm;
    } else {
        HVP_TRY(hvp_alloc_f32(ctx->acts, "total gradient norm", &total, 1, (int[]){1}));
    }
    HVP_TRY(hvp_reduce(ctx, HVP_REDUCE_NORM2, &norms, &total));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "optim_util", "optim_clip", &k));
    for (int i = 0; i < n; i++)
        HVP_TRY(scale_grad(ctx, k, &params[i], &total, max_norm));
    return HVP_OK;
}

hvp_status hvp_clip_grad_per_param(hvp_ctx *ctx, const hvp_param *params, int n, float clip,
                                   const hvp_tensor *norms_out)
{
    if (n <= 0)
        return HVP_OK;
    hvp_tensor norms;
    HVP_TRY(grad_norms(ctx, params, n, norms_out, &norms));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "optim_util", "optim_clip", &k));
    for (int i = 0; i < n; i++) {
        hvp_tensor one = hvp_tensor_view(&norms, (size_t)i, 1, (int[]){1});
        HVP_TRY(scale_grad(ctx, k, &params[i], &one, clip));
    }
    return HVP_OK;
}
