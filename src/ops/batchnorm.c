/* Batch norm, 1-d and 2-d, train and eval (cl/batchnorm.cl). */
#include "hvp/ops.h"
#include "ops/op_util.h"

static hvp_status check_desc(const hvp_batchnorm_desc *d, const char *op)
{
    if (d->n < 1 || d->c < 1 || d->hw < 1 || !(d->eps > 0.0f))
        return HVP_FAIL(HVP_ERR_ARG, "%s: bad descriptor (n=%d c=%d hw=%d eps=%g)", op, d->n,
                        d->c, d->hw, (double)d->eps);
    if ((size_t)d->n * d->c * d->hw > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: tensor of more than 2^31 elements", op);
    return HVP_OK;
}

/* Both or neither of a pair of optional tensors, each of c elements. */
static hvp_status check_pair(const hvp_tensor *a, const hvp_tensor *b, int c, const char *op,
                             const char *na, const char *nb)
{
    if (!a != !b)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s and %s must both be given or both be NULL", op, na,
                        nb);
    if (a) {
        HVP_TRY(hvp_expect_numel(a, (size_t)c, op, na));
        HVP_TRY(hvp_expect_numel(b, (size_t)c, op, nb));
    }
    return HVP_OK;
}

/* A reduction kernel's local size for m values per channel: any size is correct; a power
 * of two giving each item about 16 values, at most 256 or the kernel's maximum (a group
 * of 256 items for 256 values was 2x slower on PoCL for 1-d batch norm). */
static size_t reduce_local(const hvp_kernel *k, size_t m)
{
    size_t cap = k->max_work_group_size < 256 ? k->max_work_group_size : 256, l = 1;
    while (l < cap && l * 16 < m)
        l *= 2;
    return l;
}

/* Appends a tensor, or (a valid buffer, 0) as a placeholder the kernel does not read. */
static void arg_opt(hvp_args *a, const hvp_tensor *t, const hvp_tensor *dummy)
{
    hvp_arg_tensor(a, t ? t : dummy);
}

hvp_status hvp_batchnorm_fwd_train(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                   const hvp_tensor *x, const hvp_tensor *gamma,
                                   const hvp_tensor *beta, const hvp_tensor *running_mean,
                                   const hvp_tensor *running_var, const hvp_tensor *y,
                                   const hvp_tensor *save_mean, const hvp_tensor *save_invstd)
{
    const char *op = "batchnorm_fwd_train";
    HVP_TRY(check_desc(d, op));
    size_t total = (size_t)d->n * d->c * d->hw;
    if ((size_t)d->n * d->hw < 2)
        return HVP_FAIL(HVP_ERR_ARG, "%s: expected more than 1 value per channel when training",
                        op);
    HVP_TRY(hvp_expect_numel(x, total, op, "x"));
    HVP_TRY(hvp_expect_numel(y, total, op, "y"));
    HVP_TRY(hvp_expect_numel(save_mean, (size_t)d->c, op, "save_mean"));
    HVP_TRY(hvp_expect_numel(save_invstd, (size_t)d->c, op, "save_invstd"));
    HVP_TRY(check_pair(gamma, beta, d->c, op, "gamma", "beta"));
    HVP_TRY(check_pair(running_mean, running_var, d->c, op, "running_mean", "running_var"));

    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "batchnorm", "batchnorm_fwd_stats", &k));
    size_t local = reduce_local(k, (size_t)d->n * d->hw), global = (size_t)d->c * local;
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_float(&a, d->eps);
    hvp_arg_float(&a, d->momentum);
    hvp_arg_int(&a, running_mean != NULL);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, save_mean);
    hvp_arg_tensor(&a, save_invstd);
    arg_opt(&a, running_mean, save_mean);
    arg_opt(&a, running_var, save_invstd);
    hvp_arg_local(&a, local * sizeof(float));
    HVP_TRY(hvp_launch(ctx, &a, 1, &global, &local));

    HVP_TRY(hvp_kernel_get(ctx, "batchnorm", "batchnorm_fwd_apply", &k));
    a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, save_mean);
    hvp_arg_tensor(&a, save_invstd);
    arg_opt(&a, gamma, save_mean);
    arg_opt(&a, beta, save_mean);
    hvp_arg_int(&a, gamma != NULL);
    hvp_arg_tensor(&a, y);
    size_t global2[2] = {(size_t)d->hw, (size_t)d->n * d->c};
    return hvp_launch(ctx, &a, 2, global2, NULL);
}

