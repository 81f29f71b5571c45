/* Batch norm over x [n, c, hw] per channel (2-d: hw = H*W; 1-d: hw = 1), with relu = 1 a
 * ReLU fused on its output (y = max(bn(x), 0); the backward takes that output's gradient and
 * recomputes the ReLU's mask from x). Every pointer comes with its element offset.
 *
 * The per-channel reductions run in two levels, so that a few channels with many values
 * still fill the device: a group sums one chunk of a channel's values (each item a fixed
 * strided subset, then a tree over local memory) into a pair of partial sums at
 * part[2 * (ch * chunks + chunk)]; then one item per channel adds its chunks in order. No
 * atomics: bitwise reproducible. The reductions read units of u values: 4 consecutive
 * values of a row as a float4 when hw % 4 == 0 (SIMD and four independent sums per item on
 * CPUs, wide loads on GPUs), else u = 1 in the first lane, the others 0. */

/* Walks the units e, e + L, e + 2L, ... of one channel as (image i, unit j of its row of
 * `row` units) without a division per step (divisions per element made these kernels slow
 * on PoCL). */
typedef struct {
    int i, j, di, dj;
} walk;

static walk walk_start(int e, int L, int row)
{
    walk w;
    w.i = e / row;
    w.j = e - w.i * row;
    w.di = L / row;
    w.dj = L - w.di * row;
    return w;
}

static void walk_next(walk *w, int row)
{
    w->i += w->di;
    w->j += w->dj;
    if (w->j >= row) {
        w->j -= row;
        w->i++;
    }
}

/* The group's chunk of its channel: units [start, end) of m. Global (L * chunks, c). */
static void chunk_range(int m, int chunk, int *start, int *end)
{
    *start = get_group_id(0) * chunk;
    *end = *start + min(chunk, m - *start);
}

static float4 load_unit(global const float *p, int u)
{
    return u == 4 ? vload4(0, p) : (float4)(*p, 0.0f, 0.0f, 0.0f);
}

static void store_unit(float4 v, global float *p, int u)
{
    if (u == 4)
        vstore4(v, 0, p);
    else
        *p = v.x;
}

/* The lanes of each sum added up. (By dot: Oclgrind 21.10's uninitialized-value check
 * crashes on the vector shuffles that compilers make of lane-by-lane additions.) */
static float2 add_lanes(float4 s1, float4 s2)
{
    return (float2)(dot(s1, (float4)(1.0f)), dot(s2, (float4)(1.0f)));
}

/* Sums v over the group (a fixed tree over local memory) and stores the total as this
 * group's partial; every item of the group must call it. */
