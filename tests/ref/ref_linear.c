#include "ref.h"

void ref_linear_fwd(const double *x, const double *w, const double *b, double *y, int m, int n,
                    int k)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = b ? b[j] : 0.0;
            for (int c = 0; c < k; c++)
                s += x[(size_t)i * k + c] * w[(size_t)j * k + c];
            y[(size_t)i * n + j] = s;
        }
}
