#include <math.h>

#include "ref.h"

void ref_weight_norm_fwd(const double *v, const double *g, double *w, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const double *vr = v + (size_t)r * cols;
        double ss = 0;
        for (int j = 0; j < cols; j++)
            ss += vr[j] * vr[j];
        double s = g[r] / sqrt(ss);
        for (int j = 0; j < cols; j++)
            w[(size_t)r * cols + j] = vr[j] * s;
    }
}
