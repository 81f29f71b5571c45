#include <math.h>

#include "ref.h"

void ref_l2norm_fwd(const double *x, double *y, int rows, int cols, double eps)
{
    for (int r = 0; r < rows; r++) {
        const double *xr = x + (size_t)r * cols;
        double ss = 0;
        for (int j = 0; j < cols; j++)
            ss += xr[j] * xr[j];
        double d = fmax(sqrt(ss), eps);
        for (int j = 0; j < cols; j++)
            y[(size_t)r * cols + j] = xr[j] / d;
    }
}
