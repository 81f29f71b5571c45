/* The linear probe (src/eval/linear.c) step by step in double: standardisation as
 * BatchNorm1d(affine=False), zero-initialised linear layer, softmax cross-entropy, SGD with
 * momentum 0.9 and a cosine schedule over the epochs' shuffled mini-batches. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/data.h"
#include "ref.h"

static void standardise(double *x, int rows, int d, const double *mean, const double *var)
{
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < d; j++)
            x[(size_t)i * d + j] = (x[(size_t)i * d + j] - mean[j]) / sqrt(var[j] + 1e-5);
}

static void logits_of(const double *x, int rows, int d, const double *w, const double *b,
                      int c, double *z)
{
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < c; k++) {
            double s = b[k];
            for (int j = 0; j < d; j++)
                s += x[(size_t)i * d + j] * w[(size_t)k * d + j];
            z[(size_t)i * c + k] = s;
        }
}

void ref_linear_probe(double *train, const int *labels, int n, int d, double *test, int m,
                      int c, int epochs, int batch, double lr, uint64_t seed, double *test_logits,
                      double *last_loss)
{
    double *mean = calloc((size_t)d, sizeof *mean), *var = calloc((size_t)d, sizeof *var);
    double *var_unbiased = calloc((size_t)d, sizeof *var_unbiased);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mean[j] += train[(size_t)i * d + j] / n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double e = train[(size_t)i * d + j] - mean[j];
            var[j] += e * e / n;
        }
    for (int j = 0; j < d; j++)
        var_unbiased[j] = var[j] * n / (n - 1);
    standardise(train, n, d, mean, var);
    standardise(test, m, d, mean, var_unbiased);

    double *w = calloc((size_t)c * d, sizeof *w), *b = calloc((size_t)c, sizeof *b);
    double *bw = calloc((size_t)c * d, sizeof *bw), *bb = calloc((size_t)c, sizeof *bb);
    double *gw = malloc((size_t)c * d * sizeof *gw), *gb = malloc((size_t)c * sizeof *gb);
    double *x = malloc((size_t)batch * d * sizeof *x), *z = malloc((size_t)batch * c * sizeof *z);
    double *loss = malloc((size_t)batch * sizeof *loss);
    int *y = malloc((size_t)batch * sizeof *y);
    int64_t *order = malloc((size_t)n * sizeof *order);
    long steps = n / batch, total = steps * epochs, step = 0;
    for (int e = 0; e < epochs; e++) {
        hvp_loader_order(n, seed, e, 1, 0, 1, order);
        for (long s = 0; s < steps; s++, step++) {
            for (int i = 0; i < batch; i++) {
                memcpy(x + (size_t)i * d, train + (size_t)order[s * batch + i] * d,
                       (size_t)d * sizeof *x);
                y[i] = labels[order[s * batch + i]];
            }
            logits_of(x, batch, d, w, b, c, z);
            ref_cross_entropy_fwd(z, y, NULL, batch, c, 1.0, loss);
            *last_loss = 0;
            for (int i = 0; i < batch; i++)
                *last_loss += loss[i] / batch;
            memset(gw, 0, (size_t)c * d * sizeof *gw);
            memset(gb, 0, (size_t)c * sizeof *gb);
            for (int i = 0; i < batch; i++) {
                double top = z[(size_t)i * c], sum = 0;
                for (int k = 1; k < c; k++)
                    top = fmax(top, z[(size_t)i * c + k]);
                for (int k = 0; k < c; k++)
                    sum += exp(z[(size_t)i * c + k] - top);
                for (int k = 0; k < c; k++) {
                    double g = (exp(z[(size_t)i * c + k] - top) / sum - (k == y[i])) / batch;
                    gb[k] += g;
                    for (int j = 0; j < d; j++)
                        gw[(size_t)k * d + j] += g * x[(size_t)i * d + j];
                }
            }
            double lr_t = lr * batch / 256.0 * 0.5 * (1.0 + cos(M_PI * step / total));
            ref_sgd_step(w, gw, bw, (size_t)c * d, lr_t, 0, 0.9);
            ref_sgd_step(b, gb, bb, (size_t)c, lr_t, 0, 0.9);
        }
    }
    logits_of(test, m, d, w, b, c, test_logits);
    free(mean), free(var), free(var_unbiased), free(w), free(b), free(bw), free(bb);
    free(gw), free(gb), free(x), free(z), free(loss), free(y), free(order);
}
