/* iBOT's masked image modelling input (official VisionTransformer.mask_model): patch
 * features c [B, D, L] (the NCHW patch-convolution output, L = h*w) with mask [B, L]
 * (I32, non-zero: masked) become y[b, d, t] = mask[b, t] ? e[d] : c[b, d, t], e the learnable
 * masked_embed [D]. y may be c. Backward: dc = mask ? 0 : dy (overwritten, may be dy),
 * de[d] += the sum over masked (b, t) of dy[b, d, t], in increasing b then t (no atomics). */

kernel void vit_mask_fwd(int B, int D, int L, global const float *c, int c_off,
                         global const int *mask, int mask_off, global const float *e, int e_off,
                         global float *y, int y_off)
{
    int g = get_global_id(0);
    if (g >= B * D * L)
        return;
    int b = g / (D * L), r = g - b * D * L, d = r / L, t = r - d * L;
    y[y_off + g] = mask[mask_off + b * L + t] != 0 ? e[e_off + d] : c[c_off + g];
}

kernel void vit_mask_bwd_c(int B, int D, int L, global const float *dy, int dy_off,
                           global const int *mask, int mask_off, global float *dc, int dc_off)
{
    int g = get_global_id(0);
    if (g >= B * D * L)
        return;
    int b = g / (D * L), r = g - b * D * L, t = r - (r / L) * L;
    dc[dc_off + g] = mask[mask_off + b * L + t] != 0 ? 0.0f : dy[dy_off + g];
}

kernel void vit_mask_bwd_e(int B, int D, int L, global const float *dy, int dy_off,
                           global const int *mask, int mask_off, global float *de, int de_off)
{
    int d = get_global_id(0);
    if (d >= D)
        return;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            if (mask[mask_off + b * L + t] != 0)
                s += dy[dy_off + (b * D + d) * L + t];
    de[de_off + d] += s;
}
