/* conv2d: im2col, col2im (as a gather), layout swaps, bias, and the implicit-GEMM kernels
 * (forward, input gradient by phases, weight gradient). Every pointer comes with its
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
 * read front to back. Output pixel (oh, ow) of channel plane j goes to
 * y[y_off + j * y_plane + y_base + oh * y_row + ow * y_col]: (P, 0, wo, 1) for a forward
 * convolution, a strided grid of dx for one phase of a strided input gradient. Padding may
 * differ between rows and columns and be negative (a phase's sub-convolution).
 * The tile's pixels may span images (igemm_tile). Any work-group shape. */
#define IG_PIX(X) X(0, s0) X(1, s1) X(2, s2) X(3, s3) X(4, s4) X(5, s5) X(6, s6) X(7, s7)
#define IG_DECL(e, s) float16 acc##e##_0 = (float16)(0.0f), acc##e##_1 = (float16)(0.0f);
#define IG_FMA(e, s)                                                                           \
    acc##e##_0 += b.s * w0;                                                                    \
    acc##e##_1 += b.s * w1;
#define IG_MAC                                                                                 \
    const float16 w0 = vload16(0, wp), w1 = vload16(1, wp);                                    \
    IG_PIX(IG_FMA)
/* The same with each pixel's x read as a scalar at its own offset q0..q7: the multiply takes
 * it straight from memory as a broadcast, where taking lanes of a loaded vector costs a
 * shuffle per pixel on the port that also runs half the FMAs (AVX-512). */