static void store_partial(float2 v, local float2 *tree, global float *part, int part_off)
{
    int lid = get_local_id(0), L = get_local_size(0);
    tree[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    int span = 1;
    while (span * 2 < L)
        span *= 2;
    for (; span > 0; span >>= 1) {
        if (lid < span && lid + span < L)
            tree[lid] += tree[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        vstore2(tree[0], get_group_id(1) * get_num_groups(0) + get_group_id(0), part + part_off);
}

/* A channel's totals: its chunks' partials added in chunk order. */
static float2 channel_total(global const float *part, int ch, int chunks)
{
    float2 s = 0.0f;
    for (int k = 0; k < chunks; k++)
        s += vload2(ch * chunks + k, part);
    return s;
}

/* Statistics, one pass: per chunk the sums of d = x - pivot and d^2, with the channel's
 * first value as the pivot. Shifting keeps the variance accurate when |mean| >> std (the
 * plain sum of squares would cancel catastrophically); a pivot is a value of the channel,
 * so it is within a few standard deviations of the mean but for an extreme outlier. */
kernel void batchnorm_fwd_part(int n, int c, int hw, int u, int chunk, global const float *x,
                               int x_off, global float *part, int part_off,
                               local float2 *tree)
{
    int ch = get_group_id(1), lid = get_local_id(0), L = get_local_size(0), row = hw / u;
    int start, end;
    chunk_range(n * row, chunk, &start, &end);
    float pivot = x[x_off + ch * hw];
    float4 p = u == 4 ? (float4)(pivot) : (float4)(pivot, 0.0f, 0.0f, 0.0f);
    float4 s1 = 0.0f, s2 = 0.0f;
    walk w = walk_start(start + lid, L, row);
    for (int e = start + lid; e < end; e += L, walk_next(&w, row)) {
        float4 d = load_unit(x + x_off + (w.i * c + ch) * hw + w.j * u, u) - p;
        s1 += d;
        s2 += d * d;
    }
    store_partial(add_lanes(s1, s2), tree, part, part_off);
}

/* Batch mean and inverse standard deviation (biased variance) per channel from
 * batchnorm_fwd_part's sums; with update, the running statistics move towards them
 * (unbiased variance), as PyTorch. Global (c). */
kernel void batchnorm_fwd_final(int c, int hw, int m, int chunks, float eps, float momentum,
                                int update, global const float *x, int x_off,
                                global const float *part, int part_off, global float *mean,
                                int mean_off, global float *invstd, int invstd_off,
                                global float *run_mean, int rm_off, global float *run_var,
                                int rv_off)
{
    int ch = get_global_id(0);
    if (ch >= c)
        return;
    float2 s = channel_total(part + part_off, ch, chunks);
    float shift = s.x / (float)m;             /* mean - pivot */
    float ss = fmax(s.y - s.x * shift, 0.0f); /* sum of squared deviations */
    float mu = x[x_off + ch * hw] + shift, var = ss / (float)m;
    mean[mean_off + ch] = mu;
    invstd[invstd_off + ch] = 1.0f / sqrt(var + eps);
    if (update) {
        float unbiased = m > 1 ? ss / (float)(m - 1) : var;
        run_mean[rm_off + ch] = (1.0f - momentum) * run_mean[rm_off + ch] + momentum * mu;
        run_var[rv_off + ch] = (1.0f - momentum) * run_var[rv_off + ch] + momentum * unbiased;
    }
}

/* The arguments that batchnorm_fwd_apply, batchnorm_bwd_part and batchnorm_bwd_dx share
 * (one host helper sets them): the shape and unit, the fused ReLU, x, the saved statistics
 * and the affine parameters (ignored without affine: gamma 1, beta 0). */
#define CHANNEL_ARGS                                                                        \
    int n, int c, int hw, int u, int relu, global const float *x, int x_off,                \
        global const float *mean, int mean_off, global const float *invstd, int invstd_off, \
        global const float *gamma, int gamma_off, global const float *beta, int beta_off,   \
        int affine

typedef struct {
    float mu, is, g, b;
} channel;

static channel channel_at(int ch, global const float *mean, global const float *invstd,
                          global const float *gamma, global const float *beta, int affine)
{
    channel k = {mean[ch], invstd[ch], affine ? gamma[ch] : 1.0f, affine ? beta[ch] : 0.0f};
    return k;
}
#define CHANNEL(ch)                                                                         \
    channel_at(ch, mean + mean_off, invstd + invstd_off, gamma + gamma_off, beta + beta_off, \
               affine)

/* The output before the ReLU. The backward recomputes it for the ReLU's mask, so both
 * directions use this one expression: fma leaves the compiler no choice of contraction
 * that could flip the sign of a value near 0 between them. (g and b rather than the
 * channel: Oclgrind 21.10 cannot create kernels that inline a struct argument.) */
static float4 affine_out(float4 xhat, float g, float b)
{
    return fma(xhat, (float4)(g), (float4)(b));
}

/* The gradient at the batch norm's output: dy where the fused ReLU let the value through
 * (relu_bwd's rule: its output > 0), else 0. */
static float4 through_relu(float4 dy, float4 xhat, float g, float b, int relu)
{
    return relu ? (affine_out(xhat, g, b) > 0.0f ? dy : 0.0f) : dy;
}

/* y = (x - mean[ch]) * invstd[ch] * gamma[ch] + beta[ch], then the ReLU when fused; y may
 * be x. Global (hw / u, n * c): a unit per item. */
kernel void batchnorm_fwd_apply(CHANNEL_ARGS, global float *y, int y_off)
{
    int j = get_global_id(0), q = get_global_id(1); /* q = image * c + channel */
    if (j >= hw / u || q >= n * c)
        return;
    int e = q * hw + j * u;
    channel k = CHANNEL(q - (q / c) * c);
    float4 v = affine_out((load_unit(x + x_off + e, u) - k.mu) * k.is, k.g, k.b);
    store_unit(relu ? fmax(v, 0.0f) : v, y + y_off + e, u);
}

/* Eval mode: the running statistics. Global (hw, n * c). y may be x. */
kernel void batchnorm_fwd_eval(int n, int c, int hw, int relu, float eps, global const float *x,
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
    y[y_off + e] = relu ? fmax(v, 0.0f) : v;
}

/* Train-mode backward, with xhat = (x - mean) invstd and dy the gradient at the batch
 * norm's output (through the fused ReLU): dx = g invstd (dy - sum(dy)/m - xhat
 * sum(dy xhat)/m); dgamma += sum(dy xhat), dbeta += sum(dy). First both sums per chunk, in
 * one pass. */
kernel void batchnorm_bwd_part(CHANNEL_ARGS, int chunk, global const float *dy,
                               int dy_off, global float *part, int part_off,
                               local float2 *tree)
{
    int ch = get_group_id(1), lid = get_local_id(0), L = get_local_size(0), row = hw / u;
    int start, end;
    chunk_range(n * row, chunk, &start, &end);
    channel k = CHANNEL(ch);
    float4 s1 = 0.0f, s2 = 0.0f;
    walk w = walk_start(start + lid, L, row);
    for (int e = start + lid; e < end; e += L, walk_next(&w, row)) {
        int i = (w.i * c + ch) * hw + w.j * u;
        float4 xhat = (load_unit(x + x_off + i, u) - k.mu) * k.is;
        /* 0 in unused lanes: they add nothing */
        float4 g = through_relu(load_unit(dy + dy_off + i, u), xhat, k.g, k.b, relu);
        s1 += g;
        s2 += g * xhat;
    }
    store_partial(add_lanes(s1, s2), tree, part, part_off);
}

/* Per channel: dgamma += sum(dy xhat), dbeta += sum(dy) when affine, and both sums over m
 * into coef [c, 2] for batchnorm_bwd_dx. Global (c). */
kernel void batchnorm_bwd_final(int c, int m, int chunks, global const float *part,
                                int part_off, global float *coef, int coef_off, int affine,
                                global float *dgamma, int dgamma_off, global float *dbeta,
                                int dbeta_off)
{
    int ch = get_global_id(0);
    if (ch >= c)
        return;
    float2 s = channel_total(part + part_off, ch, chunks);
    vstore2(s / (float)m, ch, coef + coef_off);
    if (affine) {
        dgamma[dgamma_off + ch] += s.y;
        dbeta[dbeta_off + ch] += s.x;
    }
}

/* dx from the sums over m in coef. Global (hw / u, n * c): a unit per item; dx may be dy. */
kernel void batchnorm_bwd_dx(CHANNEL_ARGS, global const float *dy, int dy_off,
                             global const float *coef, int coef_off, global float *dx,
                             int dx_off)
{
    int j = get_global_id(0), q = get_global_id(1); /* q = image * c + channel */
    if (j >= hw / u || q >= n * c)
        return;
    int ch = q - (q / c) * c, e = q * hw + j * u;
    channel k = CHANNEL(ch);
    float2 a = vload2(ch, coef + coef_off);
    float4 xhat = (load_unit(x + x_off + e, u) - k.mu) * k.is;
    float4 g = through_relu(load_unit(dy + dy_off + e, u), xhat, k.g, k.b, relu);
    float4 dxu = k.g * k.is * (g - a.x - xhat * a.y);
    store_unit(dxu, dx + dx_off + e, u);
}

/* SyncBN (data-parallel ranks, src/ops/batchnorm.c): the statistics of all ranks, reduced
 * on the host, as stats [3, c] = (mean, invstd, unbiased variance); with update the
 * running statistics move towards them as in batchnorm_fwd_final. Global (c). */
kernel void batchnorm_fwd_set(int c, float momentum, int update, global const float *stats,
                              int stats_off, global float *mean, int mean_off,
                              global float *invstd, int invstd_off, global float *run_mean,
                              int rm_off, global float *run_var, int rv_off)
{
    int ch = get_global_id(0);
    if (ch >= c)
        return;
    float mu = stats[stats_off + ch];
    mean[mean_off + ch] = mu;
    invstd[invstd_off + ch] = stats[stats_off + c + ch];
    if (update) {
        run_mean[rm_off + ch] = (1.0f - momentum) * run_mean[rm_off + ch] + momentum * mu;
        run_var[rv_off + ch] = (1.0f - momentum) * run_var[rv_off + ch] +
                               momentum * stats[stats_off + 2 * c + ch];
    }
}

/* SyncBN's backward sums, reduced on the host: sums [c, 4] = (sum(dy)/m, sum(dy xhat)/m
 * over all ranks, then this rank's own sum(dy), sum(dy xhat)). coef takes the first two;
 * dbeta and dgamma this rank's own (the gradient all-reduce averages them, as every other
 * gradient). Global (c). */
kernel void batchnorm_bwd_set(int c, global const float *sums, int sums_off, global float *coef,
                              int coef_off, int affine, global float *dgamma, int dgamma_off,
                              global float *dbeta, int dbeta_off)
{
    int ch = get_global_id(0);
    if (ch >= c)
        return;
    float4 s = vload4(ch, sums + sums_off);
    vstore2(s.xy, ch, coef + coef_off);
    if (affine) {
        dgamma[dgamma_off + ch] += s.w;
        dbeta[dbeta_off + ch] += s.z;
    }
}
