#include <math.h>

#include "ref.h"

void ref_batchnorm_fwd_train(const double *x, const double *gamma, const double *beta,
                             double *y, double *mean, double *var, int n, int c, int hw,
                             double eps)
{
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0, v = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++)
                s += x[((size_t)i * c + ch) * hw + j];
        double mu = s / m;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                double d = x[((size_t)i * c + ch) * hw + j] - mu;
                v += d * d;
            }
        v /= m;
        if (mean)
            mean[ch] = mu;
        if (var)
            var[ch] = v;
        double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                size_t e = ((size_t)i * c + ch) * hw + j;
                y[e] = (x[e] - mu) / sqrt(v + eps) * g + b;
            }
    }
}

void ref_batchnorm_fwd_eval(const double *x, const double *gamma, const double *beta,
                            const double *run_mean, const double *run_var, double *y, int n,
                            int c, int hw, double eps)
{
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            double g = gamma ? gamma[ch] : 1.0, b = beta ? beta[ch] : 0.0;
            for (int j = 0; j < hw; j++) {
                size_t e = ((size_t)i * c + ch) * hw + j;
                y[e] = (x[e] - run_mean[ch]) / sqrt(run_var[ch] + eps) * g + b;
            }
        }
}