#define IG_FMA_MEM(e, s)                                                                       \
    {                                                                                          \
        const float xs = xc[q##e];                                                             \
        acc##e##_0 += xs * w0;                                                                 \
        acc##e##_1 += xs * w1;                                                                 \
    }
#define IG_MAC_MEM                                                                             \
    const float16 w0 = vload16(0, wp), w1 = vload16(1, wp);                                    \
    IG_PIX(IG_FMA_MEM)
#define IG_STORE_C(v, r, s)                                                                    \
    if (o0 + r < c_out)                                                                        \
        yp[(r) * y_plane] = v.s;
#define IG_CH16(X, v, r0)                                                                      \
    X(v, r0 + 0, s0) X(v, r0 + 1, s1) X(v, r0 + 2, s2) X(v, r0 + 3, s3) X(v, r0 + 4, s4)       \
    X(v, r0 + 5, s5) X(v, r0 + 6, s6) X(v, r0 + 7, s7) X(v, r0 + 8, s8) X(v, r0 + 9, s9)       \
    X(v, r0 + 10, sa) X(v, r0 + 11, sb) X(v, r0 + 12, sc) X(v, r0 + 13, sd)                   \
    X(v, r0 + 14, se) X(v, r0 + 15, sf)
#define IG_STORE(e, s)                                                                         \
    if (p0 + e < pixels) {                                                                     \
        global float *yp = y + y_off + (z * c_out + o0) * y_plane + yo.s;                     \
        IG_CH16(IG_STORE_C, acc##e##_0, 0)                                                     \
        IG_CH16(IG_STORE_C, acc##e##_1, 16)                                                    \
    }

/* Where the 8 pixels first, first + 1, ... read x and write y: their top-left input
 * corners, their images' offsets in x, and their places in y. Pixels past the end (never
 * stored) repeat the last one, so that they leave the unmasked reads to taps inside the
 * image. (A vector bound: Oclgrind 21.10 got min(int8, int) wrong.) */
inline void ig8_pixels(int first, int pixels, int P, int wo, int stride, int pad_h, int pad_w,
                       int c_in_hw, int c_out_plane, int y_base, int y_row, int y_col,
                       int8 *ih0, int8 *iw0, int8 *xb, int8 *yo)
{
    const int8 p = min(first + (int8)(0, 1, 2, 3, 4, 5, 6, 7), (int8)(pixels - 1));
    const int8 zi = p / P;
    const int8 oh = (p - zi * P) / wo;
    const int8 ow = p - zi * P - oh * wo;
    *ih0 = oh * stride - pad_h;
    *iw0 = ow * stride - pad_w;
    *xb = zi * c_in_hw;
    *yo = y_base + oh * y_row + ow * y_col + zi * c_out_plane;
}

/* The tile of output channels o0.. and pixels p0.. of the images from z on: pixel p is
 * pixel p mod P of image z + p / P, so that a tile spans images where P is not a multiple
 * of its width (a 2x2 or 7x7 layer would leave most of the tile idle); `pixels` ends the
 * pixel space (P for one image). */
static void igemm_tile(int o0, int p0, int z, int pixels, int c_in, int h, int w_in, int c_out,
                       int kh, int kw, int stride, int pad_h, int pad_w, int ho, int wo,
                       global const float *x, int x_off, global const float *wt, int wt_off,
                       global float *y, int y_off, int y_plane, int y_base, int y_row,
                       int y_col)
{
    const int P = ho * wo, hw = h * w_in, kk = kh * kw;
    if (o0 >= c_out || p0 >= pixels)
        return;
    int8 ih0, iw0, xb, yo;
    ig8_pixels(p0, pixels, P, wo, stride, pad_h, pad_w, c_in * hw, c_out * y_plane, y_base,
               y_row, y_col, &ih0, &iw0, &xb, &yo);
    const global float *xi = x + x_off + z * c_in * hw;
    IG_PIX(IG_DECL)
    for (int ki = 0; ki < kh; ki++) {
        const int8 ih = ih0 + ki;
        const int8 row_ok = ih >= 0 && ih < h;
        if (!any(row_ok)) /* a padding row for all 8 pixels: nothing to add */
            continue;
        for (int kj = 0; kj < kw; kj++) {
            const int8 iw = iw0 + kj;
            const int8 ok = row_ok && iw >= 0 && iw < w_in;
            const int8 off = select((int8)(0), xb + ih * w_in + iw, ok);
            const global float *xc = xi;
            const global float *wp = wt + wt_off + ((o0 >> 5) * kk + ki * kw + kj) * c_in * 32;
            /* Taps whose 8 pixels are all inside the image need no mask: scalar reads. */
            if (all(ok)) {
                const int q0 = off.s0, q1 = off.s1, q2 = off.s2, q3 = off.s3, q4 = off.s4,
                          q5 = off.s5, q6 = off.s6, q7 = off.s7;
                for (int c = 0; c < c_in; c++, xc += hw, wp += 32) {
                    IG_MAC_MEM
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

/* Global (cdiv(c_out, 32), cdiv(n * P, 8)): the pixels of all n images in one space. */
kernel void conv2d_fwd_igemm(int n, int c_in, int h, int w_in, int c_out, int kh, int kw,
                             int stride, int pad_h, int pad_w, int ho, int wo,
                             global const float *x, int x_off, global const float *wt,
                             int wt_off, global float *y, int y_off, int y_plane, int y_base,
                             int y_row, int y_col)
{
    igemm_tile((int)get_global_id(0) * 32, (int)get_global_id(1) * 8, 0, n * ho * wo, c_in, h,
               w_in, c_out, kh, kw, stride, pad_h, pad_w, ho, wo, x, x_off, wt, wt_off, y, y_off,
               y_plane, y_base, y_row, y_col);
}

/* conv2d_fwd_igemm for at most 16 output channels (ResNets at a quarter of the width): a
 * tile of 16 pixels x 16 channels, one float16 of channels per pixel, so that no FMA goes
 * to the 16 empty channels of a 32-channel tile. It reads the first 16 lanes of the packed
 * 32-channel panel. Where the 16 pixels lie in one output row at stride 1 and inside the
 * image (a padded input, output rows of 16 or 32 pixels), pixel e reads x at the first pixel's
 * offset + e: one address register for all 16 broadcasts. Any other tap gathers and masks.
 * Its pixels span images as igemm_tile's. Global (1, cdiv(n * P, 16)); any work-group
 * shape. */
#define IG16_PIX(X)                                                                            \
    X(0, s0) X(1, s1) X(2, s2) X(3, s3) X(4, s4) X(5, s5) X(6, s6) X(7, s7) X(8, s8) X(9, s9)  \
    X(10, sa) X(11, sb) X(12, sc) X(13, sd) X(14, se) X(15, sf)
/* Pixels 8..15 by their lane in the tile's second half */
#define IG16_HI(X) X(8, s0) X(9, s1) X(10, s2) X(11, s3) X(12, s4) X(13, s5) X(14, s6) X(15, s7)
#define IG16_DECL(e, s) float16 acc##e = (float16)(0.0f);
#define IG16_FMA_ROW(e, s) acc##e += xr[e] * w0;
#define IG16_FMA_LO(e, s) acc##e += bl.s * w0;
#define IG16_FMA_HI(e, s) acc##e += bh.s * w0;
#define IG16_STORE_AT(e, s, yo, pe)                                                            \
    if (pe < pixels) {                                                                         \
        global float *yp = y + y_off + yo.s;                                                   \
        IG_CH16(IG_STORE_C, acc##e, 0)                                                         \
    }
#define IG16_STORE_LO(e, s) IG16_STORE_AT(e, s, yol, p0 + e)
#define IG16_STORE_HI(e, s) IG16_STORE_AT(e, s, yoh, p0 + e)

/* The geometry runs in two halves of 8 pixels: Oclgrind 21.10 --uninitialized crashed on, or
 * misreported, the same steps in 16-lane integer vectors. */
kernel void conv2d_fwd_igemm_c16(int n, int c_in, int h, int w_in, int c_out, int kh, int kw,
                                 int stride, int pad_h, int pad_w, int ho, int wo,
                                 global const float *x, int x_off, global const float *wt,
                                 int wt_off, global float *y, int y_off, int y_plane, int y_base,
                                 int y_row, int y_col)
{
    const int p0 = (int)get_global_id(1) * 16, o0 = 0;
    const int P = ho * wo, pixels = n * P, hw = h * w_in, kk = kh * kw;
    if (p0 >= pixels || get_global_id(0) > 0)
        return;
    int8 ih0l, iw0l, xbl, yol, ih0h, iw0h, xbh, yoh;
    ig8_pixels(p0, pixels, P, wo, stride, pad_h, pad_w, c_in * hw, c_out * y_plane, y_base,
               y_row, y_col, &ih0l, &iw0l, &xbl, &yol);
    ig8_pixels(p0 + 8, pixels, P, wo, stride, pad_h, pad_w, c_in * hw, c_out * y_plane, y_base,
               y_row, y_col, &ih0h, &iw0h, &xbh, &yoh);
    /* 16 pixels of one output row, none repeated: at stride 1 they read 16 adjacent x */
    const int pl = p0 + 15, z0 = p0 / P, zl = pl / P;
    const int one_row = stride == 1 && pl < pixels && z0 == zl &&
                        (p0 - z0 * P) / wo == (pl - zl * P) / wo;
    const global float *xc0 = x + x_off;
    IG16_PIX(IG16_DECL)
    for (int ki = 0; ki < kh; ki++) {
        const int8 ihl = ih0l + ki, ihh = ih0h + ki;
        const int8 rl = ihl >= 0 && ihl < h, rh = ihh >= 0 && ihh < h;
        if (!any(rl) && !any(rh))
            continue;
        for (int kj = 0; kj < kw; kj++) {
            const int8 iwl = iw0l + kj, iwh = iw0h + kj;
            const int8 okl = rl && iwl >= 0 && iwl < w_in, okh = rh && iwh >= 0 && iwh < w_in;
            const int8 ol = select((int8)(0), xbl + ihl * w_in + iwl, okl);
            const int8 oh = select((int8)(0), xbh + ihh * w_in + iwh, okh);
            const global float *xc = xc0;
            const global float *wp = wt + wt_off + (ki * kw + kj) * c_in * 32;
            if (one_row && all(okl) && all(okh)) {
                const global float *xr = xc + ol.s0;
                for (int c = 0; c < c_in; c++, xr += hw, wp += 32) {
                    const float16 w0 = vload16(0, wp);
                    IG16_PIX(IG16_FMA_ROW)
                }
            } else {
                for (int c = 0; c < c_in; c++, xc += hw, wp += 32) {
                    const float16 w0 = vload16(0, wp);
                    float8 bl = (float8)(xc[ol.s0], xc[ol.s1], xc[ol.s2], xc[ol.s3], xc[ol.s4],
                                         xc[ol.s5], xc[ol.s6], xc[ol.s7]);
                    float8 bh = (float8)(xc[oh.s0], xc[oh.s1], xc[oh.s2], xc[oh.s3], xc[oh.s4],
                                         xc[oh.s5], xc[oh.s6], xc[oh.s7]);
                    bl = select((float8)(0.0f), bl, okl);
                    bh = select((float8)(0.0f), bh, okh);
                    IG_PIX(IG16_FMA_LO)
                    IG16_HI(IG16_FMA_HI)
                }
            }
        }
    }
    IG_PIX(IG16_STORE_LO)
    IG16_HI(IG16_STORE_HI)
}

/* The input gradient of a convolution with stride s (dx [n][c_out][H][W] here, dy
 * [n][c_in][h][w], kernel kh x kw, padding pad) in one launch over all s*s phases of dx:
 * phase (rh, rw) holds the pixels (rh + s a, rw + s b); its rows take the taps
 * ki = k0h + s m, k0h = (rh + pad) mod s, from dy rows a + (rh + pad - k0h) / s - m, i.e. a
 * stride-1 convolution of dy by a skh x skw sub-kernel with padding skh - 1 - that offset
 * (columns likewise), whose packed weights (conv2d_w_pack, flip) follow each other in wt
 * in phase order. A phase without taps (a kernel narrower than the stride) is skipped: the
 * caller zeroes dx first (zeros stored by the tile, every s-th float, took 1.3x the time).
 * The phase is the fastest index of dimension 0, so that the s*s tiles that write the same
 * lines of dx run one after another. Global (s*s * cdiv(c_out, 32), cdiv(max phase
 * pixels, 8), n). */
kernel void conv2d_dx_phases(int c_in, int h, int w, int c_out, int kh, int kw, int s, int pad,
                             int H, int W, global const float *dy, int dy_off,
                             global const float *wt, int wt_off, global float *dx, int dx_off)
{
    const int q = (int)get_global_id(0), ss = s * s, ob = q / ss, phase = q - ob * ss;
    int off = wt_off, rh = 0, rw = 0, k0h = 0, k0w = 0, skh = 0, skw = 0;
    for (int f = 0; f <= phase; f++) { /* this phase's sub-kernel and its place in wt */
        if (f > 0)
            off += skh * skw * c_in * ((c_out + 31) / 32 * 32);
        rh = f / s;
        rw = f - rh * s;
        k0h = rh + pad - (rh + pad) / s * s;
        k0w = rw + pad - (rw + pad) / s * s;
        skh = k0h < kh ? (kh - k0h + s - 1) / s : 0;
        skw = k0w < kw ? (kw - k0w + s - 1) / s : 0;
    }
    if (rh >= H || rw >= W || !skh || !skw) /* no pixels, or zero (cleared beforehand) */
        return;
    const int pho = (H - rh + s - 1) / s, pwo = (W - rw + s - 1) / s; /* the phase's grid */
    igemm_tile(ob * 32, (int)get_global_id(1) * 8, (int)get_global_id(2), pho * pwo, c_in, h, w,
               c_out, skh, skw, 1, skh - 1 - (rh + pad - k0h) / s,
               skw - 1 - (rw + pad - k0w) / s, pho, pwo, dy, dy_off, wt, off, dx, dx_off, H * W,
               rh * W + rw, s * W, s);
}

/* Row r of plane q of xp = x [planes][h][w] inside ph rows and pw columns of zeros on each
 * side. */
inline void pad_row(int h, int w, int ph, int pw, global const float *x, global float *xp, int q,
                    int r)
{
    const int hp = h + 2 * ph, wp = w + 2 * pw, ir = r - ph;
    global float *dst = xp + (q * hp + r) * wp;
    if (ir < 0 || ir >= h) {
        for (int c = 0; c < wp; c++)
            dst[c] = 0.0f;
        return;
    }
    const global float *src = x + (q * h + ir) * w;
    for (int c = 0; c < pw; c++) {
        dst[c] = 0.0f;
        dst[pw + w + c] = 0.0f;
    }
    int c = 0;
    for (; c + 16 <= w; c += 16)
        vstore16(vload16(0, src + c), 0, dst + pw + c);
    for (; c + 4 <= w; c += 4)
        vstore4(vload4(0, src + c), 0, dst + pw + c);
    for (; c < w; c++)
        dst[pw + c] = src[c];
}

/* xp = x zero-padded, so that conv2d_fwd_igemm reads every tap unmasked: at 8x8 and 16x16
 * most tiles have a pixel on the border, and the masked taps ran at half the speed. Item
 * (g, q) makes rows g * rows .. g * rows + rows - 1 of plane q: on CPUs a whole plane (with
 * an item per row the pads of a ResNet-18 CIFAR step took 1.2x the time).
 * Global (cdiv(h + 2 ph, rows), planes). */
kernel void conv2d_pad(int planes, int h, int w, int ph, int pw, int rows, global const float *x,
                       int x_off, global float *xp, int xp_off)
{
    const int g = (int)get_global_id(0), q = (int)get_global_id(1), hp = h + 2 * ph;
    if (g * rows >= hp || q >= planes)
        return;
    for (int r = g * rows; r < min(hp, g * rows + rows); r++)
        pad_row(h, w, ph, pw, x + x_off, xp + xp_off, q, r);
}

/* Element (j, c, t) of the packed weights (below). */
inline float w_pack_value(int ci, int co, int skw, int kw, int kk, int k0h, int k0w, int s,
                          int skh, int flip, global const float *w, int j, int c, int t)
{
    const int mh = t / skw, mw = t - mh * skw;
    const int ki = k0h + s * (skh - 1 - mh), kj = k0w + s * (skw - 1 - mw);
    if (j >= co)
        return 0.0f;
    return w[flip ? (c * co + j) * kk + ki * kw + kj : (j * ci + c) * kk + t];
}

/* wt for conv2d_fwd_igemm from w [c_out][c_in][kh][kw]: panels of 32 output channels,
 * each [kh * kw][c_in][32] in the order the kernel reads them, zero past the output
 * channels. flip = 0: the forward, wt(j, c, t) = w[j][c][t], t = ki * kw + kj.
 * flip = 1: the input gradient of a convolution with stride s as forward convolutions of
 * dy (channels swapped, the kernel rotated by 180 degrees), one per phase of dx; the phase
 * whose rows take the taps ki = k0h, k0h + s, ... (columns likewise) has the sub-kernel
 * [skh][skw] with wt(j, c, (mh, mw)) = w[c][j][k0h + s (skh-1-mh)][k0w + s (skw-1-mw)]
 * (stride 1: the whole kernel rotated). ci, co: the input and output channels of the
 * convolution the kernel runs; skh x skw its kernel; kw, kk: w's width and taps.
 * Global (cpad, ci * skh * skw). */
kernel void conv2d_w_pack(int ci, int co, int skh, int skw, int kw, int kk, int k0h, int k0w,
                          int s, int cpad, int flip, global const float *w, int w_off,
                          global float *wt, int wt_off)
{
    const int j = (int)get_global_id(0), k = (int)get_global_id(1), skk = skh * skw;
    if (j >= cpad || k >= ci * skk)
        return;
    const int c = k / skk, t = k - c * skk;
    wt[wt_off + (((j >> 5) * skk + t) * ci + c) * 32 + (j & 31)] =
        w_pack_value(ci, co, skw, kw, kk, k0h, k0w, s, skh, flip, w + w_off, j, c, t);
}

/* The same on CPUs: item (panel, c) makes the panel's 32 channels of input channel c for
 * every tap, reading each weight's taps from one cache line (an item per element, with
 * its divisions, took 2.8x the time in a ResNet-18 CIFAR step). Global (cpad / 32, ci). */
kernel void conv2d_w_pack_panel(int ci, int co, int skh, int skw, int kw, int kk, int k0h,
                                int k0w, int s, int cpad, int flip, global const float *w,
                                int w_off, global float *wt, int wt_off)
{
    const int panel = (int)get_global_id(0), c = (int)get_global_id(1), skk = skh * skw;
    if (panel * 32 >= cpad || c >= ci)
        return;
    for (int t = 0; t < skk; t++) {
        global float *dst = wt + wt_off + ((panel * skk + t) * ci + c) * 32;
        for (int jj = 0; jj < 32; jj++)
            dst[jj] = w_pack_value(ci, co, skw, kw, kk, k0h, k0w, s, skh, flip, w + w_off,
                                   panel * 32 + jj, c, t);
    }
}

/* dy of a chunk of nb images in panels of 32 output channels, channels last:
 * dyt[o / 32][i * P + p][o % 32] = dy[i][o][p], zero past c_out, so that the weight
 * gradient reads the 32 channels of a pixel as two float16 and walks its panel front to
 * back (with the channels of all panels in one row, the 1-2 KiB stride between pixels at
 * 8x8 and 4x4 left the dw kernel at half its 32x32 speed). Each work-item moves 32
 * channels of one pixel: its reads are strided by P, but consecutive items read
 * consecutive pixels, so each cache line serves 16 of them.
 * Global (nb * P, cdiv(c_out, 32)). */
kernel void conv2d_dy_panels(int nb, int c_out, int P, global const float *dy, int dy_off,
                             global float *dyt, int dyt_off)
{
    const int ip = (int)get_global_id(0), ob = (int)get_global_id(1), o0 = ob * 32;
    if (ip >= nb * P || o0 >= c_out)
        return;
    const int i = ip / P, p = ip - i * P;
    const global float *src = dy + dy_off + (i * c_out + o0) * P + p;
    global float *dst = dyt + dyt_off + (ob * nb * P + ip) * 32;
    for (int r = 0; r < 32; r++)
        dst[r] = o0 + r < c_out ? src[r * P] : 0.0f;
}

/* ceil(a / b) for b > 0 and any sign of a, floor(a / b) likewise. */
static int div_up(int a, int b)
{
    return a > 0 ? (a + b - 1) / b : -(-a / b);
}

static int div_down(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Implicit-GEMM weight gradient, the mirror of conv2d_fwd_igemm: for a chunk of nb images,
 * dw[o][c][ki][kj] += sum over (i, oh, ow) of dy[i][o][oh][ow] * x[i][c][ih][iw] with
 * ih = oh * stride - pad + ki, iw likewise. Each work-item owns one tap and an 8 input x 32
 * output channel tile, held as 8 x 2 float16: per output pixel, 8 scalar loads of x (the
 * 8 channels at one offset) and two float16 of dyT (conv2d_dy_panels), 16 float16 FMAs.
 * Only the output rows and columns whose input pixel lies inside the image are visited
 * (padding contributes zero), so there is no mask in the loop. Channels past c_in load the
 * last channel and are not stored; output channels past c_out are zero in dyT.
 * Global (cdiv(c_in, 8) * kh * kw, cdiv(c_out, 32)): consecutive items share the panel of
 * their 32 output channels (and, across taps, their x), which stays in the cache. */
#define DW_CH(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define DW_DECL(e)                                                                             \
    float16 acc##e##_0 = (float16)(0.0f), acc##e##_1 = (float16)(0.0f);                        \
    const int xo##e = min(c0 + e, c_in - 1) * hw;
#define DW_FMA(e)                                                                              \
    {                                                                                          \
        const float a = xr[xo##e];                                                             \
        acc##e##_0 += a * d0;                                                                  \
        acc##e##_1 += a * d1;                                                                  \
    }
#define DW_STORE_O(v, r, s)                                                                    \
    if (o0 + r < c_out)                                                                        \
        dwp[(r) * c_in * kk] += v.s;
#define DW_STORE(e)                                                                            \
    if (c0 + e < c_in) {                                                                       \
        global float *dwp = dw + dw_off + (o0 * c_in + c0 + e) * kk + t;                      \
        IG_CH16(DW_STORE_O, acc##e##_0, 0)                                                     \
        IG_CH16(DW_STORE_O, acc##e##_1, 16)                                                    \
    }

/* The output rows [oh0, oh1) and columns [ow0, ow1) whose input pixel for tap (ki, kj)
 * lies inside the image: 0 <= oh * stride - pad + ki < h, columns likewise. */
inline int4 dw_tap_window(int ki, int kj, int h, int w_in, int stride, int pad, int ho, int wo)
{
    return (int4)(max(0, div_up(pad - ki, stride)),
                  min(ho, div_down(h - 1 + pad - ki, stride) + 1),
                  max(0, div_up(pad - kj, stride)),
                  min(wo, div_down(w_in - 1 + pad - kj, stride) + 1));
}

/* The loops of both weight-gradient kernels: for every image i of the chunk and every
 * output pixel of the tap's window, x at the tap (xr) and the pixel's dyT panel row of the
 * channels from o0 (dr), then BODY. */
#define DW_PIXELS(BODY)                                                                        \
    const int4 win = dw_tap_window(ki, kj, h, w_in, stride, pad, ho, wo);                     \
    for (int i = 0; i < nb; i++) {                                                             \
        const global float *xi = x + x_off + i * c_in * hw;                                    \
        const global float *di = dyt + dyt_off + (o0 * nb + i * 32) * P;                       \
        for (int oh = win.s0; oh < win.s1; oh++) {                                             \
            const global float *xr =                                                           \
                xi + (oh * stride - pad + ki) * w_in + win.s2 * stride - pad + kj;             \
            const global float *dr = di + (oh * wo + win.s2) * 32;                             \
            for (int ow = win.s2; ow < win.s3; ow++, xr += stride, dr += 32) {                 \
                BODY                                                                           \
            }                                                                                  \
        }                                                                                      \
    }

kernel void conv2d_bwd_dw_igemm(int nb, int c_in, int h, int w_in, int c_out, int kh, int kw,
                                int stride, int pad, int ho, int wo,
                                global const float *x, int x_off, global const float *dyt,
                                int dyt_off, global float *dw, int dw_off)
{
    const int kk = kh * kw, q = (int)get_global_id(0), o0 = (int)get_global_id(1) * 32;
    if (q >= (c_in + 7) / 8 * kk || o0 >= c_out)
        return;
    const int cb = q / kk, t = q - cb * kk, ki = t / kw, kj = t - ki * kw;
    const int c0 = cb * 8, hw = h * w_in, P = ho * wo;
    DW_CH(DW_DECL)
    DW_PIXELS(const float16 d0 = vload16(0, dr); const float16 d1 = vload16(1, dr);
              DW_CH(DW_FMA))
    DW_CH(DW_STORE)
}

/* conv2d_bwd_dw_igemm for at most 16 output channels: 8 input x 16 output channels a
 * work-item (8 float16), reading the first 16 lanes of each dyT panel, so that no FMA
 * multiplies the zeros of output channels that do not exist. Global (cdiv(c_in, 8) * kh *
 * kw, 1). */
#define DW16_DECL(e)                                                                           \
    float16 acc##e = (float16)(0.0f);                                                          \
    const int xo##e = min(c0 + e, c_in - 1) * hw;
#define DW16_FMA(e) acc##e += xr[xo##e] * d0;
#define DW16_STORE(e)                                                                          \
    if (c0 + e < c_in) {                                                                       \
        global float *dwp = dw + dw_off + (c0 + e) * kk + t;                                  \
        IG_CH16(DW_STORE_O, acc##e, 0)                                                         \
    }

kernel void conv2d_bwd_dw_igemm_c16(int nb, int c_in, int h, int w_in, int c_out, int kh,
                                    int kw, int stride, int pad, int ho, int wo,
                                    global const float *x, int x_off, global const float *dyt,
                                    int dyt_off, global float *dw, int dw_off)
{
    const int kk = kh * kw, q = (int)get_global_id(0), o0 = 0;
    if (q >= (c_in + 7) / 8 * kk || get_global_id(1) > 0)
        return;
    const int cb = q / kk, t = q - cb * kk, ki = t / kw, kj = t - ki * kw;
    const int c0 = cb * 8, hw = h * w_in, P = ho * wo;
    DW_CH(DW16_DECL)
    DW_PIXELS(const float16 d0 = vload16(0, dr); DW_CH(DW16_FMA))
    DW_CH(DW16_STORE)
}
