/* Batch norm, 1-d and 2-d, train and eval (cl/batchnorm.cl). With ctx->sync_bn the
 * train-mode statistics and the backward's two sums are those of all data-parallel ranks
 * (SyncBN): each rank's per-channel sums are read back, reduced on the host in rank order
 * (hvp/dist.h) and written back; a host round trip per layer and direction. */
#include <math.h>
#include <stdlib.h>

#include "hvp/dist.h"
#include "hvp/ops.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

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

/* Appends a tensor, or (a valid buffer, 0) as a placeholder the kernel does not read. */
static void arg_opt(hvp_args *a, const hvp_tensor *t, const hvp_tensor *dummy)
{
    hvp_arg_tensor(a, t ? t : dummy);
}

/* Units per work-item in the reductions (cl/batchnorm.cl reads units of u values): a
 * group of L items sums a chunk of L * PER_ITEM units of one channel. Few enough that
 * plain float sums per item stay accurate, and few channels with many values still make
 * many groups (64 channels of 128 * 32 * 32 values: 8 chunks each, 512 groups of 256). */
enum { PER_ITEM = 16 };

/* The launch of a reduction kernel over (chunk, channel) groups. */
typedef struct {
    size_t global[2], local[2];
    int chunk, chunks;
} split;

/* The unit the kernels read: 4 values of a row as a float4 when rows allow, else 1. */
static int unit_of(const hvp_batchnorm_desc *d)
{
    return d->hw % 4 ? 1 : 4;
}

static split split_for(const hvp_kernel *k, const hvp_batchnorm_desc *d)
{
    size_t m = (size_t)d->n * (size_t)(d->hw / unit_of(d)); /* units per channel */
    size_t l = hvp_row_group_size(k, m, PER_ITEM);
    split s = {.local = {l, 1}, .chunk = (int)(l * PER_ITEM)};
    s.chunks = (int)((m + (size_t)s.chunk - 1) / (size_t)s.chunk);
    s.global[0] = l * (size_t)s.chunks;
    s.global[1] = (size_t)d->c;
    return s;
}

/* Scratch of n floats from ctx->acts; the caller rewinds the arena after enqueueing. */
static hvp_status scratch(hvp_ctx *ctx, int n, const char *what, hvp_tensor *t)
{
    return hvp_alloc_f32(ctx->acts, what, t, 1, &n);
}

/* The arguments the kernels' CHANNEL_ARGS stand for. */
static void channel_args(hvp_args *a, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                         const hvp_tensor *mean, const hvp_tensor *invstd,
                         const hvp_tensor *gamma, const hvp_tensor *beta)
{
    hvp_arg_int(a, d->n);
    hvp_arg_int(a, d->c);
    hvp_arg_int(a, d->hw);
    hvp_arg_int(a, unit_of(d));
    hvp_arg_int(a, d->relu);
    hvp_arg_tensor(a, x);
    hvp_arg_tensor(a, mean);
    hvp_arg_tensor(a, invstd);
    arg_opt(a, gamma, mean);
    arg_opt(a, beta, mean);
    hvp_arg_int(a, gamma != NULL);
}

/* One item per unit of u values: global (hw / u, n * c). */
static hvp_status launch_elementwise(hvp_ctx *ctx, hvp_args *a, const hvp_batchnorm_desc *d,
                                     int u)
{
    size_t global[2] = {(size_t)(d->hw / u), (size_t)d->n * d->c};
    return hvp_launch(ctx, a, 2, global, NULL);
}

/* One item per channel. */
static hvp_status launch_channels(hvp_ctx *ctx, hvp_args *a, const hvp_batchnorm_desc *d)
{
    size_t global = (size_t)d->c;
    return hvp_launch(ctx, a, 1, &global, NULL);
}

/* A channel's sums of its chunks' partials, in double. */
static void channel_sums(const float *part, int ch, int chunks, double *s1, double *s2)
{
    *s1 = *s2 = 0;
    for (int k = 0; k < chunks; k++) {
        *s1 += part[2 * (ch * chunks + k)];
        *s2 += part[2 * (ch * chunks + k) + 1];
    }
}

/* Host scratch of n floats; NULL (with the error set) when out of memory. */
static float *host_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    if (!p)
        HVP_FAIL(HVP_ERR_NOMEM, "batch norm: out of host memory for %zu floats", n);
    return p;
}

/* SyncBN forward: this rank's (count, mean, sum of squared deviations) per channel from
 * batchnorm_fwd_part's pivot-shifted sums, gathered from every rank and merged in rank
 * order (Chan et al.'s pairwise update, in double); mean, invstd and the running update
 * then as one device holding every rank's batch would compute them. */
