#include <math.h>

#include "ref.h"

static double cubic1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
static double cubic2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* PyTorch's bicubic taps of output index o (upsample_bicubic2d, align_corners False). */
static int taps(int o, double scale, int in, double *w)
{
    double real = scale * (o + 0.5) - 0.5, A = -0.75;
    int i0 = (int)floor(real);
    if (i0 > in - 1)
        i0 = in - 1;
    double t = real - i0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    w[0] = cubic2(t + 1, A);
    w[1] = cubic1(t, A);
    w[2] = cubic1(1 - t, A);
    w[3] = cubic2(2 - t, A);
    return i0 - 1;
}

void ref_vit_pos_interp_fwd(const double *pos, double *out, int D, int G, int g, double scale)
{
    for (int d = 0; d < D; d++)
        out[d] = pos[d];
    for (int oy = 0; oy < g; oy++)
        for (int ox = 0; ox < g; ox++) {
            double wy[4], wx[4];
            int y0 = taps(oy, scale, G, wy), x0 = taps(ox, scale, G, wx);
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int j = 0; j < 4; j++)
                    for (int k = 0; k < 4; k++) {
                        int sy = clampi(y0 + j, 0, G - 1), sx = clampi(x0 + k, 0, G - 1);
                        acc += wy[j] * wx[k] * pos[(size_t)(1 + sy * G + sx) * D + d];
                    }
                out[(size_t)(1 + oy * g + ox) * D + d] = acc;
            }
        }
}
