/* The optimizers' formulas as PyTorch (and solo-learn for LARS) write them, in double. */
#include <math.h>

#include "ref.h"

void ref_sgd_step(double *p, const double *g, double *buf, size_t n, double lr, double wd,
                  double momentum)
{
    for (size_t i = 0; i < n; i++) {
        double d = g[i] + wd * p[i];
        if (momentum != 0) {
            buf[i] = momentum * buf[i] + d;
            d = buf[i];
        }
        p[i] -= lr * d;
    }
}

static double norm(const double *x, size_t n) { return sqrt(ref_sumsq(x, n)); }

void ref_lars_step(double *p, const double *g, double *buf, size_t n, double lr, double wd,
                   double momentum, double eta, double eps, int clip_lr, int adapt)
{
    double pn = norm(p, n), gn = norm(g, n), ratio = 1, decay = 0;
    if (adapt && pn != 0 && gn != 0) {
        ratio = pn / (gn + pn * wd + eps) * eta;
        if (clip_lr)
            ratio = fmin(ratio / lr, 1);
        decay = wd;
    }
    for (size_t i = 0; i < n; i++) {
        double d = (g[i] + decay * p[i]) * ratio;
        if (momentum != 0) {
            buf[i] = momentum * buf[i] + d;
            d = buf[i];
        }
        p[i] -= lr * d;
    }
}

void ref_adamw_step(double *p, const double *g, double *m, double *v, size_t n, double lr,
                    double wd, double beta1, double beta2, double eps, int step)
{
    double bc1 = 1 - pow(beta1, step), bc2 = 1 - pow(beta2, step);
    for (size_t i = 0; i < n; i++) {
        p[i] *= 1 - lr * wd;
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + eps);
    }
}
