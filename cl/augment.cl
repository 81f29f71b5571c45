/* Oclgrind 21.10 cannot run LLVM's `freeze`, which the optimiser emits when a kernel takes
 * both a / b and a % b: remainders are written as a - (a / b) * b instead. */

/* Augmentation stages, each one launch over every view of a batch (see hvp/augment.h).
 * Views of one size group live in a working buffer work[n][C][S][S] (float, [0, 1] data),
 * n = view slot * images + image. vp[n * VP_STRIDE + ...] holds view n's drawn parameters
 * (ints, floats stored as their bits); src holds the batch's uint8 H x W x C images. */

#define VP_STRIDE 32
#define VP_SRC_OFF 0
#define VP_SRC_H 1
#define VP_SRC_W 2
#define VP_TOP 3
#define VP_LEFT 4
#define VP_CH 5
#define VP_CW 6
#define VP_FLIP 7
#define VP_JITTER 8
#define VP_ORDER 9 /* 4 ints */
#define VP_FACTORS 13 /* brightness, contrast, saturation, hue */
#define VP_GRAY 17
#define VP_BLUR 18
#define VP_SIGMA 19
#define VP_SOLARIZE 20
#define VP_MEAN 21 /* 3 */
#define VP_STD 24  /* 3 */
#define VP_INTERP 28
#define VP_KSIZE 29

/* torch's antialiased interpolation filters (aten UpSampleKernel.cpp, aa_filter): the
 * triangle for bilinear, Keys' cubic with a = -0.5 for bicubic. */
inline float aa_filter(float x, int bicubic)
{
    x = fabs(x);
    if (!bicubic)
        return x < 1.0f ? 1.0f - x : 0.0f;
    const float a = -0.5f;
    if (x < 1.0f)
        return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
    if (x < 2.0f)
        return ((a * x - 5.0f * a) * x + 8.0f * a) * x - 4.0f * a;
    return 0.0f;
}

/* The taps of output i of an in_size -> out_size antialiased resize (torch's
 * _compute_indices_min_size_weights_aa): first tap, count, filter centre and step. */
inline void aa_taps(int i, int in_size, int out_size, int bicubic, int *lo, int *cnt,
                    float *center, float *invscale)
{
    float scale = (float)in_size / (float)out_size;
    float support = (bicubic ? 2.0f : 1.0f) * (scale >= 1.0f ? scale : 1.0f);
    float c = scale * ((float)i + 0.5f);
    *invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
    int a = max((int)(c - support + 0.5f), 0);
    int b = min((int)(c + support + 0.5f), in_size);
    *lo = a;
    *cnt = b - a;
    *center = c;
}

/* RandomResizedCrop + horizontal flip: work[n] = resize(crop(src / 255)), grid (S*S, nv). */
kernel void augment_crop(int nv, int S, int C, global const uchar *src, int src_off,
                         global const int *vp, int vp_off, global float *work, int work_off)
{
    int pix = get_global_id(0), n = get_global_id(1);
    if (pix >= S * S || n >= nv)
        return;
    global const int *p = vp + vp_off + n * VP_STRIDE;
    int y = pix / S, x = pix - y * S;
    if (p[VP_FLIP])
        x = S - 1 - x;
    int bicubic = p[VP_INTERP];
    int src_w = p[VP_SRC_W];
    int y0, ny, x0, nx;
    float cy, cx, isy, isx;
    aa_taps(y, p[VP_CH], S, bicubic, &y0, &ny, &cy, &isy);
    aa_taps(x, p[VP_CW], S, bicubic, &x0, &nx, &cx, &isx);
    float ty = 0.0f, tx = 0.0f;
    for (int j = 0; j < ny; j++)
        ty += aa_filter(((float)(j + y0) - cy + 0.5f) * isy, bicubic);
    for (int j = 0; j < nx; j++)
        tx += aa_filter(((float)(j + x0) - cx + 0.5f) * isx, bicubic);
    float acc[3] = {0.0f, 0.0f, 0.0f};
    global const uchar *img = src + src_off + p[VP_SRC_OFF];
    int src_h = p[VP_SRC_H];
    for (int j = 0; j < ny; j++) {
        float wy = aa_filter(((float)(j + y0) - cy + 0.5f) * isy, bicubic);
        int sy = p[VP_TOP] + y0 + j;
        if (sy < 0 || sy >= src_h) /* a padded crop (RandomCrop(padding)): zeros outside */
            continue;
        global const uchar *row = img + (size_t)sy * src_w * C;
        float r[3] = {0.0f, 0.0f, 0.0f};
        for (int i = 0; i < nx; i++) {
            float wx = aa_filter(((float)(i + x0) - cx + 0.5f) * isx, bicubic);
            int sx = p[VP_LEFT] + x0 + i;
            if (sx < 0 || sx >= src_w)
                continue;
            for (int c = 0; c < C; c++)
                r[c] += wx * ((float)row[(size_t)sx * C + c] * (1.0f / 255.0f));
        }
        for (int c = 0; c < C; c++)
            acc[c] += wy * r[c];
    }
    float norm = (ty != 0.0f ? ty : 1.0f) * (tx != 0.0f ? tx : 1.0f);
    global float *out = work + work_off + (size_t)n * C * S * S + pix;
    for (int c = 0; c < C; c++)
        out[(size_t)c * S * S] = acc[c] / norm;
}

