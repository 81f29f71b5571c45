/* Multi-tensor kernels over a packed region of parameters (src/optim/segments.h): one
 * launch for every tensor. The launch is a table of chunks: work-group w updates elements
 * [chunks[3w + 1], chunks[3w + 2]) of the region, one per item (a chunk holds at most a
 * group's 256 elements), all of tensor (segment) s = chunks[3w], so the tensor, its group,
 * flags and rates are the same for every item of a group (the update stays vectorised on
 * CPUs, which a loop per item would prevent, and branch-free on GPUs) and the gaps between
 * tensors are never touched. info holds per segment its start, size, group and flags. Each update is
 * the per-tensor kernel's (cl/optim_sgd.cl, cl/optim_adamw.cl, cl/optim_util.cl) with the
 * tensor's own lr, weight decay and norms, so results are bitwise the same. */

#define SEG_DECAY 1
#define SEG_ADAPT 2

inline float pick4(int g, float a, float b, float c, float d)
{
    return select(select(d, c, g == 2), select(b, a, g == 0), g < 2);
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
kernel void optim_sgd_flat(global float *p, int p_off, global const float *g, int g_off,
                           int has_buf, global float *buf, int buf_off,
                           global const int *chunks, int chunks_off, global const int *info,
                           int info_off, float lr0, float lr1, float lr2, float lr3, float wd0,
                           float wd1, float wd2, float wd3, float momentum)
{
    global const int *c = chunks + chunks_off + 3 * get_group_id(0);
    int i = c[1] + get_local_id(0);
    if (i >= c[2])
        return;
    int s = c[0], grp = info[info_off + 4 * s + 2];
    int decay = (info[info_off + 4 * s + 3] & SEG_DECAY) != 0;
    float lr = pick4(grp, lr0, lr1, lr2, lr3);
    float wd = select(0.0f, pick4(grp, wd0, wd1, wd2, wd3), decay);
    float pv = p[p_off + i], d = g[g_off + i];
    d = select(d, d + wd * pv, wd != 0.0f);
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}

/* optim_lars of every segment; ||p|| and ||g|| of segment s at norms[norm_off + s] and
 * norms[norm_off + nseg + s]. */
kernel void optim_lars_flat(global float *p, int p_off, global const float *g, int g_off,
                            int has_buf, global float *buf, int buf_off,
                            global const int *chunks, int chunks_off, global const int *info,
                            int info_off, float lr0, float lr1, float lr2, float lr3, float wd0,
                            float wd1, float wd2, float wd3, float momentum,
                            global const float *norms, int norm_off, int nseg, float eta,
                            float eps, int clip_lr)
{
    global const int *c = chunks + chunks_off + 3 * get_group_id(0);
    int i = c[1] + get_local_id(0);
    if (i >= c[2])
        return;
    int s = c[0], grp = info[info_off + 4 * s + 2];
    float lr = pick4(grp, lr0, lr1, lr2, lr3), wd = pick4(grp, wd0, wd1, wd2, wd3);
    float pn = norms[norm_off + s], gn = norms[norm_off + nseg + s];
    int adapt = (info[info_off + 4 * s + 3] & SEG_ADAPT) != 0 && pn != 0.0f && gn != 0.0f;
    float ratio = pn / (gn + pn * wd + eps) * eta;
    ratio = select(ratio, fmin(ratio / lr, 1.0f), clip_lr != 0);
    float pv = p[p_off + i], d = g[g_off + i];
    d = select(d, (d + wd * pv) * ratio, adapt);
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}

/* optim_adamw of every segment: step size lr / bc1 and decay 1 - lr wd of its group (1
 * without SEG_DECAY). */
kernel void optim_adamw_flat(global float *p, int p_off, global const float *g, int g_off,
                             global float *m, int m_off, global float *v, int v_off,
                             global const int *chunks, int chunks_off, global const int *info,
                             int info_off, float step0, float step1, float step2, float step3,
                             float decay0, float decay1, float decay2, float decay3,
                             float beta1, float beta2, float bc2_sqrt, float eps)
{
    global const int *c = chunks + chunks_off + 3 * get_group_id(0);
    int i = c[1] + get_local_id(0);
    if (i >= c[2])
        return;
    int s = c[0], grp = info[info_off + 4 * s + 2];
    int decays = (info[info_off + 4 * s + 3] & SEG_DECAY) != 0;
    float step_size = pick4(grp, step0, step1, step2, step3);
    float decay = select(1.0f, pick4(grp, decay0, decay1, decay2, decay3), decays);
    float gv = g[g_off + i];
    float pv = p[p_off + i] * decay;
    float mv = beta1 * m[m_off + i] + (1.0f - beta1) * gv;
    float vv = beta2 * v[v_off + i] + (1.0f - beta2) * gv * gv;
    m[m_off + i] = mv;
    v[v_off + i] = vv;
    p[p_off + i] = pv - step_size * (mv / (sqrt(vv) / bc2_sqrt + eps));
}

/* optim_clip of every segment by its own norm, norms[norm_off + s]. */
kernel void optim_clip_flat(global float *g, int g_off, global const int *chunks,
                            int chunks_off, global const float *norms, int norm_off,
                            float max_norm)
{
    global const int *c = chunks + chunks_off + 3 * get_group_id(0);
    int i = c[1] + get_local_id(0);
    if (i >= c[2])
        return;
    float scale = max_norm / (norms[norm_off + c[0]] + 1e-6f);
    if (scale < 1.0f)
        g[g_off + i] *= scale;
}

/* optim_ema over teacher tensors whose online namesakes are not one run in their layout
 * (iBOT: the student's masked_embed has no teacher): the chunks are the teachers' elements
 * (offsets in t), and pair k = chunks[3w] of a chunk reads its online tensor at
 * s[delta[k] + i], delta the online tensor's offset minus the teacher's. */
kernel void optim_ema_pairs(global float *t, global const float *s, global const int *chunks,
                            int chunks_off, global const int *delta, int delta_off, float m,
                            float one_minus_m)
{
    global const int *c = chunks + chunks_off + 3 * get_group_id(0);
    int i = c[1] + get_local_id(0);
    if (i >= c[2])
        return;
    int d = delta[delta_off + c[0]];
    t[i] = m * t[i] + one_minus_m * s[d + i];
}
