#include "ref.h"

void ref_vit_mask_fwd(const double *c, const int *mask, const double *e, double *y, int B, int D,
                      int L)
{
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            for (int t = 0; t < L; t++) {
                size_t i = ((size_t)b * D + d) * L + t;
                y[i] = mask[b * L + t] ? e[d] : c[i];
            }
}
