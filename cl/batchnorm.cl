/* Batch norm over x [n, c, hw] per channel (2-d: hw = H*W; 1-d: hw = 1). Every pointer
 * comes with its element offset. The per-channel reductions run in one work-group per
 * channel, for any local size: each item sums a fixed strided subset with compensated
 * (Kahan) summation, then a tree over local memory. No atomics: bitwise reproducible. */

/* Walks the values lid, lid + L, lid + 2L, ... of one channel as (image i, position j)
 * without a division per step (divisions per element made these kernels slow on PoCL). */
typedef struct {
    int i, j, di, dj;
} walk;

static walk walk_start(int lid, int L, int hw)
{
    walk w;
    w.i = lid / hw;
    w.j = lid - w.i * hw;
    w.di = L / hw;
    w.dj = L - w.di * hw;
    return w;
}

static void walk_next(walk *w, int hw)
{
    w->i += w->di;
    w->j += w->dj;
    if (w->j >= hw) {
        w->j -= hw;
        w->i++;
    }
}

/* Sums part[0..L) into part[0]; every item of the group must call it. */
static void sum_partials(local float *part, int lid, int L)
{
    barrier(CLK_LOCAL_MEM_FENCE);
    int span = 1;
    while (span * 2 < L)
        span *= 2;
    for (; span > 0; span >>= 1) {
        if (lid < span && lid + span < L)
            part[lid] += part[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* Batch mean and inverse standard deviation (biased variance) per channel, two passes;
 * with update, the running statistics move towards them (unbiased variance), as PyTorch. */
kernel void batchnorm_fwd_stats(int n, int c, int hw, float eps, float momentum, int update,
                                global const float *x, int x_off, global float *mean,
                                int mean_off, global float *invstd, int invstd_off,
                                global float *run_mean, int rm_off, global float *run_var,
                                int rv_off, local float *part)
{
    int ch = get_group_id(0);
    int lid = get_local_id(0), L = get_local_size(0);
    int m = n * hw;
    float s = 0.0f, comp = 0.0f;
    for (walk w = walk_start(lid, L, hw); w.i < n; walk_next(&w, hw)) {
        float v = x[x_off + (w.i * c + ch) * hw + w.j] - comp;
        float t = s + v;
        comp = (t - s) - v;
        s = t;
    }
    part[lid] = s;
    sum_partials(part, lid, L);
    float mu = part[0] / (float)m;
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read part[0] before it is reused */
    s = 0.0f;
    comp = 0.0f;
    for (walk w = walk_start(lid, L, hw); w.i < n; walk_next(&w, hw)) {
        float d = x[x_off + (w.i * c + ch) * hw + w.j] - mu;
        float v = d * d - comp;
        float t = s + v;
        comp = (t - s) - v;
        s = t;
    }
    part[lid] = s;
    sum_partials(part, lid, L);
    if (lid == 0) {
        float var = part[0] / (float)m;
        mean[mean_off + ch] = mu;
        invstd[invstd_off + ch] = 1.0f / sqrt(var + eps);
        if (update) {
            float unbiased = m > 1 ? part[0] / (float)(m - 1) : var;
            run_mean[rm_off + ch] = (1.0f - momentum) * run_mean[rm_off + ch] + momentum * mu;
            run_var[rv_off + ch] = (1.0f - momentum) * run_var[rv_off + ch] + momentum * unbiased;
        }
    }
}

/* y = (x - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch] (gamma 1, beta 0 without
 * affine); y may be x. Global (hw, n * c). */
kernel void batchnorm_fwd_apply(int n, int c, int hw, global const float *x, int x_off,
                                global const float *mean, int mean_off,
                                global const float *invstd, int invstd_off,
                                global const float *gamma, int gamma_off,
                                global const float *beta, int beta_off, int affine,
                                global float *y, int y_off)
{
    int j = get_global_id(0), q = get_global_id(1); /* q = image * c + channel */
    if (j >= hw || q >= n * c)
        return;
    int ch = q - (q / c) * c, e = q * hw + j;
    float v = (x[x_off + e] - mean[mean_off + ch]) * invstd[invstd_off + ch];
    if (affine)
        v = v * gamma[gamma_off + ch] + beta[beta_off + ch];
    y[y_off + e] = v;
}

/* Eval mode: the running statistics. Global (hw, n * c). y may be x. */
kernel void batchnorm_fwd_eval(int n, int c, int hw, float eps, global const float *x,
                               int x_off, global const float *run_mean, int rm_off,
                               global const float *run_var, int rv_off,
                               global const float *gamma, int gamma_off,
                               global const float *beta, int beta_off, int affine,
                               global float *y, int y_off)
{
    int j = get_global_id(0), q = get_global_id(1); /* q = image * c + channel */
    if (j >= hw || q >= n * c)
        return;
    int ch = q - (q / c) * c, e = q * hw + j;
    float v = (x[x_off + e] - run_mean[rm_off + ch]) / sqrt(run_var[rv_off + ch] + eps);
    if (affine)
        v = v * gamma[gamma_off + ch] + beta[beta_off + ch];
    y[y_off + e] = v;
}

/* Train-mode backward, one group per channel: with xhat = (x - mean) invstd,
 * dx = g invstd (dy - sum(dy)/m - xhat sum(dy xhat)/m); dgamma += sum(dy xhat),
 * dbeta += sum(dy). dx may be dy: each item rewrites only the elements it read. */
kernel void batchnorm_bwd(int n, int c, int hw, global const float *x, int x_off,
                          global const float *dy, int dy_off, global const float *mean,
                          int mean_off, global const float *invstd, int invstd_off,
                          global const float *gamma, int gamma_off, int affine,
                          global float *dx, int dx_off, global float *dgamma, int dgamma_off,
                          global float *dbeta, int dbeta_off, local float *part)
{
    int ch = get_group_id(0);
    int lid = get_local_id(0), L = get_local_size(0);
    int m = n * hw;
    float mu = mean[mean_off + ch], is = invstd[invstd_off + ch];
    float s1 = 0.0f, c1 = 0.0f, s2 = 0.0f, c2 = 0.0f;
    for (walk w = walk_start(lid, L, hw); w.i < n; walk_next(&w, hw)) {
        int i = (w.i * c + ch) * hw + w.j;
        float g = dy[dy_off + i];
        float v = g - c1;
        float t = s1 + v;
        c1 = (t - s1) - v;
        s1 = t;
        v = g * ((x[x_off + i] - mu) * is) - c2;
        t = s2 + v;
        c2 = (t - s2) - v;
        s2 = t;
    }
    part[lid] = s1;
    sum_partials(part, lid, L);
    float sum_dy = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    part[lid] = s2;
    sum_partials(part, lid, L);
    float sum_dy_xhat = part[0];
    float scale = (affine ? gamma[gamma_off + ch] : 1.0f) * is;
    float a = sum_dy / (float)m, b = sum_dy_xhat / (float)m;
    for (walk w = walk_start(lid, L, hw); w.i < n; walk_next(&w, hw)) {
        int i = (w.i * c + ch) * hw + w.j;
        float xhat = (x[x_off + i] - mu) * is;
        dx[dx_off + i] = scale * (dy[dy_off + i] - a - xhat * b);
    }
    if (affine && lid == 0) {
        dgamma[dgamma_off + ch] += sum_dy_xhat;
        dbeta[dbeta_off + ch] += sum_dy;
    }
}
