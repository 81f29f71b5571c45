/* Oclgrind 21.10 cannot run LLVM's `freeze`, which the optimiser emits when a kernel takes
 * both a / b and a % b: remainders are written as a - (a / b) * b instead. */

/* conv2d: im2col, col2im (as a gather), layout swaps, bias. Every pointer comes with its
 * element offset. A column matrix holds, for nb images, element (k, i, p) at
 * col[k * ld + i * img_stride + p], k = (c * kh + ki) * kw + kj the patch row and
 * p = oh * wo + ow the output pixel. With ld = nb*P and img_stride = P the images sit side
 * by side in one [K, nb*P] matrix (backward); with ld = P and img_stride = K*P each image
 * has its own [K, P] matrix (forward, batched GEMM). */

kernel void conv2d_fwd_im2col(int nb, int c_in, int h, int w, int kh, int kw, int stride,
                              int pad, int ho, int wo, global const float *x, int x_off,
                              global float *col, int col_off, int ld, int img_stride)
{
    int e = get_global_id(0); /* e = (k * nb + i) * P + p */
    int P = ho * wo;
    if (e >= c_in * kh * kw * nb * P)
        return;
    int t = e / P, p = e - t * P;
    int k = t / nb, i = t - k * nb;
    int r = k / kw, kj = k - r * kw;
    int c = r / kh, ki = r - c * kh;
    int oh = p / wo, ow = p - oh * wo;
    int ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
    float v = 0.0f;
    if (ih >= 0 && ih < h && iw >= 0 && iw < w)
        v = x[x_off + ((i * c_in + c) * h + ih) * w + iw];
    col[col_off + k * ld + i * img_stride + p] = v;
}

/* dx[i, c, ih, iw] = sum of the column entries that im2col copied from it, in a fixed
 * order (ki, kj ascending): a gather, so no two work-items write one place. */
kernel void conv2d_bwd_col2im(int nb, int c_in, int h, int w, int kh, int kw, int stride,
                              int pad, int ho, int wo, global const float *col, int col_off,
                              int ld, int img_stride, global float *dx, int dx_off)
{
    int e = get_global_id(0); /* e = ((i * c_in + c) * h + ih) * w + iw */
    if (e >= nb * c_in * h * w)
        return;
    int r = e / w, iw = e - r * w;
    int q = r / h, ih = r - q * h;
    int i = q / c_in, c = q - i * c_in;
    int P = ho * wo;
    float s = 0.0f;
    for (int ki = 0; ki < kh; ki++) {
        int th = ih + pad - ki; /* = oh * stride */
        int oh = th / stride;
        if (th < 0 || oh * stride != th || oh >= ho)
            continue;
        for (int kj = 0; kj < kw; kj++) {
            int tw = iw + pad - kj;
            int ow = tw / stride;
            if (tw < 0 || ow * stride != tw || ow >= wo)
                continue;
            int k = (c * kh + ki) * kw + kj;
            s += col[col_off + k * ld + i * img_stride + oh * wo + ow];
        }
    }
    dx[dx_off + e] = s;
}

/* dst[b, a, p] = src[a, b, p]: [d0, d1, P] -> [d1, d0, P]. */
kernel void conv2d_swap01(int d0, int d1, int P, global const float *src, int src_off,
                          global float *dst, int dst_off)
{
    int e = get_global_id(0); /* index into dst: (b * d0 + a) * P + p */
    if (e >= d0 * d1 * P)
        return;
    int q = e / P, p = e - q * P;
    int b = q / d0, a = q - b * d0;
    dst[dst_off + e] = src[src_off + (a * d1 + b) * P + p];
}

/* y[i, o, p] += bias[o] over [n, c_out, P]. */
kernel void conv2d_fwd_bias(int total, int c_out, int P, global float *y, int y_off,
                            global const float *bias, int bias_off)
{
    int e = get_global_id(0);
    if (e < total)
        y[y_off + e] += bias[bias_off + (e / P) % c_out];
}

/* db[o] += sum over (i, p) of dy[i, o, p]. One work-group per channel, any local size:
 * each item sums a fixed strided subset, then a tree over local memory. Deterministic. */
kernel void conv2d_bwd_bias(int n, int c_out, int P, global const float *dy, int dy_off,
                            global float *db, int db_off, local float *part)
{
    int o = get_group_id(0);
    int lid = get_local_id(0), L = get_local_size(0);
    float s = 0.0f;
    int m = n * P;
    for (int e = lid; e < m; e += L) {
        int i = e / P, p = e - i * P;
        s += dy[dy_off + (i * c_out + o) * P + p];
    }
    part[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    int span = 1;
    while (span * 2 < L)
        span *= 2;
    for (; span > 0; span >>= 1) {
        if (lid < span && lid + span < L)
            part[lid] += part[lid + span];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        db[db_off + o] += part[0];
}
