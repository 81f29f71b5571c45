/* Double-precision reference of one augmented view (hvp/augment.h), written from
 * torchvision's functional tensor code: resized_crop with antialias=True, hflip, adjust_*
 * (clamp after each), rgb_to_grayscale, gaussian_blur (reflect), solarize, normalize. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/augment.h"
#include "ref.h"

static double aa_filter(double x, int bicubic)
{
    x = fabs(x);
    if (!bicubic)
        return x < 1 ? 1 - x : 0;
    const double a = -0.5;
    if (x < 1)
        return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2)
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* Normalised weights of output i over input [0, in): w[0..in), zero outside the taps. */
static void aa_weights(int i, int in, int out, int bicubic, double *w)
{
    double scale = (double)in / out;
    double support = (bicubic ? 2.0 : 1.0) * (scale >= 1 ? scale : 1);
    double center = scale * (i + 0.5), invscale = scale >= 1 ? 1 / scale : 1;
    int lo = (int)(center - support + 0.5);
    if (lo < 0)
        lo = 0;
    int hi = (int)(center + support + 0.5);
    if (hi > in)
        hi = in;
    double total = 0;
    for (int j = 0; j < in; j++)
        w[j] = 0;
    for (int j = lo; j < hi; j++) {
        w[j] = aa_filter((j - center + 0.5) * invscale, bicubic);
        total += w[j];
    }
    if (total != 0)
        for (int j = lo; j < hi; j++)
            w[j] /= total;
}

static double gray(const double *im, int np, int i)
{
    return 0.2989 * im[i] + 0.587 * im[np + i] + 0.114 * im[2 * np + i];
}

static double clamp01(double v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

static void hue(double *px, double factor)
{
    double r = px[0], g = px[1], b = px[2];
    double maxc = fmax(r, fmax(g, b)), minc = fmin(r, fmin(g, b));
    int eqc = maxc == minc;
    double cr = maxc - minc, s = cr / (eqc ? 1 : maxc), crd = eqc ? 1 : cr;
    double rc = (maxc - r) / crd, gc = (maxc - g) / crd, bc = (maxc - b) / crd;
    double h = (maxc == r ? bc - gc : 0) + (maxc == g && maxc != r ? 2 + rc - bc : 0) +
               (maxc != g && maxc != r ? 4 + gc - rc : 0);
    h = fmod(h / 6 + 1, 1);
    h += factor;
    h -= floor(h);
    double v = maxc, fi = floor(h * 6), f = h * 6 - fi;
    int ii = ((int)fi) % 6;
    double p = clamp01(v * (1 - s)), q = clamp01(v * (1 - s * f)),
           t = clamp01(v * (1 - s * (1 - f)));
    double o[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    memcpy(px, o[ii], sizeof o[ii]);
}

static int reflect(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

void ref_augment_blur(double *im, int C, int S, int k, double sigma)
{
    double *w = malloc(sizeof(double) * k), *tmp = malloc(sizeof(double) * S * S), sum = 0;
    for (int t = 0; t < k; t++) {
        double x = (t - (k - 1) * 0.5) / sigma;
        w[t] = exp(-0.5 * x * x);
        sum += w[t];
    }
    for (int t = 0; t < k; t++)
        w[t] /= sum;
    int r = k / 2;
    for (int c = 0; c < C; c++) {
        double *ch = im + (size_t)c * S * S;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double acc = 0;
                for (int t = 0; t < k; t++)
                    acc += w[t] * ch[y * S + reflect(x + t - r, S)];
                tmp[y * S + x] = acc;
            }
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double acc = 0;
                for (int t = 0; t < k; t++)
                    acc += w[t] * tmp[reflect(y + t - r, S) * S + x];
                ch[y * S + x] = acc;
            }
    }
    free(w);
    free(tmp);
}

void ref_augment_view(const unsigned char *img, int h, int w, int C, const hvp_view_slot *sl,
                      const hvp_view_params *p, int out_c, double *out)
{
    (void)h;
    int S = sl->size, np = S * S;
    double *im = malloc(sizeof(double) * C * np);
    double *wy = malloc(sizeof(double) * p->crop_h), *wx = malloc(sizeof(double) * p->crop_w);
    /* resized_crop then hflip */
    for (int y = 0; y < S; y++) {
        aa_weights(y, p->crop_h, S, sl->interp == HVP_INTERP_BICUBIC, wy);
        for (int x = 0; x < S; x++) {
            aa_weights(x, p->crop_w, S, sl->interp == HVP_INTERP_BICUBIC, wx);
            int ox = p->flip ? S - 1 - x : x;
            for (int c = 0; c < C; c++) {
                double acc = 0;
                for (int j = 0; j < p->crop_h; j++) {
                    if (wy[j] == 0)
                        continue;
                    double row = 0;
                    for (int i = 0; i < p->crop_w; i++)
                        row += wx[i] * img[((size_t)(p->crop_top + j) * w + p->crop_left + i) * C +
                                           c] / 255.0;
                    acc += wy[j] * row;
                }
                im[(size_t)c * np + y * S + ox] = acc;
            }
        }
    }
    if (p->jitter) {
        for (int step = 0; step < 4; step++) {
            int op = p->order[step];
            if (op == 0 && p->brightness != 1.0f) {
                for (int i = 0; i < C * np; i++)
                    im[i] = clamp01(p->brightness * im[i]);
            } else if (op == 1 && p->contrast != 1.0f) {
                double mean = 0;
                for (int i = 0; i < np; i++)
                    mean += C == 3 ? gray(im, np, i) : im[i];
                mean /= np;
                for (int i = 0; i < C * np; i++)
                    im[i] = clamp01(p->contrast * im[i] + (1 - (double)p->contrast) * mean);
            } else if (op == 2 && p->saturation != 1.0f && C == 3) {
                for (int i = 0; i < np; i++) {
                    double l = gray(im, np, i);
                    for (int c = 0; c < 3; c++)
                        im[c * np + i] =
                            clamp01(p->saturation * im[c * np + i] + (1 - (double)p->saturation) * l);
                }
            } else if (op == 3 && p->hue != 0.0f && C == 3) {
                for (int i = 0; i < np; i++) {
                    double px[3] = {im[i], im[np + i], im[2 * np + i]};
                    hue(px, p->hue);
                    for (int c = 0; c < 3; c++)
                        im[c * np + i] = px[c];
                }
            }
        }
    }
    if (p->gray && C == 3)
        for (int i = 0; i < np; i++) {
            double l = gray(im, np, i);
            im[i] = im[np + i] = im[2 * np + i] = l;
        }
    if (p->blur)
        ref_augment_blur(im, C, S, hvp_view_blur_kernel(sl), p->sigma);
    for (int c = 0; c < out_c; c++)
        for (int i = 0; i < np; i++) {
            double v = C == 3 && out_c == 1 ? gray(im, np, i) : im[(size_t)(C == 1 ? 0 : c) * np + i];
            if (p->solarize && v >= 0.5)
                v = 1 - v;
            out[(size_t)c * np + i] = (v - sl->mean[c]) / sl->std[c];
        }
    free(im);
    free(wy);
    free(wx);
}
