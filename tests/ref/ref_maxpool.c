#include <math.h>

#include "ref.h"

void ref_maxpool_fwd(const double *x, double *y, int *idx, int n, int c, int h, int w, int k,
                     int s, int p)
{
    int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
    for (int pl = 0; pl < n * c; pl++)
        for (int oh = 0; oh < ho; oh++)
            for (int ow = 0; ow < wo; ow++) {
                double best = -INFINITY;
                int arg = -1;
                for (int ki = 0; ki < k; ki++)
                    for (int kj = 0; kj < k; kj++) {
                        int ih = oh * s - p + ki, iw = ow * s - p + kj;
                        if (ih < 0 || ih >= h || iw < 0 || iw >= w)
                            continue;
                        double v = x[((size_t)pl * h + ih) * w + iw];
                        if (arg < 0 || v > best) {
                            best = v;
                            arg = ih * w + iw;
                        }
                    }
                size_t o = ((size_t)pl * ho + oh) * wo + ow;
                y[o] = best;
                if (idx)
                    idx[o] = arg;
            }
}
