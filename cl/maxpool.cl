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

/* A later column of a 3x3 window (value v from row kv) against the best so far (b from
 * row kb), so that the result is pool_one's: the last NaN in row-major order, else the
 * first maximum. (Logical operators: with bitwise ones, Oclgrind 21.10 --uninitialized
 * crashed.) */
inline int16 column_wins(floatv v, int16 kv, floatv b, int16 kb)
{
    return (isnan(v) && (!isnan(b) || kv >= kb)) || v > b || (v == b && kv < kb);
}

/* pool_block2 for 3x3 windows, separably: each column's maximum over the window's rows
 * (the upper row on ties, the lower NaN), then each window's over its three columns, which
 * are the even, the odd and the next even column (column_wins). A third of pool_block2's
 * comparisons, whose taps cover the odd positions too. */
inline void pool_block3x3s2(global const float *xp, int h, int w, int p, int oh, int ow,
                            global float *y, global int *idx)
{
    uint16 even = (uint16)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    uint16 odd = even + 1, next = (uint16)(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 31);
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int r0 = oh * 2 - p, c0 = 2 * ow - p;
    int ki0 = max(0, -r0), ki1 = min(3, h - r0); /* the rows inside the plane */
    global const float *row = xp + (r0 + ki0) * w + c0;
    /* columns c0 .. c0 + 31, and c0 + 17 .. c0 + 32 for the last (a vector: as a scalar,
     * its compare became a mispredicted branch) */
    floatv va = vload16(0, row), vb = vload16(0, row + VEC), vc = vload16(0, row + VEC + 1);
    int16 ka = ki0, kb = ki0, kc = ki0;
    for (int ki = ki0 + 1; ki < ki1; ki++) {
        row += w;
        floatv a = vload16(0, row), b = vload16(0, row + VEC), c = vload16(0, row + VEC + 1);
        int16 ta = a > va || isnan(a), tb = b > vb || isnan(b), tc = c > vc || isnan(c);
        va = select(va, a, ta);
        ka = select(ka, (int16)ki, ta);
        vb = select(vb, b, tb);
        kb = select(kb, (int16)ki, tb);
        vc = select(vc, c, tc);
        kc = select(kc, (int16)ki, tc);
    }
    floatv best = shuffle2(va, vb, even), odd_v = shuffle2(va, vb, odd);
    floatv next_v = shuffle2(best, vc, next);
    int16 bk = shuffle2(ka, kb, even), odd_k = shuffle2(ka, kb, odd);
    int16 next_k = shuffle2(bk, kc, next), bj = 0;
    int16 t = column_wins(odd_v, odd_k, best, bk);
    best = select(best, odd_v, t);
    bk = select(bk, odd_k, t);
    bj = select(bj, (int16)1, t);
    t = column_wins(next_v, next_k, best, bk);
    best = select(best, next_v, t);
    bk = select(bk, next_k, t);
    bj = select(bj, (int16)2, t);
    vstore16(best, 0, y + ow);
    vstore16((r0 + bk) * w + c0 + 2 * lane + bj, 0, idx + ow);
}

inline void pool_block(global const float *xp, int h, int w, int k, int p, int oh, int ow,
                       global float *y, global int *idx)
{
    if (k == 3)
        pool_block3x3s2(xp, h, w, p, oh, ow, y, idx);
    else
        pool_block2(xp, h, w, k, p, oh, ow, y, idx);
}

/* Output row oh of a plane: the outputs left of the first window inside the row one at a
 * time, then (stride 2) blocks of VEC outputs whose windows lie inside the row, one more
 * block ending at the last output inside (overlapping the one before: its outputs are made
 * again, the same), and the rest one at a time. */
inline void pool_row(global const float *xp, int h, int w, int k, int s, int p, int oh, int wo,
                     global float *y, global int *idx)
{
    int ow = 0;
    if (s == 2) {
        for (; ow < wo && 2 * ow - p < 0; ow++)
            pool_one(xp, h, w, k, s, p, oh, ow, y, idx);
        int last = w - k + p < 0 ? 0 : min(wo, (w - k + p) / 2 + 1); /* outputs inside */
        for (; ow + VEC <= last; ow += VEC)
            pool_block(xp, h, w, k, p, oh, ow, y, idx);
        if (ow < last && last - VEC >= 0 && 2 * (last - VEC) - p >= 0) {
            pool_block(xp, h, w, k, p, oh, last - VEC, y, idx);
            ow = last;
        }
    }
    for (; ow < wo; ow++)
        pool_one(xp, h, w, k, s, p, oh, ow, y, idx);
}

/* y = window maximum; idx = its position ih * w + iw in the input plane. Item (r, plane)
 * makes output rows r * rows .. r * rows + rows - 1, without index divisions. On CPUs an
 * item takes the whole plane, so it streams through the input. (ResNet-50's stem pool,
 * 3x3/2 over 64x112x112 at batch 32, 2-core EPYC: 111 ms with an item per output, /copy
 * 0.13; 15 ms with an item per row; 10 ms, /copy 0.5, with an item per plane, the 3x3
 * blocks and their NaN test in integer ors.) */
kernel void maxpool_fwd(int planes, int h, int w, int k, int s, int p, int ho, int wo, int rows,
                        global const float *x, int x_off, global float *y, int y_off,
                        global int *idx, int idx_off)
{
    int r = get_global_id(0), plane = get_global_id(1);
    if (r * rows >= ho || plane >= planes)
        return;
    global const float *xp = x + x_off + plane * h * w;
    int end = min(ho, (r + 1) * rows);
    for (int oh = r * rows; oh < end; oh++) {
        int e0 = (plane * ho + oh) * wo;
        pool_row(xp, h, w, k, s, p, oh, wo, y + y_off + e0, idx + idx_off + e0);
    }
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
