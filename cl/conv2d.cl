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

/* Implicit GEMM: y_i = w [c_out, K] x col_i [K, P] without the column matrix. Each
 * work-item holds an 8-pixel x 32-channel tile of y_i in registers, two float16 of output
 * channels per pixel: per k, two vector loads of the packed weights and one gathered x per
 * pixel, broadcast (as the A operand of gemm_reg_8x32). The loop runs over the kernel taps
 * outside and c inside, so that the pixels' offsets and padding mask are computed once per
 * tap, not per k. Padding and pixels past P read a clamped address and are zeroed by select
 * (x may hold anything). wt comes from conv2d_w_pack: per 32 channels, [kh * kw][c_in][32],
 * read front to back. Global (cdiv(c_out, 32), cdiv(P, 8), n); any work-group shape. */
#define IG_PIX(X) X(0, s0) X(1, s1) X(2, s2) X(3, s3) X(4, s4) X(5, s5) X(6, s6) X(7, s7)
#define IG_DECL(e, s) float16 acc##e##_0 = (float16)(0.0f), acc##e##_1 = (float16)(0.0f);
#define IG_FMA(e, s)                                                                           \
    acc##e##_0 += b.s * w0;                                                                    \
    acc##e##_1 += b.s * w1;
#define IG_MAC                                                                                 \
    const float16 w0 = vload16(0, wp), w1 = vload16(1, wp);                                    \
    IG_PIX(IG_FMA)
#define IG_STORE_C(v, r, s)                                                                    \
    if (o0 + r < c_out)                                                                        \
        yp[(r) * P] = v.s;
#define IG_CH16(X, v, r0)                                                                      \
    X(v, r0 + 0, s0) X(v, r0 + 1, s1) X(v, r0 + 2, s2) X(v, r0 + 3, s3) X(v, r0 + 4, s4)       \
    X(v, r0 + 5, s5) X(v, r0 + 6, s6) X(v, r0 + 7, s7) X(v, r0 + 8, s8) X(v, r0 + 9, s9)       \
    X(v, r0 + 10, sa) X(v, r0 + 11, sb) X(v, r0 + 12, sc) X(v, r0 + 13, sd)                   \
    X(v, r0 + 14, se) X(v, r0 + 15, sf)
#define IG_STORE(e, s)                                                                         \
    if (p0 + e < P) {                                                                          \
        global float *yp = y + y_off + (z * c_out + o0) * P + p0 + e;                         \
        IG_CH16(IG_STORE_C, acc##e##_0, 0)                                                     \
        IG_CH16(IG_STORE_C, acc##e##_1, 16)                                                    \
    }

kernel void conv2d_fwd_igemm(int c_in, int h, int w_in, int c_out, int kh, int kw, int stride,
                             int pad, int ho, int wo, global const float *x, int x_off,
                             global const float *wt, int wt_off, global float *y, int y_off)
{
    const int o0 = (int)get_global_id(0) * 32, p0 = (int)get_global_id(1) * 8;
    const int z = (int)get_global_id(2), P = ho * wo, hw = h * w_in, kk = kh * kw;
    if (o0 >= c_out || p0 >= P)
        return;
    /* The pixels' top-left input corners; pixels past P get a row no tap brings in range. */
    const int8 p = p0 + (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    const int8 oh = p / wo;
    const int8 ih0 = select((int8)(-kh - h), oh * stride - pad, p < P);
    const int8 iw0 = (p - oh * wo) * stride - pad;
    const global float *xi = x + x_off + z * c_in * hw;
    IG_PIX(IG_DECL)
    for (int ki = 0; ki < kh; ki++) {
        const int8 ih = ih0 + ki;
        const int8 row_ok = ih >= 0 && ih < h;
        for (int kj = 0; kj < kw; kj++) {
            const int8 iw = iw0 + kj;
            const int8 ok = row_ok && iw >= 0 && iw < w_in;
            const int8 off = select((int8)(0), ih * w_in + iw, ok);
            const global float *xc = xi;
            const global float *wp = wt + wt_off + ((o0 >> 5) * kk + ki * kw + kj) * c_in * 32;
            /* Taps whose 8 pixels read 8 consecutive floats (stride 1, inside the image,
             * along one row) take a vector load instead of the gather. */
            if (all(ok && off == off.s0 + (int8)(0, 1, 2, 3, 4, 5, 6, 7))) {
                for (int c = 0; c < c_in; c++, xc += hw, wp += 32) {
                    const float8 b = vload8(0, xc + off.s0);
                    IG_MAC
                }
            } else {
                for (int c = 0; c < c_in; c++, xc += hw, wp += 32) {
                    float8 b = (float8)(xc[off.s0], xc[off.s1], xc[off.s2], xc[off.s3],
                                        xc[off.s4], xc[off.s5], xc[off.s6], xc[off.s7]);
                    b = select((float8)(0.0f), b, ok);
                    IG_MAC
                }
            }
        }
    }
    IG_PIX(IG_STORE)
}

/* wt for conv2d_fwd_igemm from w [c_out][c_in][kh][kw]: panels of 32 output channels,
 * each [kh * kw][c_in][32] in the order the kernel reads them, zero past the output
 * channels. flip = 0: the forward, wt(j, c, t) = w[j][c][t], t = ki * kw + kj. flip = 1: the
 * input gradient of a stride-1 convolution as a forward convolution of dy (channels swapped,
 * the kernel rotated by 180 degrees): wt(j, c, t) = w[c][j][kk - 1 - t].
 * ci, co: the input and output channels of the convolution the kernel runs.
 * Global (cpad, ci * kk). */
kernel void conv2d_w_pack(int ci, int co, int kk, int cpad, int flip, global const float *w,
                          int w_off, global float *wt, int wt_off)
{
    const int j = (int)get_global_id(0), k = (int)get_global_id(1);
    if (j >= cpad || k >= ci * kk)
        return;
    const int c = k / kk, t = k - c * kk;
    float v = 0.0f;
    if (j < co)
        v = w[w_off + (flip ? (c * co + j) * kk + kk - 1 - t : (j * ci + c) * kk + t)];
    wt[wt_off + (((j >> 5) * kk + t) * ci + c) * 32 + (j & 31)] = v;
}
