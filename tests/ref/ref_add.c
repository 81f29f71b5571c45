#include "ref.h"

void ref_add_fwd(const double *a, const double *b, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}
