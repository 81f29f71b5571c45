#include <math.h>

#include "ref.h"

void ref_cosine_fwd(const double *a, const double *b, double *s, int rows, int cols, double eps)
{
    for (int r = 0; r < rows; r++) {
        const double *ar = a + (size_t)r * cols, *br = b + (size_t)r * cols;
        double aa = 0, bb = 0, ab = 0;
        for (int j = 0; j < cols; j++) {
            aa += ar[j] * ar[j];
            bb += br[j] * br[j];
            ab += ar[j] * br[j];
        }
        s[r] = ab / fmax(sqrt(aa), eps) / fmax(sqrt(bb), eps);
    }
}
