/* Weight normalisation over the rows of v (torch.nn.utils.weight_norm, dim=0):
 * w[o, :] = g[o] * v[o, :] / ||v[o, :]||, one work-group per row. No eps, as PyTorch's
 * norm_except_dim (a zero row gives NaN there too). */

kernel void weight_norm_fwd(int rows, int cols, global const float *v, int v_off,
                            global const float *g, int g_off, global float *w, int w_off,
                            local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows) /* uniform over the group */
        return;
    const global float *vr = v + v_off + (size_t)r * cols;
    global float *wr = w + w_off + (size_t)r * cols;
    float ss = 0.0f;
    for (int j = lid; j < cols; j += l)
        ss += vr[j] * vr[j];
    float s = g[g_off + r] / sqrt(group_sum(ss, scratch));
    for (int j = lid; j < cols; j += l)
        wr[j] = vr[j] * s;
}

/* With n = ||v||, u = v / n and p = u . dw: dv += g / n * (dw - u p), dg += p (when
 * has_dg). Both are parameter gradients, so both accumulate. */
kernel void weight_norm_bwd(int rows, int cols, global const float *v, int v_off,
                            global const float *g, int g_off, global const float *dw, int dw_off,
                            global float *dv, int dv_off, int has_dg, global float *dg,
                            int dg_off, local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *vr = v + v_off + (size_t)r * cols;
    const global float *dwr = dw + dw_off + (size_t)r * cols;
    global float *dvr = dv + dv_off + (size_t)r * cols;
    float ss = 0.0f, vd = 0.0f;
    for (int j = lid; j < cols; j += l) {
        ss += vr[j] * vr[j];
        vd += vr[j] * dwr[j];
    }
    float n = sqrt(group_sum(ss, scratch));
    float p = group_sum(vd, scratch) / n; /* u . dw */
    float s = g[g_off + r] / n;
    for (int j = lid; j < cols; j += l)
        dvr[j] += s * (dwr[j] - vr[j] / n * p);
    if (has_dg && lid == 0)
        dg[dg_off + r] += p;
}
