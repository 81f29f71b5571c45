/* Multi-tensor kernels over a packed region of parameters (src/optim/segments.h): one
 * launch for every tensor. Element i of the region lies in block i >> 6 (HVP_PARAM_ALIGN
 * is 64), whose segment (tensor) the blocks table gives, -1 in a gap; info holds per
 * segment its start, size, group and flags. Elements of the gaps are left alone. Each
 * update is the per-tensor kernel's (cl/optim_sgd.cl, cl/optim_adamw.cl, cl/optim_util.cl)
 * with the tensor's own lr, weight decay and norms, so results are bitwise the same. */

#define SEG_DECAY 1
#define SEG_ADAPT 2

/* The segment of element i, or -1 where i lies in no tensor. */
inline int segment_of(int i, global const int *blocks, global const int *info)
{
    int s = blocks[i >> 6];
    if (s < 0 || i - info[4 * s] >= info[4 * s + 1])
        return -1;
    return s;
}

inline float pick4(int g, float a, float b, float c, float d)
{
    return g == 0 ? a : g == 1 ? b : g == 2 ? c : d;
}

/* Partial sums of squares as hvp_reduce's first stage (reduce_fwd) would compute them for
 * each tensor alone. Work-group w takes share work[2w + 1] of virtual segment v = work[2w]
 * (v < nseg: segment v of a, else segment v - nseg of b); its items per group, seg[3], may
 * be fewer than the launch's: the others add zeros, which leave the tree's sums as they
 * were. seg per segment: start, numel, share, items, shares, first partial, items of
 * stage 2. Partials of b's segments come npart after a's. */
kernel void optim_seg_norm_partials(global const float *a, int a_off, global const float *b,
                                    int b_off, int nseg, global const int *work, int work_off,
                                    global const int *seg, int seg_off, global float *partials,
                                    int part_off, int npart, int square, local float *scratch)
{
    int w = get_group_id(0), lid = get_local_id(0);
    int v = work[work_off + 2 * w], g = work[work_off + 2 * w + 1];
    int of_b = v >= nseg, s = of_b ? v - nseg : v;
    global const int *r = seg + seg_off + 7 * s;
    global const float *x = of_b ? b : a;
    int x_off = (of_b ? b_off : a_off) + r[0], n = r[1], l = r[3];
    long share = r[2];
    int begin = (int)min((long)n, g * share), end = (int)min((long)n, (g + 1) * share);
    float sum = 0.0f;
    if (lid < l)
        for (int i = begin + lid; i < end; i += l) {
            float t = x[x_off + i];
            sum += square ? t * t : t;
        }
    sum = group_sum(sum, scratch);
    if (lid == 0)
        partials[part_off + (of_b ? npart : 0) + r[5] + g] = sum;
}

/* out[v] = sqrt of the sum of virtual segment v's partials, added as hvp_reduce's second
 * stage (or, for a tensor of one share, its only partial unchanged). */
kernel void optim_seg_norm_final(int nseg, global const int *seg, int seg_off,
                                 global const float *partials, int part_off, int npart,
                                 global float *out, int out_off, int take_sqrt,
                                 local float *scratch)
{
    int v = get_group_id(0), lid = get_local_id(0);
    int of_b = v >= nseg, s = of_b ? v - nseg : v;
    global const int *r = seg + seg_off + 7 * s;
    int shares = r[4], first = part_off + (of_b ? npart : 0) + r[5], l = r[6];
    float sum = 0.0f;
    if (lid < l)
        for (int i = lid; i < shares; i += l)
            sum += partials[first + i];
    sum = group_sum(sum, scratch);
    if (lid == 0) {
        if (take_sqrt)
            sum = sqrt(sum);
        out[out_off + v] = sum / 1.0f;
    }
}

/* optim_sgd of every segment: lr and weight decay of its group (decay where SEG_DECAY). */
kernel void optim_sgd_flat(int n, global float *p, int p_off, global const float *g, int g_off,
                           int has_buf, global float *buf, int buf_off,
                           global const int *blocks, int blocks_off, global const int *info,
                           int info_off, float lr0, float lr1, float lr2, float lr3, float wd0,
                           float wd1, float wd2, float wd3, float momentum)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    info += info_off;
    int s = segment_of(i, blocks + blocks_off, info);
    if (s < 0)
        return;
    int grp = info[4 * s + 2];
    float lr = pick4(grp, lr0, lr1, lr2, lr3);
    float wd = info[4 * s + 3] & SEG_DECAY ? pick4(grp, wd0, wd1, wd2, wd3) : 0.0f;
    float pv = p[p_off + i], d = g[g_off + i];
    if (wd != 0.0f)
        d = d + wd * pv;
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}

