#include <math.h>

#include "ref.h"

void ref_cross_entropy_fwd(const double *z, const int *labels, const double *t, int rows,
                           int cols, double tau, double *loss)
{
    for (int r = 0; r < rows; r++) {
        const double *zr = z + (size_t)r * cols;
        double mx = -INFINITY, se = 0;
        for (int j = 0; j < cols; j++)
            mx = fmax(mx, zr[j] / tau);
        for (int j = 0; j < cols; j++)
            se += exp(zr[j] / tau - mx);
        double lse = mx + log(se);
        if (labels) {
            loss[r] = lse - zr[labels[r]] / tau;
        } else {
            double l = 0;
            for (int j = 0; j < cols; j++)
                l -= t[(size_t)r * cols + j] * (zr[j] / tau - lse);
            loss[r] = l;
        }
    }
}
