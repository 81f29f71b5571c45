/* ViT token embedding: the patch convolution's output c [B, D, L] (L = h*w patches) becomes
 * tokens y [B, L+1, D] with the class token first and the position embedding added:
 * y[b, 0, :] = cls + pos[0], y[b, 1+t, :] = c[b, :, t] + pos[1+t]. The backward splits the
 * token gradient back: dc (overwritten, transposed), dcls and dpos (accumulated; sums over
 * the batch in increasing b, no atomics). */

kernel void vit_embed_fwd(int B, int D, int L, global const float *c, int c_off,
                          global const float *cls, int cls_off, global const float *pos,
                          int pos_off, global float *y, int y_off)
{
    int g = get_global_id(0);
    int per = (L + 1) * D;
    if (g >= B * per)
        return;
    int b = g / per, r = g - b * per, t = r / D, d = r - t * D;
    float v = t == 0 ? cls[cls_off + d] : c[c_off + (b * D + d) * L + (t - 1)];
    y[y_off + g] = v + pos[pos_off + r];
}

/* dc[b, d, t] = dy[b, 1+t, d] */
kernel void vit_embed_bwd_c(int B, int D, int L, global const float *dy, int dy_off,
                            global float *dc, int dc_off)
{
    int g = get_global_id(0);
    if (g >= B * D * L)
        return;
    int b = g / (D * L), r = g - b * D * L, d = r / L, t = r - d * L;
    dc[dc_off + g] = dy[dy_off + (b * (L + 1) + 1 + t) * D + d];
}

/* dpos[t, d] += sum_b dy[b, t, d]; for t == 0 also dcls[d] += the same sum. */
kernel void vit_embed_bwd_params(int B, int D, int L, global const float *dy, int dy_off,
                                 global float *dcls, int dcls_off, global float *dpos,
                                 int dpos_off)
{
    int g = get_global_id(0);
    int per = (L + 1) * D;
    if (g >= per)
        return;
    float s = 0.0f;
    for (int b = 0; b < B; b++)
        s += dy[dy_off + b * per + g];
    dpos[dpos_off + g] += s;
    if (g < D)
        dcls[dcls_off + g] += s;
}

/* The class-token rows of tokens x [B, T, D]: y[b, :] = x[b, 0, :]. */
kernel void vit_embed_cls_fwd(int B, int T, int D, global const float *x, int x_off,
                              global float *y, int y_off)
{
    int g = get_global_id(0);
    if (g >= B * D)
        return;
    int b = g / D, d = g - b * D;
    y[y_off + g] = x[x_off + b * T * D + d];
}

/* dx[b, t, :] = dy[b, :] for t == 0, else 0. */
kernel void vit_embed_cls_bwd(int B, int T, int D, global const float *dy, int dy_off,
                              global float *dx, int dx_off)
{
    int g = get_global_id(0);
    if (g >= B * T * D)
        return;
    int b = g / (T * D), r = g - b * T * D;
    dx[dx_off + g] = r < D ? dy[dy_off + b * D + r] : 0.0f;
}
