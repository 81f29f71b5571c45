#include "ref.h"

void ref_avgpool_fwd(const double *x, double *y, int n, int c, int hw)
{
    for (int i = 0; i < n * c; i++) {
        double s = 0;
        for (int j = 0; j < hw; j++)
            s += x[(size_t)i * hw + j];
        y[i] = s / hw;
    }
}
