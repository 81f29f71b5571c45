/* Oclgrind 21.10 cannot run LLVM's `freeze`, which the optimiser emits when a kernel takes
 * both a / b and a % b: remainders are written as a - (a / b) * b instead. */

/* GaussianBlur with torchvision's kernel (exp(-x^2 / 2 sigma^2) at integer x in
 * [-(k-1)/2, (k-1)/2], normalised) and reflect padding, for the views listed in
 * list[0..nb): view list[j] of work[n][C][S][S]. Its sigma and kernel size come from its
 * parameters (vp, layout in cl/augment.cl). Two ways: separable passes, or an FFT of a
 * reflect-padded plane multiplied by the kernel's transfer function (clFFT in between). */

#define VP_STRIDE 32
#define VP_SIGMA 19
#define VP_KSIZE 29

/* Reflect (without repeating the edge) into [0, n), for any distance outside. */
inline int reflect_index(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i = i % period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

/* w[j][0..kmax): view list[j]'s normalised 1-D kernel, zero past its own size; grid nb. */
kernel void blur_weights(int nb, int kmax, global const int *list, int list_off,
                         global const int *vp, int vp_off, global float *w, int w_off)
{
    int j = get_global_id(0);
    if (j >= nb)
        return;
    global const int *p = vp + vp_off + list[list_off + j] * VP_STRIDE;
    float sigma = as_float(p[VP_SIGMA]);
    int k = p[VP_KSIZE];
    float mid = (float)(k - 1) * 0.5f, sum = 0.0f;
    for (int t = 0; t < k; t++) {
        float x = ((float)t - mid) / sigma;
        sum += exp(-0.5f * x * x);
    }
    for (int t = 0; t < kmax; t++) {
        float x = ((float)t - mid) / sigma;
        w[w_off + j * kmax + t] = t < k ? exp(-0.5f * x * x) / sum : 0.0f;
    }
}

/* Horizontal pass: tmp[j][c][y][x] = sum_t w[t] work[n][c][y][reflect(x + t - k/2)];
 * grid (S*S, nb*C). */
kernel void blur_h(int nb, int S, int C, int kmax, global const int *list, int list_off,
                   global const int *vp, int vp_off, global const float *w, int w_off,
                   global const float *work, int work_off, global float *tmp, int tmp_off)
{
    int pix = get_global_id(0), jc = get_global_id(1);
    if (pix >= S * S || jc >= nb * C)
        return;
    int j = jc / C, c = jc - j * C;
    int n = list[list_off + j];
    int k = vp[vp_off + n * VP_STRIDE + VP_KSIZE], r = k / 2;
    int y = pix / S, x = pix - y * S;
    global const float *row = work + work_off + ((size_t)n * C + c) * S * S + (size_t)y * S;
    global const float *wj = w + w_off + j * kmax;
    float acc = 0.0f;
    if (x >= r && x + r < S) /* interior: no reflection (same sum, same order) */
        for (int t = 0; t < k; t++)
            acc += wj[t] * row[x + t - r];
    else
        for (int t = 0; t < k; t++)
            acc += wj[t] * row[reflect_index(x + t - r, S)];
    tmp[tmp_off + (size_t)jc * S * S + pix] = acc;
}

/* Vertical pass back into the view: work[n][c][y][x] = sum_t w[t] tmp[j][c][reflect(..)][x]. */
kernel void blur_v(int nb, int S, int C, int kmax, global const int *list, int list_off,
                   global const int *vp, int vp_off, global const float *w, int w_off,
                   global const float *tmp, int tmp_off, global float *work, int work_off)
{
    int pix = get_global_id(0), jc = get_global_id(1);
    if (pix >= S * S || jc >= nb * C)
        return;
    int j = jc / C, c = jc - j * C;
    int n = list[list_off + j];
    int k = vp[vp_off + n * VP_STRIDE + VP_KSIZE], r = k / 2;
    int y = pix / S, x = pix - y * S;
    global const float *col = tmp + tmp_off + (size_t)jc * S * S + x;
    global const float *wj = w + w_off + j * kmax;
    float acc = 0.0f;
    if (y >= r && y + r < S)
        for (int t = 0; t < k; t++)
            acc += wj[t] * col[(size_t)(y + t - r) * S];
    else
        for (int t = 0; t < k; t++)
            acc += wj[t] * col[(size_t)reflect_index(y + t - r, S) * S];
    work[work_off + ((size_t)n * C + c) * S * S + pix] = acc;
}

/* FFT path, for a chunk of views list[first .. first + chunk) (those past nb are padding):
 * plane[q][P][P], q = jj * C + c, holds the view reflect-padded by kmax/2 on each side from
 * (0, 0), zero beyond; grid (P*P, chunk*C). */
kernel void blur_fft_pad(int nb, int first, int chunk, int S, int C, int P, int pad,
                         global const int *list, int list_off, global const float *work,
                         int work_off, global float *plane, int plane_off)
{
    int pix = get_global_id(0), q = get_global_id(1);
    if (pix >= P * P || q >= chunk * C)
        return;
    int jj = q / C, c = q - jj * C, j = first + jj;
    int yy = pix / P, xx = pix - yy * P;
    float v = 0.0f;
    if (j < nb && yy < S + 2 * pad && xx < S + 2 * pad) {
        int n = list[list_off + j];
        v = work[work_off + ((size_t)n * C + c) * S * S +
                 (size_t)reflect_index(yy - pad, S) * S + reflect_index(xx - pad, S)];
    }
    plane[plane_off + (size_t)q * P * P + pix] = v;
}

/* H[jj][f], f in [0, P): the DFT of view first+jj's centred kernel, sum_t w[t] cos(2 pi f
 * (t - k/2) / P), real because the kernel is symmetric; grid (P, chunk). */
kernel void blur_fft_transfer(int nb, int first, int chunk, int kmax, int P,
                              global const int *list, int list_off, global const int *vp,
                              int vp_off, global const float *w, int w_off, global float *H,
                              int H_off)
{
    int f = get_global_id(0), jj = get_global_id(1);
    if (f >= P || jj >= chunk)
        return;
    int j = first + jj;
    float h = 0.0f;
    if (j < nb) {
        int k = vp[vp_off + list[list_off + j] * VP_STRIDE + VP_KSIZE], r = k / 2;
        global const float *wj = w + w_off + j * kmax;
        h = wj[r];
        for (int t = 1; t <= r; t++) {
            /* the angle reduced exactly in integers before going to float */
            int m = (f * t) % P;
            h += 2.0f * wj[r + t] * cospi(2.0f * (float)m / (float)P);
        }
    }
    H[H_off + jj * P + f] = h;
}

/* spec[q][fy][fx] *= H[jj][fy] * H[jj][fx] (Hermitian layout: fx < P/2+1, interleaved
 * complex); grid ((P/2+1)*P, chunk*C). */
kernel void blur_fft_mul(int chunk, int C, int P, global const float *H, int H_off,
                         global float *spec, int spec_off)
{
    int bin = get_global_id(0), q = get_global_id(1);
    int W = P / 2 + 1;
    if (bin >= W * P || q >= chunk * C)
        return;
    int jj = q / C, fy = bin / W, fx = bin - fy * W;
    float g = H[H_off + jj * P + fy] * H[H_off + jj * P + fx];
    size_t at = (size_t)spec_off + ((size_t)q * W * P + bin) * 2;
    spec[at] *= g;
    spec[at + 1] *= g;
}

/* Crops the blurred planes back into the views: grid (S*S, chunk*C). */
kernel void blur_fft_crop(int nb, int first, int chunk, int S, int C, int P, int pad,
                          global const int *list, int list_off, global const float *plane,
                          int plane_off, global float *work, int work_off)
{
    int pix = get_global_id(0), q = get_global_id(1);
    if (pix >= S * S || q >= chunk * C)
        return;
    int jj = q / C, c = q - jj * C, j = first + jj;
    if (j >= nb)
        return;
    int n = list[list_off + j];
    int y = pix / S, x = pix - y * S;
    work[work_off + ((size_t)n * C + c) * S * S + pix] =
        plane[plane_off + (size_t)q * P * P + (size_t)(y + pad) * P + (x + pad)];
}