static hvp_status sync_stats(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                             const hvp_tensor *part, int chunks, const hvp_tensor *running_mean,
                             const hvp_tensor *running_var, const hvp_tensor *mean,
                             const hvp_tensor *invstd)
{
    int c = d->c, world = hvp_dist_world();
    double m = (double)d->n * d->hw;
    float *sums = host_floats((size_t)2 * c * chunks), *pivot = host_floats((size_t)c);
    double *mine = malloc((size_t)3 * c * sizeof *mine);
    double *all = malloc((size_t)3 * c * world * sizeof *all);
    float *stats = host_floats((size_t)3 * c);
    hvp_status st = sums && pivot && mine && all && stats ? HVP_OK
                                                          : HVP_FAIL(HVP_ERR_NOMEM, "batch norm: out of host memory");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, part, sums);
    /* the pivots: each channel's first value, x[ch * hw] (one strided read) */
    size_t origin[3] = {x->off * sizeof(float), 0, 0}, host_origin[3] = {0, 0, 0};
    size_t region[3] = {sizeof(float), (size_t)c, 1};
    if (st == HVP_OK) {
        cl_event read;
        cl_int err = clEnqueueReadBufferRect(ctx->queue, x->buf, CL_FALSE, origin, host_origin,
                                             region, (size_t)d->hw * sizeof(float), 0,
                                             sizeof(float), 0, pivot, 0, NULL, &read);
        ctx->host_waits++;
        if (err != CL_SUCCESS)
            st = HVP_FAIL(HVP_ERR_CL, "batch norm: reading the pivots failed: %s",
                          hvp_cl_error_name(err));
        else {
            st = hvp_ctx_wait_event(ctx, read, "batch norm: reading the pivots");
            clReleaseEvent(read);
        }
    }
    for (int ch = 0; st == HVP_OK && ch < c; ch++) {
        double s1, s2;
        channel_sums(sums, ch, chunks, &s1, &s2);
        mine[3 * ch] = m;
        mine[3 * ch + 1] = pivot[ch] + s1 / m;
        mine[3 * ch + 2] = fmax(s2 - s1 * s1 / m, 0.0);
    }
    if (st == HVP_OK)
        st = hvp_dist_allgather(mine, (size_t)3 * c * sizeof *mine, all);
    for (int ch = 0; st == HVP_OK && ch < c; ch++) {
        double n = 0, mu = 0, m2 = 0;
        for (int r = 0; r < world; r++) {
            const double *o = all + (size_t)3 * c * r + 3 * ch;
            double total = n + o[0], delta = o[1] - mu;
            mu += delta * o[0] / total;
            m2 += o[2] + delta * delta * n * o[0] / total;
            n = total;
        }
        stats[ch] = (float)mu;
        stats[c + ch] = (float)(1.0 / sqrt(m2 / n + (double)d->eps));
        stats[2 * c + ch] = (float)(n > 1 ? m2 / (n - 1) : m2 / n);
    }
    hvp_tensor dev;
    if (st == HVP_OK)
        st = scratch(ctx, 3 * c, "batch norm synchronised statistics", &dev);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &dev, stats);
    free(sums);
    free(pivot);
    free(mine);
    free(all);
    free(stats);
    HVP_TRY(st);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_fwd_set, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, c);
    hvp_arg_float(&a, d->momentum);
    hvp_arg_int(&a, running_mean != NULL);
    hvp_arg_tensor(&a, &dev);
    hvp_arg_tensor(&a, mean);
    hvp_arg_tensor(&a, invstd);
    arg_opt(&a, running_mean, mean);
    arg_opt(&a, running_var, invstd);
    return launch_channels(ctx, &a, d);
}

/* SyncBN backward: the two sums of every rank added in rank order, over all ranks' values
 * into coef; dgamma and dbeta take this rank's own sums (batchnorm_bwd_set). */
