/* Max pool k x k, stride s, padding p over x [n*c planes, h, w] (pads are -inf, as in
 * PyTorch). Every pointer comes with its element offset. */

/* y = window maximum; idx = its position ih * w + iw in the input plane (the first maximum
 * in row-major window order; a NaN wins, as in PyTorch). */
kernel void maxpool_fwd(int planes, int h, int w, int k, int s, int p, int ho, int wo,
                        global const float *x, int x_off, global float *y, int y_off,
                        global int *idx, int idx_off)
{
    int e = get_global_id(0); /* (plane * ho + oh) * wo + ow */
    if (e >= planes * ho * wo)
        return;
    int r = e / wo, ow = e - r * wo;
    int plane = r / ho, oh = r - plane * ho;
    global const float *xp = x + x_off + plane * h * w;
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
    y[y_off + e] = best;
    idx[idx_off + e] = arg;
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
