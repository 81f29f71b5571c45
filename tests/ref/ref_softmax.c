#include <math.h>

#include "ref.h"

void ref_softmax_fwd(const double *x, double scale, double *y, int m, int n)
{
    for (int i = 0; i < m; i++) {
        const double *xr = x + (size_t)i * n;
        double *yr = y + (size_t)i * n;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < n; j++)
            mx = fmax(mx, scale * xr[j]);
        for (int j = 0; j < n; j++)
            s += (yr[j] = exp(scale * xr[j] - mx));
        for (int j = 0; j < n; j++)
            yr[j] /= s;
    }
}
