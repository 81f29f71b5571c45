#include <math.h>

#include "ref.h"

void ref_gelu_fwd(const double *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
}
