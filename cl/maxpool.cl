/* Max pool k x k, stride s, padding p over x [n*c planes, h, w] (pads are -inf, as in
 * PyTorch). Every pointer comes with its element offset. */

/* Output (oh, ow) of a plane xp: the window maximum and its position (the first maximum in
 * row-major window order; a NaN wins, as in PyTorch). Padding is skipped. */
inline void pool_one(global const float *xp, int h, int w, int k, int s, int p, int oh, int ow,
                     global float *y, global int *idx)
{
    float best = -INFINITY;
    int arg = -1;
    for (int ki = 0; ki < k; ki++) {
        int ih = oh * s - p + ki;
        if (ih < 0 || ih >= h)
            continue;
        for (int kj = 0; kj < k; kj++) {
            int iw = ow * s - p + kj;
            if (iw < 0 || iw >= w)
                continue;
            float v = xp[ih * w + iw];
            if (arg < 0 || v > best || isnan(v)) { /* PyTorch's rule */
                best = v;
                arg = ih * w + iw;
            }
        }
    }
    y[ow] = best;
    idx[ow] = arg;
}

/* One tap of pool_block2 over VEC contiguous positions: PyTorch's rule per lane (the first
 * tap is always taken: the caller starts from it). */
inline void tap(global const float *xp, int at, floatv *best, int16 *arg)
{
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    floatv v = vload16(0, xp + at);
    int16 take = v > *best || isnan(v);
    *best = select(*best, v, take);
    *arg = select(*arg, at + lane, take);
}

/* Outputs ow .. ow + VEC - 1 of row oh, stride 2, every window inside the row. The windows
 * start at positions base + 2 m; the taps run over all positions base .. base + 2 VEC - 2 as
 * two contiguous vectors (the second one element back, so nothing past the last window is
 * read) and the even ones are picked at the end. (Picking them per tap made the compiler
 * load pairs of floats: 33 ms for the stem pool; contiguous taps 24 ms.) */
inline void pool_block2(global const float *xp, int h, int w, int k, int p, int oh, int ow,
                        global float *y, global int *idx)
{
    uint16 even = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 17, 19, 21, 23, 25, 27, 29, 31);
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int ki0 = max(0, p - oh * 2), at0 = (oh * 2 - p + ki0) * w + 2 * ow - p; /* first tap */
    if (ki0 >= k || oh * 2 - p + ki0 >= h) { /* no row inside (a padding wider than k / 2) */
        for (int m = 0; m < VEC; m++)
            pool_one(xp, h, w, k, 2, p, oh, ow + m, y, idx);
        return;
    }
    floatv best_a = vload16(0, xp + at0), best_b = vload16(0, xp + at0 + VEC - 1);
    int16 arg_a = at0 + lane, arg_b = at0 + VEC - 1 + lane;
    for (int ki = ki0; ki < k; ki++) {
        int ih = oh * 2 - p + ki;
        if (ih >= h) /* the same for every lane */
            break;
        for (int kj = ki == ki0; kj < k; kj++) {
            int at = ih * w + 2 * ow - p + kj;
            tap(xp, at, &best_a, &arg_a);
            tap(xp, at + VEC - 1, &best_b, &arg_b);
        }
    }
    vstore16(shuffle2(best_a, best_b, even), 0, y + ow);
    vstore16(shuffle2(arg_a, arg_b, even), 0, idx + ow);
}

/* y = window maximum; idx = its position ih * w + iw in the input plane. Item (oh, plane)
 * makes the whole output row, without index divisions. With stride 2, blocks of VEC outputs
 * whose windows lie inside the row go as vectors (pool_block2); the rest one at a time.
 * (ResNet-50's stem pool, 3x3/2 over 64x112x112 at batch 32: 111 ms with an item per
 * output, /copy 0.13; a scalar item per row was no faster.) */
kernel void maxpool_fwd(int planes, int h, int w, int k, int s, int p, int ho, int wo,
                        global const float *x, int x_off, global float *y, int y_off,
                        global int *idx, int idx_off)
{
    int oh = get_global_id(0), plane = get_global_id(1);
    if (oh >= ho || plane >= planes)
        return;
    global const float *xp = x + x_off + plane * h * w;
    int e0 = (plane * ho + oh) * wo;
    y += y_off + e0;
    idx += idx_off + e0;
    int ow = 0;
    if (s == 2) {
        /* The outputs left of the first window inside the row. */
        for (; ow < wo && 2 * ow - p < 0; ow++)
            pool_one(xp, h, w, k, s, p, oh, ow, y, idx);
        /* Blocks inside the row, then one ending at the last output inside, overlapping the
         * previous block (its outputs are made again, the same). */
        int last = w - k + p < 0 ? 0 : min(wo, (w - k + p) / 2 + 1); /* outputs inside */
        for (; ow + VEC <= last; ow += VEC)
            pool_block2(xp, h, w, k, p, oh, ow, y, idx);
        if (ow < last && last - VEC >= 0 && 2 * (last - VEC) - p >= 0) {
            pool_block2(xp, h, w, k, p, oh, last - VEC, y, idx);
            ow = last;
        }
    }
    for (; ow < wo; ow++)
        pool_one(xp, h, w, k, s, p, oh, ow, y, idx);
}

/* dx[plane, ih, iw] = sum of dy over the windows whose argmax is (ih, iw), in a fixed order:
 * a gather, no atomics. */
kernel void maxpool_bwd(int planes, int h, int w, int k, int s, int p, int ho, int wo,
                        global const float *dy, int dy_off, global const int *idx, int idx_off,
                        global float *dx, int dx_off)
{
    int e = get_global_id(0); /* (plane * h + ih) * w + iw */
    if (e >= planes * h * w)
        return;
    int r = e / w, iw = e - r * w;
    int plane = r / h, ih = r - plane * h;
    int me = ih * w + iw;
    /* Windows oh with oh*s - p <= ih <= oh*s - p + k - 1. */
    int oh0 = ih + p - k + 1 > 0 ? (ih + p - k + 1 + s - 1) / s : 0;
    int oh1 = (ih + p) / s < ho - 1 ? (ih + p) / s : ho - 1;
    int ow0 = iw + p - k + 1 > 0 ? (iw + p - k + 1 + s - 1) / s : 0;
    int ow1 = (iw + p) / s < wo - 1 ? (iw + p) / s : wo - 1;
    float g = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) {
            int o = (plane * ho + oh) * wo + ow;
            if (idx[idx_off + o] == me)
                g += dy[dy_off + o];
        }
    dx[dx_off + e] = g;
}