inline float gray_of(float r, float g, float b) { return 0.2989f * r + 0.587f * g + 0.114f * b; }

inline float blend01(float a, float b, float ratio)
{
    return clamp(ratio * a + (1.0f - ratio) * b, 0.0f, 1.0f);
}

/* torchvision's adjust_hue on one pixel: _rgb2hsv, h = (h + factor) mod 1, _hsv2rgb. */
inline float3 hue_shift(float3 px, float factor)
{
    float r = px.x, g = px.y, b = px.z;
    float maxc = fmax(r, fmax(g, b)), minc = fmin(r, fmin(g, b));
    int eqc = maxc == minc;
    float cr = maxc - minc;
    float s = cr / (eqc ? 1.0f : maxc);
    float crd = eqc ? 1.0f : cr;
    float rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    float hr = (maxc == r) ? (bc - gc) : 0.0f;
    float hg = (maxc == g && maxc != r) ? (2.0f + rc - bc) : 0.0f;
    float hb = (maxc != g && maxc != r) ? (4.0f + gc - rc) : 0.0f;
    float h = fmod(((hr + hg + hb) / 6.0f + 1.0f), 1.0f);
    /* Python's % on floats: the result has the sign of the divisor. */
    h = h + factor;
    h = h - floor(h);
    float v = maxc;
    float i = floor(h * 6.0f);
    float f = h * 6.0f - i;
    int ii = ((int)i) % 6;
    if (ii < 0)
        ii += 6;
    float pp = clamp(v * (1.0f - s), 0.0f, 1.0f);
    float q = clamp(v * (1.0f - s * f), 0.0f, 1.0f);
    float t = clamp(v * (1.0f - s * (1.0f - f)), 0.0f, 1.0f);
    switch (ii) {
    case 0: return (float3)(v, t, pp);
    case 1: return (float3)(q, v, pp);
    case 2: return (float3)(pp, v, t);
    case 3: return (float3)(pp, q, v);
    case 4: return (float3)(t, pp, v);
    default: return (float3)(v, pp, q);
    }
}

/* One ColorJitter op (0 brightness, 1 contrast with the view's grayscale mean, 2
 * saturation, 3 hue; f its factor) on pixels first, first + stride, ... of a view. Each
 * pixel's channels are read and written by the one caller that owns the pixel. */
inline void color_op(int op, float f, float mean, global float *im, int np, int C, int first,
                     int stride)
{
    if (op == 0 && f != 1.0f) {
        for (int i = first; i < np; i += stride)
            for (int c = 0; c < C; c++)
                im[c * np + i] = blend01(im[c * np + i], 0.0f, f);
    } else if (op == 1 && f != 1.0f) {
        for (int i = first; i < np; i += stride)
            for (int c = 0; c < C; c++)
                im[c * np + i] = blend01(im[c * np + i], mean, f);
    } else if (op == 2 && f != 1.0f && C == 3) {
        for (int i = first; i < np; i += stride) {
            float r = im[i], g = im[np + i], b = im[2 * np + i];
            float l = gray_of(r, g, b);
            im[i] = blend01(r, l, f);
            im[np + i] = blend01(g, l, f);
            im[2 * np + i] = blend01(b, l, f);
        }
    } else if (op == 3 && f != 0.0f && C == 3) {
        for (int i = first; i < np; i += stride) {
            float3 o = hue_shift((float3)(im[i], im[np + i], im[2 * np + i]), f);
            im[i] = o.x;
            im[np + i] = o.y;
            im[2 * np + i] = o.z;
        }
    }
}

/* RandomGrayscale on pixels first, first + stride, ... */
inline void gray_op(global float *im, int np, int first, int stride)
{
    for (int i = first; i < np; i += stride) {
        float l = gray_of(im[i], im[np + i], im[2 * np + i]);
        im[i] = l;
        im[np + i] = l;
        im[2 * np + i] = l;
    }
}

