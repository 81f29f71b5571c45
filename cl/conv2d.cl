/* conv2d: im2col, col2im (as a gather), layout swaps, bias. Every pointer comes with its
 * element offset. A column matrix holds, for nb images, element (k, i, p) at
 * col[k * ld + i * img_stride + p], k = (c * kh + ki) * kw + kj the patch row and
 * p = oh * wo + ow the output pixel. With ld = nb*P and img_stride = P the images sit side
 * by side in one [K, nb*P] matrix (backward); with ld = P and img_stride = K*P each image
 * has its own [K, P] matrix (forward, batched GEMM).
 *
 * im2col and col2im give each work-item one image row (a loop over its pixels): one item
 * per pixel, with its integer divisions, made im2col 8x slower on PoCL (26 vs 214 ms at
 * 8 x 64 x 56 x 56, 3x3), as slow as the GEMM itself.
 * Oclgrind 21.10 cannot run LLVM's `freeze`, which the optimiser emits when a kernel takes
 * both a / b and a % b: remainders are written as a - (a / b) * b instead. */

/* Global (ho, K * nb): one work-item per output row; dimension 1 is t = k * nb + i. */
kernel void conv2d_fwd_im2col(int nb, int c_in, int h, int w, int kh, int kw, int stride,
                              int pad, int ho, int wo, global const float *x, int x_off,
                              global float *col, int col_off, int ld, int img_stride)
{
    int oh = get_global_id(0), t = get_global_id(1);
    if (oh >= ho || t >= c_in * kh * kw * nb)
        return;
    int k = t / nb, i = t - k * nb;
    int r = k / kw, kj = k - r * kw;
    int c = r / kh, ki = r - c * kh;
    int ih = oh * stride - pad + ki;
    global float *dst = col + col_off + k * ld + i * img_stride + oh * wo;
    if (ih < 0 || ih >= h) {
        for (int ow = 0; ow < wo; ow++)
            dst[ow] = 0.0f;
        return;
    }
    global const float *src = x + x_off + ((i * c_in + c) * h + ih) * w;
    for (int ow = 0; ow < wo; ow++) {
        int iw = ow * stride - pad + kj;
        dst[ow] = iw >= 0 && iw < w ? src[iw] : 0.0f;
    }
}

/* First output index o with o * stride <= t <= o * stride + k - 1, i.e. ceil((t-k+1)/s). */
static int first_window(int t, int k, int stride)
{
    int lo = t - k + 1;
    return lo > 0 ? (lo + stride - 1) / stride : 0;
}

/* dx[i, c, ih, iw] = sum of the column entries that im2col copied from it, in a fixed
 * order (oh, ow ascending): a gather, so no two work-items write one place.
 * Global (h, nb * c_in): one work-item per input row; dimension 1 is q = i * c_in + c. */
kernel void conv2d_bwd_col2im(int nb, int c_in, int h, int w, int kh, int kw, int stride,
                              int pad, int ho, int wo, global const float *col, int col_off,
                              int ld, int img_stride, global float *dx, int dx_off)
{
    int ih = get_global_id(0), q = get_global_id(1);
    if (ih >= h || q >= nb * c_in)
        return;
    int i = q / c_in, c = q - i * c_in;
    int th = ih + pad; /* = oh * stride + ki */
    int oh0 = first_window(th, kh, stride), oh1 = min(th / stride, ho - 1);
    global const float *ci = col + col_off + i * img_stride + c * kh * kw * ld;
    global float *dst = dx + dx_off + (q * h + ih) * w;
    for (int iw = 0; iw < w; iw++) {
        int tw = iw + pad; /* = ow * stride + kj */
        int ow0 = first_window(tw, kw, stride), ow1 = min(tw / stride, wo - 1);
        float s = 0.0f;
        for (int oh = oh0; oh <= oh1; oh++) {
            int ki = th - oh * stride;
            for (int ow = ow0; ow <= ow1; ow++) {
                int kj = tw - ow * stride;
                s += ci[(ki * kw + kj) * ld + oh * wo + ow];
            }
        }
        dst[iw] = s;
    }
}

/* dst[b, a, p] = src[a, b, p]: [d0, d1, P] -> [d1, d0, P]. Global (P, d1 * d0). */
kernel void conv2d_swap01(int d0, int d1, int P, global const float *src, int src_off,
                          global float *dst, int dst_off)
{
    int p = get_global_id(0), q = get_global_id(1); /* q = b * d0 + a */
    if (p >= P || q >= d0 * d1)
        return;
    int b = q / d0, a = q - b * d0;
    dst[dst_off + q * P + p] = src[src_off + (a * d1 + b) * P + p];
}

/* y[i, o, p] += bias[o] over [n, c_out, P]. Global (P, n * c_out). */
kernel void conv2d_fwd_bias(int n, int c_out, int P, global float *y, int y_off,
                            global const float *bias, int bias_off)
{
    int p = get_global_id(0), q = get_global_id(1); /* q = i * c_out + o */
    if (p >= P || q >= n * c_out)
        return;
    int i = q / c_out;
    y[y_off + q * P + p] += bias[bias_off + q - i * c_out];
}

/* db[o] += sum over (i, p) of dy[i, o, p]. One work-group per channel, any local size:
 * each item sums a fixed strided subset of the n*P values (walking (i, p) without
 * divisions), then a tree over local memory. Deterministic. */
kernel void conv2d_bwd_bias(int n, int c_out, int P, global const float *dy, int dy_off,
                            global float *db, int db_off, local float *part)
{
    int o = get_group_id(0);
    int lid = get_local_id(0), L = get_local_size(0);
    int di = L / P, dp = L - di * P; /* one stride of L values, in (image, pixel) */
    int i = lid / P, p = lid - i * P;
    float s = 0.0f;
    while (i < n) {
        s += dy[dy_off + (i * c_out + o) * P + p];
        i += di;
        p += dp;
        if (p >= P) {
            p -= P;
            i++;
        }
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

/* dw[j] += sum over i < nb of part[i * len + j], i ascending. */
kernel void conv2d_bwd_sum(int nb, int len, global const float *part, int part_off,
                           global float *dw, int dw_off)
{
    int j = get_global_id(0);
    if (j >= len)
        return;
    float s = 0.0f;
    for (int i = 0; i < nb; i++)
        s += part[part_off + i * len + j];
    dw[dw_off + j] += s;
}
