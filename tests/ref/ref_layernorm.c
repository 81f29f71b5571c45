#include <math.h>

#include "ref.h"

/* mean / rstd may be NULL. */
void ref_layernorm_fwd(const double *x, const double *w, const double *b, double eps, double *y,
                       double *mean, double *rstd, int m, int d)
{
    for (int i = 0; i < m; i++) {
        const double *xr = x + (size_t)i * d;
        double mu = 0, var = 0;
        for (int j = 0; j < d; j++)
            mu += xr[j];
        mu /= d;
        for (int j = 0; j < d; j++)
            var += (xr[j] - mu) * (xr[j] - mu);
        var /= d;
        double r = 1.0 / sqrt(var + eps);
        for (int j = 0; j < d; j++)
            y[(size_t)i * d + j] = (xr[j] - mu) * r * (w ? w[j] : 1.0) + (b ? b[j] : 0.0);
        if (mean)
            mean[i] = mu;
        if (rstd)
            rstd[i] = r;
    }
}
