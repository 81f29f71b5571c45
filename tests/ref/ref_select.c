/* References of gather, argmax, top-k and the whole-tensor reductions. */
#include <math.h>

#include "ref.h"

void ref_gather_fwd(const double *x, const int *idx, double *y, int n, int cols)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < cols; c++)
            y[(size_t)i * cols + c] = x[(size_t)idx[i] * cols + c];
}

void ref_argmax_fwd(const double *x, int *idx, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const double *xr = x + (size_t)r * cols;
        int bi = 0;
        for (int j = 1; j < cols && !isnan(xr[bi]); j++)
            if (isnan(xr[j]) || xr[j] > xr[bi])
                bi = j;
        idx[r] = bi;
    }
}

void ref_topk_rows(const double *x, int rows, int cols, int k, int *idx)
{
    for (int r = 0; r < rows; r++) {
        const double *xr = x + (size_t)r * cols;
        int *out = idx + (size_t)r * k;
        /* selection: the i-th pick is the first column of the largest value not yet taken */
        for (int i = 0; i < k; i++) {
            int best = -1;
            for (int c = 0; c < cols; c++) {
                int taken = 0;
                for (int j = 0; j < i; j++)
                    taken |= out[j] == c;
                if (!taken && (best < 0 || xr[c] > xr[best]))
                    best = c;
            }
            out[i] = best;
        }
    }
}

double ref_sum(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

double ref_sumsq(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return s;
}
