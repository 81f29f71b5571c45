#include <math.h>
#include <stdlib.h>

#include "ref.h"

/* Straight from the definition, one (batch, head, query) at a time: qkv[b][t][p][h][e]. */
void ref_attention_fwd(const double *qkv, double *out, int B, int T, int H, int Dh)
{
    int D = H * Dh;
    double scale = 1.0 / sqrt((double)Dh);
    double *s = malloc((size_t)T * sizeof *s);
#define QKV(b, t, p, h, e) qkv[(((size_t)(b) * T + (t)) * 3 + (p)) * D + (size_t)(h) * Dh + (e)]
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < Dh; e++)
                        d += QKV(b, i, 0, h, e) * QKV(b, j, 1, h, e);
                    s[j] = d * scale;
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++)
                    sum += (s[j] = exp(s[j] - mx));
                for (int e = 0; e < Dh; e++) {
                    double o = 0;
                    for (int j = 0; j < T; j++)
                        o += s[j] / sum * QKV(b, j, 2, h, e);
                    out[((size_t)b * T + i) * D + (size_t)h * Dh + e] = o;
                }
            }
#undef QKV
    free(s);
}