hvp_status hvp_batchnorm_fwd_eval(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                  const hvp_tensor *x, const hvp_tensor *gamma,
                                  const hvp_tensor *beta, const hvp_tensor *running_mean,
                                  const hvp_tensor *running_var, const hvp_tensor *y)
{
    const char *op = "batchnorm_fwd_eval";
    HVP_TRY(check_desc(d, op));
    size_t total = (size_t)d->n * d->c * d->hw;
    HVP_TRY(hvp_expect_numel(x, total, op, "x"));
    HVP_TRY(hvp_expect_numel(y, total, op, "y"));
    HVP_TRY(check_pair(gamma, beta, d->c, op, "gamma", "beta"));
    if (!running_mean || !running_var)
        return HVP_FAIL(HVP_ERR_ARG, "%s: eval mode needs the running statistics", op);
    HVP_TRY(check_pair(running_mean, running_var, d->c, op, "running_mean", "running_var"));

    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "batchnorm", "batchnorm_fwd_eval", &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_float(&a, d->eps);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, running_mean);
    hvp_arg_tensor(&a, running_var);
    arg_opt(&a, gamma, running_mean);
    arg_opt(&a, beta, running_mean);
    hvp_arg_int(&a, gamma != NULL);
    hvp_arg_tensor(&a, y);
    size_t global2[2] = {(size_t)d->hw, (size_t)d->n * d->c};
    return hvp_launch(ctx, &a, 2, global2, NULL);
}

hvp_status hvp_batchnorm_bwd(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                             const hvp_tensor *gamma, const hvp_tensor *save_mean,
                             const hvp_tensor *save_invstd, const hvp_tensor *dy,
                             const hvp_tensor *dx, const hvp_tensor *dgamma,
                             const hvp_tensor *dbeta)
{
    const char *op = "batchnorm_bwd";
    HVP_TRY(check_desc(d, op));
    size_t total = (size_t)d->n * d->c * d->hw;
    HVP_TRY(hvp_expect_numel(x, total, op, "x"));
    HVP_TRY(hvp_expect_numel(dy, total, op, "dy"));
    HVP_TRY(hvp_expect_numel(dx, total, op, "dx"));
    HVP_TRY(hvp_expect_numel(save_mean, (size_t)d->c, op, "save_mean"));
    HVP_TRY(hvp_expect_numel(save_invstd, (size_t)d->c, op, "save_invstd"));
    HVP_TRY(check_pair(dgamma, dbeta, d->c, op, "dgamma", "dbeta"));
    if (!gamma != !dgamma)
        return HVP_FAIL(HVP_ERR_ARG, "%s: gamma and dgamma/dbeta go together (affine or not)",
                        op);
    if (gamma)
        HVP_TRY(hvp_expect_numel(gamma, (size_t)d->c, op, "gamma"));

    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "batchnorm", "batchnorm_bwd", &k));
    size_t local = reduce_local(k, (size_t)d->n * d->hw), global = (size_t)d->c * local;
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, save_mean);
    hvp_arg_tensor(&a, save_invstd);
    arg_opt(&a, gamma, save_mean);
    hvp_arg_int(&a, gamma != NULL);
    hvp_arg_tensor(&a, dx);
    arg_opt(&a, dgamma, save_mean);
    arg_opt(&a, dbeta, save_mean);
    hvp_arg_local(&a, local * sizeof(float));
    return hvp_launch(ctx, &a, 1, &global, &local);
}
