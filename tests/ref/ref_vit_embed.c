#include "ref.h"

void ref_vit_embed_fwd(const double *c, const double *cls, const double *pos, double *y, int B,
                       int D, int L)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= L; t++)
            for (int d = 0; d < D; d++) {
                double v = t == 0 ? cls[d] : c[((size_t)b * D + d) * L + (t - 1)];
                y[((size_t)b * (L + 1) + t) * D + d] = v + pos[(size_t)t * D + d];
            }
}
