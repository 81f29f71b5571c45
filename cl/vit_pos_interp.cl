/* A ViT's position embedding at another patch grid, as DINO's interpolate_pos_encoding: pos
 * [1 + G*G, D] (class row first, then the G x G grid row-major) -> out [1 + g*g, D], the
 * class row copied and the grid resized by PyTorch's bicubic (A = -0.75, align_corners
 * False, source indices clamped at the border): output index o reads source coordinate
 * scale (o + 0.5) - 0.5. The backward accumulates into dpos, each element summing its
 * output taps in a fixed order (no atomics). */

#define CUBIC_A (-0.75f)

static float cubic1(float x) /* |x| <= 1 */
{
    return ((CUBIC_A + 2.0f) * x - (CUBIC_A + 3.0f)) * x * x + 1.0f;
}

static float cubic2(float x) /* 1 < |x| < 2 */
{
    return ((CUBIC_A * x - 5.0f * CUBIC_A) * x + 8.0f * CUBIC_A) * x - 4.0f * CUBIC_A;
}

/* The four taps of output index o: the first source index (unclamped) and the weights, as
 * PyTorch's guard_index_and_lambda and get_cubic_upsample_coefficients. */
static int taps(int o, float scale, int in, float *w)
{
    float real = scale * ((float)o + 0.5f) - 0.5f;
    int i0 = min((int)floor(real), in - 1);
    float t = clamp(real - (float)i0, 0.0f, 1.0f), t2 = 1.0f - t;
    w[0] = cubic2(t + 1.0f);
    w[1] = cubic1(t);
    w[2] = cubic1(t2);
    w[3] = cubic2(t2 + 1.0f);
    return i0 - 1;
}

/* The weight output index o gives source index s (its taps clamped to [0, in)). */
static float weight_of(int o, int s, float scale, int in)
{
    float w[4];
    int first = taps(o, scale, in, w);
    float sum = 0.0f;
    for (int k = 0; k < 4; k++)
        if (clamp(first + k, 0, in - 1) == s)
            sum += w[k];
    return sum;
}

kernel void vit_pos_interp_fwd(int D, int G, int g, float scale, global const float *pos,
                               int pos_off, global float *out, int out_off)
{
    int i = get_global_id(0);
    if (i >= (1 + g * g) * D)
        return;
    int t = i / D, d = i - t * D;
    if (t == 0) {
        out[out_off + i] = pos[pos_off + d];
        return;
    }
    int oy = (t - 1) / g, ox = (t - 1) - oy * g;
    float wy[4], wx[4];
    int y0 = taps(oy, scale, G, wy), x0 = taps(ox, scale, G, wx);
    float acc = 0.0f;
    for (int j = 0; j < 4; j++) {
        int sy = clamp(y0 + j, 0, G - 1);
        float row = 0.0f;
        for (int k = 0; k < 4; k++)
            row += wx[k] * pos[pos_off + (1 + sy * G + clamp(x0 + k, 0, G - 1)) * D + d];
        acc += wy[j] * row;
    }
    out[out_off + i] = acc;
}

kernel void vit_pos_interp_bwd(int D, int G, int g, float scale, global const float *dout,
                               int dout_off, global float *dpos, int dpos_off)
{
    int i = get_global_id(0);
    if (i >= (1 + G * G) * D)
        return;
    int s = i / D, d = i - s * D;
    if (s == 0) {
        dpos[dpos_off + i] += dout[dout_off + d];
        return;
    }
    int sy = (s - 1) / G, sx = (s - 1) - sy * G;
    float acc = 0.0f;
    for (int oy = 0; oy < g; oy++) {
        float wy = weight_of(oy, sy, scale, G);
        if (wy == 0.0f)
            continue;
        float row = 0.0f;
        for (int ox = 0; ox < g; ox++) {
            float wx = weight_of(ox, sx, scale, G);
            if (wx != 0.0f)
                row += wx * dout[dout_off + (1 + oy * g + ox) * D + d];
        }
        acc += wy * row;
    }
    dpos[dpos_off + i] += acc;
}
