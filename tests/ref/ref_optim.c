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

void ref_optim_list_step(const ref_optim_list *l, int kind, const double *lr, const double *wd,
                         double momentum, double beta1, double beta2, double eps, double eta,
                         int clip_lr, int exclude, int decay_all, int step)
{
    for (int i = 0; i < l->n; i++) {
        int grp = l->group ? l->group[i] : 0, nd = l->no_decay && l->no_decay[i];
        double wd_eff = nd && !decay_all ? 0 : wd[grp];
        if (kind == 0)
            ref_sgd_step(l->p[i], l->g[i], l->s1[i], l->numel[i], lr[grp], wd_eff, momentum);
        else if (kind == 1)
            ref_lars_step(l->p[i], l->g[i], l->s1[i], l->numel[i], lr[grp], wd[grp], momentum,
                          eta, eps, clip_lr, !(nd && exclude));
        else
            ref_adamw_step(l->p[i], l->g[i], l->s1[i], l->s2[i], l->numel[i], lr[grp], wd_eff,
                           beta1, beta2, eps, step);
    }
}

double ref_grad_norms(const ref_optim_list *l, double *norms)
{
    double total = 0;
    for (int i = 0; i < l->n; i++) {
        norms[i] = norm(l->g[i], l->numel[i]);
        total += norms[i] * norms[i];
    }
    return sqrt(total);
}