/* The grayscale sum of pixels first, first + stride, ... in order: one lane's share of the
 * contrast mean. */
inline float gray_part(global const float *im, int np, int C, int first, int stride)
{
    float part = 0.0f;
    for (int i = first; i < np; i += stride)
        part += C == 3 ? gray_of(im[i], im[np + i], im[2 * np + i]) : im[i];
    return part;
}

/* ColorJitter in the drawn order, then RandomGrayscale; one work-group per view, in place.
 * The local size is a power of two (the launcher computes it); contrast's grayscale mean is a
 * fixed-order tree reduction in local memory, so runs are bitwise reproducible. Every
 * work-item reaches every barrier: the reduction runs at each of the four steps whatever the
 * op, so no barrier sits in control flow that depends on the drawn op. */
kernel void augment_color(int nv, int S, int C, global const int *vp, int vp_off,
                          global float *work, int work_off, local float *red)
{
    int n = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    int live = n < nv;
    int np = S * S;
    global const int *p = vp + vp_off + (live ? n : 0) * VP_STRIDE;
    global float *im = work + work_off + (size_t)(live ? n : 0) * C * np;
    int jitter = live && p[VP_JITTER];
    for (int step = 0; step < 4; step++) {
        int op = jitter ? p[VP_ORDER + step] : -1;
        float f = jitter ? as_float(p[VP_FACTORS + op]) : 1.0f;
        red[lid] = op == 1 && f != 1.0f ? gray_part(im, np, C, lid, L) : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int s = L / 2; s > 0; s >>= 1) {
            if (lid < s)
                red[lid] += red[lid + s];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        float mean = red[0] / (float)np;
        barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read red[0] before the next step */
        /* Every item walks its own pixels (all channels of pixel i), so no item ever reads
         * what another wrote: no global barrier is needed between steps. */
        color_op(op, f, mean, im, np, C, lid, L);
    }
    if (live && p[VP_GRAY] && C == 3)
        gray_op(im, np, lid, L);
}

/* augment_color with a whole view per work-item (CPUs: no barriers), bitwise the same: the
 * contrast mean sums `lanes` lanes' shares (lanes: augment_color's local size, at most 256)
 * in the same tree. Global (nv). */
kernel void augment_color_item(int nv, int S, int C, global const int *vp, int vp_off,
                               global float *work, int work_off, int lanes)
{
    int n = get_global_id(0), np = S * S;
    if (n >= nv)
        return;
    global const int *p = vp + vp_off + n * VP_STRIDE;
    global float *im = work + work_off + (size_t)n * C * np;
    for (int step = 0; step < 4 && p[VP_JITTER]; step++) {
        int op = p[VP_ORDER + step];
        float f = as_float(p[VP_FACTORS + op]), mean = 0.0f;
        if (op == 1 && f != 1.0f) {
            float red[256];
            for (int l = 0; l < lanes; l++)
                red[l] = gray_part(im, np, C, l, lanes);
            for (int s = lanes / 2; s > 0; s >>= 1)
                for (int l = 0; l < s; l++)
                    red[l] += red[l + s];
            mean = red[0] / (float)np;
        }
        color_op(op, f, mean, im, np, C, 0, 1);
    }
    if (p[VP_GRAY] && C == 3)
        gray_op(im, np, 0, 1);
}

/* Solarize and Normalize, writing the output tensor [nv, Cout, S, S]; grid (S*S, nv). */
kernel void augment_finish(int nv, int S, int C, int Cout, global const int *vp, int vp_off,
                           global const float *work, int work_off, global float *out,
                           int out_off)
{
    int pix = get_global_id(0), n = get_global_id(1);
    if (pix >= S * S || n >= nv)
        return;
    global const int *p = vp + vp_off + n * VP_STRIDE;
    int np = S * S;
    global const float *im = work + work_off + (size_t)n * C * np + pix;
    float v[3];
    if (C == 3 && Cout == 1) {
        v[0] = gray_of(im[0], im[np], im[2 * np]);
    } else {
        for (int c = 0; c < Cout; c++)
            v[c] = im[(size_t)(C == 1 ? 0 : c) * np];
    }
    int sol = p[VP_SOLARIZE];
    for (int c = 0; c < Cout; c++) {
        float x = v[c];
        if (sol && x >= 0.5f)
            x = 1.0f - x;
        x = (x - as_float(p[VP_MEAN + c])) / as_float(p[VP_STD + c]);
        out[out_off + ((size_t)n * Cout + c) * np + pix] = x;
    }
}