static hvp_status sync_grad_sums(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                 const hvp_tensor *part, int chunks, const hvp_tensor *coef,
                                 const hvp_tensor *dgamma, const hvp_tensor *dbeta)
{
    int c = d->c;
    float *sums = host_floats((size_t)2 * c * chunks), *out = host_floats((size_t)4 * c);
    double *total = malloc((size_t)3 * c * sizeof *total);
    hvp_status st = sums && out && total ? HVP_OK
                                         : HVP_FAIL(HVP_ERR_NOMEM, "batch norm: out of host memory");
    if (st == HVP_OK)
        st = hvp_tensor_download(ctx, part, sums);
    for (int ch = 0; st == HVP_OK && ch < c; ch++) {
        channel_sums(sums, ch, chunks, &total[3 * ch], &total[3 * ch + 1]);
        total[3 * ch + 2] = (double)d->n * d->hw; /* values: the global count */
        out[4 * ch + 2] = (float)total[3 * ch];
        out[4 * ch + 3] = (float)total[3 * ch + 1];
    }
    if (st == HVP_OK)
        st = hvp_dist_allreduce_sum_f64(total, (size_t)3 * c);
    for (int ch = 0; st == HVP_OK && ch < c; ch++) {
        out[4 * ch] = (float)(total[3 * ch] / total[3 * ch + 2]);
        out[4 * ch + 1] = (float)(total[3 * ch + 1] / total[3 * ch + 2]);
    }
    hvp_tensor dev;
    if (st == HVP_OK)
        st = scratch(ctx, 4 * c, "batch norm synchronised gradient sums", &dev);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &dev, out);
    free(sums);
    free(out);
    free(total);
    HVP_TRY(st);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_bwd_set, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, c);
    hvp_arg_tensor(&a, &dev);
    hvp_arg_tensor(&a, coef);
    hvp_arg_int(&a, dgamma != NULL);
    arg_opt(&a, dgamma, coef);
    arg_opt(&a, dbeta, coef);
    return launch_channels(ctx, &a, d);
}

static hvp_status fwd_train(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                            const hvp_tensor *gamma, const hvp_tensor *beta,
                            const hvp_tensor *running_mean, const hvp_tensor *running_var,
                            const hvp_tensor *y, const hvp_tensor *mean,
                            const hvp_tensor *invstd)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_fwd_part, &k));
    split s = split_for(k, d);
    hvp_tensor part;
    HVP_TRY(scratch(ctx, 2 * d->c * s.chunks, "batch norm partial sums", &part));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_int(&a, unit_of(d));
    hvp_arg_int(&a, s.chunk);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, &part);
    hvp_arg_local(&a, s.local[0] * sizeof(cl_float2));
    HVP_TRY(hvp_launch(ctx, &a, 2, s.global, s.local));

    if (ctx->sync_bn) {
        HVP_TRY(sync_stats(ctx, d, x, &part, s.chunks, running_mean, running_var, mean, invstd));
    } else {
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_fwd_final, &k));
        a = hvp_args_begin(k);
        hvp_arg_int(&a, d->c);
        hvp_arg_int(&a, d->hw);
        hvp_arg_int(&a, d->n * d->hw);
        hvp_arg_int(&a, s.chunks);
        hvp_arg_float(&a, d->eps);
        hvp_arg_float(&a, d->momentum);
        hvp_arg_int(&a, running_mean != NULL);
        hvp_arg_tensor(&a, x);
        hvp_arg_tensor(&a, &part);
        hvp_arg_tensor(&a, mean);
        hvp_arg_tensor(&a, invstd);
        arg_opt(&a, running_mean, mean);
        arg_opt(&a, running_var, invstd);
        HVP_TRY(launch_channels(ctx, &a, d));
    }

    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_fwd_apply, &k));
    a = hvp_args_begin(k);
    channel_args(&a, d, x, mean, invstd, gamma, beta);
    hvp_arg_tensor(&a, y);
    return launch_elementwise(ctx, &a, d, unit_of(d));
}

hvp_status hvp_batchnorm_fwd_train(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                   const hvp_tensor *x, const hvp_tensor *gamma,
                                   const hvp_tensor *beta, const hvp_tensor *running_mean,
                                   const hvp_tensor *running_var, const hvp_tensor *y,
                                   const hvp_tensor *save_mean, const hvp_tensor *save_invstd)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 7.0 * (double)hvp_numel(x)); /* per element */
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

    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_status st = fwd_train(ctx, d, x, gamma, beta, running_mean, running_var, y, save_mean,
                              save_invstd);
    /* Safe with work still queued: the queue is in order, so whatever reuses the scratch
     * runs after these kernels. */
    hvp_arena_rewind(ctx->acts, mark);
    return st;
}