/* optim_lars of every segment; ||p|| and ||g|| of segment s at norms[norm_off + s] and
 * norms[norm_off + nseg + s]. */
kernel void optim_lars_flat(int n, global float *p, int p_off, global const float *g, int g_off,
                            int has_buf, global float *buf, int buf_off,
                            global const int *blocks, int blocks_off, global const int *info,
                            int info_off, float lr0, float lr1, float lr2, float lr3, float wd0,
                            float wd1, float wd2, float wd3, float momentum,
                            global const float *norms, int norm_off, int nseg, float eta,
                            float eps, int clip_lr)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    info += info_off;
    int s = segment_of(i, blocks + blocks_off, info);
    if (s < 0)
        return;
    int grp = info[4 * s + 2], adapt = info[4 * s + 3] & SEG_ADAPT;
    float lr = pick4(grp, lr0, lr1, lr2, lr3);
    float wd = adapt ? pick4(grp, wd0, wd1, wd2, wd3) : 0.0f;
    float pv = p[p_off + i], d = g[g_off + i];
    if (adapt) {
        float pn = norms[norm_off + s], gn = norms[norm_off + nseg + s];
        if (pn != 0.0f && gn != 0.0f) {
            float ratio = pn / (gn + pn * wd + eps) * eta;
            if (clip_lr)
                ratio = fmin(ratio / lr, 1.0f);
            d = (d + wd * pv) * ratio;
        }
    }
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}

/* optim_adamw of every segment: step size lr / bc1 and decay 1 - lr wd of its group (1
 * without SEG_DECAY). */
kernel void optim_adamw_flat(int n, global float *p, int p_off, global const float *g, int g_off,
                             global float *m, int m_off, global float *v, int v_off,
                             global const int *blocks, int blocks_off, global const int *info,
                             int info_off, float step0, float step1, float step2, float step3,
                             float decay0, float decay1, float decay2, float decay3,
                             float beta1, float beta2, float bc2_sqrt, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    info += info_off;
    int s = segment_of(i, blocks + blocks_off, info);
    if (s < 0)
        return;
    int grp = info[4 * s + 2];
    float step_size = pick4(grp, step0, step1, step2, step3);
    float decay = info[4 * s + 3] & SEG_DECAY ? pick4(grp, decay0, decay1, decay2, decay3) : 1.0f;
    float gv = g[g_off + i];
    float pv = p[p_off + i] * decay;
    float mv = beta1 * m[m_off + i] + (1.0f - beta1) * gv;
    float vv = beta2 * v[v_off + i] + (1.0f - beta2) * gv * gv;
    m[m_off + i] = mv;
    v[v_off + i] = vv;
    p[p_off + i] = pv - step_size * (mv / (sqrt(vv) / bc2_sqrt + eps));
}

/* optim_clip of every segment by its own norm, norms[norm_off + s]. */
kernel void optim_clip_flat(int n, global float *g, int g_off, global const int *blocks,
                            int blocks_off, global const int *info, int info_off,
                            global const float *norms, int norm_off, float max_norm)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    info += info_off;
    int s = segment_of(i, blocks + blocks_off, info);
    if (s < 0)
        return;
    float c = max_norm / (norms[norm_off + s] + 1e-6f);
    if (c < 1.0f)
        g[g_off + i] *= c;
}

/* optim_ema over a packed run of teacher tensors whose online namesakes are not one run
 * (iBOT: the student's masked_embed has no teacher): pairs per teacher tensor k hold its
 * start in the run, its online tensor's element offset in s, and its size. */
kernel void optim_ema_pairs(int n, global float *t, int t_off, global const float *s,
                            global const int *blocks, int blocks_off, global const int *pairs,
                            int pairs_off, float m, float one_minus_m)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    pairs += pairs_off;
    int k = blocks[blocks_off + (i >> 6)];
    if (k < 0)
        return;
    int j = i - pairs[3 * k];
    if (j >= pairs[3 * k + 2])
        return;
    t[t_off + i] = m * t[t_off + i] + one_minus_m * s[pairs[3 * k + 1] + j];
}
