#include "ref.h"

void ref_conv2d_fwd(const double *x, const double *w, const double *b, double *y, int n,
                    int c_in, int h, int wd, int c_out, int kh, int kw, int stride, int pad)
{
    int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < c_out; o++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double s = b ? b[o] : 0.0;
                    for (int c = 0; c < c_in; c++)
                        for (int ki = 0; ki < kh; ki++) {
                            int ih = oh * stride - pad + ki;
                            if (ih < 0 || ih >= h)
                                continue;
                            for (int kj = 0; kj < kw; kj++) {
                                int iw = ow * stride - pad + kj;
                                if (iw < 0 || iw >= wd)
                                    continue;
                                s += x[((size_t)(i * c_in + c) * h + ih) * wd + iw] *
                                     w[((size_t)(o * c_in + c) * kh + ki) * kw + kj];
                            }
                        }
                    y[((size_t)(i * c_out + o) * ho + oh) * wo + ow] = s;
                }
}

void ref_conv2d_bwd(const double *x, const double *w, const double *dy, double *dx, double *dw,
                    int n, int c_in, int h, int wd, int c_out, int kh, int kw, int stride,
                    int pad)
{
    int ho = (h + 2 * pad - kh) / stride + 1, wo = (wd + 2 * pad - kw) / stride + 1;
    for (size_t j = 0; j < (size_t)n * c_in * h * wd; j++)
        dx[j] = 0.0;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < c_out; o++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++) {
                    double g = dy[((size_t)(i * c_out + o) * ho + oh) * wo + ow];
                    for (int c = 0; c < c_in; c++)
                        for (int ki = 0; ki < kh; ki++) {
                            int ih = oh * stride - pad + ki;
                            if (ih < 0 || ih >= h)
                                continue;
                            for (int kj = 0; kj < kw; kj++) {
                                int iw = ow * stride - pad + kj;
                                if (iw < 0 || iw >= wd)
                                    continue;
                                size_t xi = ((size_t)(i * c_in + c) * h + ih) * wd + iw;
                                size_t wi = ((size_t)(o * c_in + c) * kh + ki) * kw + kj;
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                        }
                }
}