hvp_status hvp_batchnorm_fwd_eval(hvp_ctx *ctx, const hvp_batchnorm_desc *d,
                                  const hvp_tensor *x, const hvp_tensor *gamma,
                                  const hvp_tensor *beta, const hvp_tensor *running_mean,
                                  const hvp_tensor *running_var, const hvp_tensor *y)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 2.0 * (double)hvp_numel(x)); /* per element */
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
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_fwd_eval, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c);
    hvp_arg_int(&a, d->hw);
    hvp_arg_int(&a, d->relu);
    hvp_arg_float(&a, d->eps);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, running_mean);
    hvp_arg_tensor(&a, running_var);
    arg_opt(&a, gamma, running_mean);
    arg_opt(&a, beta, running_mean);
    hvp_arg_int(&a, gamma != NULL);
    hvp_arg_tensor(&a, y);
    return launch_elementwise(ctx, &a, d, 1);
}

static hvp_status bwd(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                      const hvp_tensor *gamma, const hvp_tensor *beta, const hvp_tensor *mean,
                      const hvp_tensor *invstd, const hvp_tensor *dy, const hvp_tensor *dx,
                      const hvp_tensor *dgamma, const hvp_tensor *dbeta)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_bwd_part, &k));
    split s = split_for(k, d);
    hvp_tensor part, coef;
    HVP_TRY(scratch(ctx, 2 * d->c * s.chunks, "batch norm partial sums", &part));
    HVP_TRY(scratch(ctx, 2 * d->c, "batch norm gradient sums", &coef));
    hvp_args a = hvp_args_begin(k);
    channel_args(&a, d, x, mean, invstd, gamma, beta);
    hvp_arg_int(&a, s.chunk);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, &part);
    hvp_arg_local(&a, s.local[0] * sizeof(cl_float2));
    HVP_TRY(hvp_launch(ctx, &a, 2, s.global, s.local));

    if (ctx->sync_bn) {
        HVP_TRY(sync_grad_sums(ctx, d, &part, s.chunks, &coef, dgamma, dbeta));
    } else {
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_bwd_final, &k));
        a = hvp_args_begin(k);
        hvp_arg_int(&a, d->c);
        hvp_arg_int(&a, d->n * d->hw);
        hvp_arg_int(&a, s.chunks);
        hvp_arg_tensor(&a, &part);
        hvp_arg_tensor(&a, &coef);
        hvp_arg_int(&a, dgamma != NULL);
        arg_opt(&a, dgamma, mean);
        arg_opt(&a, dbeta, mean);
        HVP_TRY(launch_channels(ctx, &a, d));
    }

    HVP_TRY(hvp_kernel_get(ctx, HVP_K_batchnorm_bwd_dx, &k));
    a = hvp_args_begin(k);
    channel_args(&a, d, x, mean, invstd, gamma, beta);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, &coef);
    hvp_arg_tensor(&a, dx);
    return launch_elementwise(ctx, &a, d, unit_of(d));
}

hvp_status hvp_batchnorm_bwd(hvp_ctx *ctx, const hvp_batchnorm_desc *d, const hvp_tensor *x,
                             const hvp_tensor *gamma, const hvp_tensor *beta,
                             const hvp_tensor *save_mean, const hvp_tensor *save_invstd,
                             const hvp_tensor *dy, const hvp_tensor *dx,
                             const hvp_tensor *dgamma, const hvp_tensor *dbeta)
{
    hvp_flops_add(ctx, HVP_FLOPS_OTHER, 9.0 * (double)hvp_numel(x)); /* per element */
    const char *op = "batchnorm_bwd";
    HVP_TRY(check_desc(d, op));
    size_t total = (size_t)d->n * d->c * d->hw;
    HVP_TRY(hvp_expect_numel(x, total, op, "x"));
    HVP_TRY(hvp_expect_numel(dy, total, op, "dy"));
    HVP_TRY(hvp_expect_numel(dx, total, op, "dx"));
    HVP_TRY(hvp_expect_numel(save_mean, (size_t)d->c, op, "save_mean"));
    HVP_TRY(hvp_expect_numel(save_invstd, (size_t)d->c, op, "save_invstd"));
    HVP_TRY(check_pair(gamma, beta, d->c, op, "gamma", "beta"));
    HVP_TRY(check_pair(dgamma, dbeta, d->c, op, "dgamma", "dbeta"));
    if (!gamma != !dgamma)
        return HVP_FAIL(HVP_ERR_ARG, "%s: gamma/beta and dgamma/dbeta go together (affine or "
                        "not)", op);

    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_status st = bwd(ctx, d, x, gamma, beta, save_mean, save_invstd, dy, dx, dgamma, dbeta);
    hvp_arena_rewind(ctx->acts, mark); /* as in hvp_batchnorm_fwd_train */
    return st;
}
