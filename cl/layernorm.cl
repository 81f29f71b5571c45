/* Layer norm over the last dimension of [rows, d]:
 *   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps)  (biased variance).
 * Row kernels run one work-group per row (any local size: see group_sum); the parameter
 * gradients are column sums over the rows, one work-item per column, rows in order. */

/* has_w / has_b: 0 when the affine weight / bias is absent (their pointers are then unused). */
kernel void layernorm_fwd(int rows, int d, float eps, global const float *x, int x_off,
                          global const float *w, int w_off, int has_w, global const float *b,
                          int b_off, int has_b, global float *y, int y_off, global float *mean,
                          int mean_off, global float *rstd, int rstd_off, local float *buf)
{
    int row = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    int valid = row < rows;
    if (!valid) /* no early return before a barrier (PoCL crashes on one): an empty row */
        d = 0;
    global const float *xr = x + x_off + (size_t)row * d;
    global float *yr = y + y_off + (size_t)row * d;
    float s = 0.0f;
    for (int j = lid; j < d; j += lsz)
        s += xr[j];
    float mu = group_sum(s, buf) / (float)d;
    float q = 0.0f;
    for (int j = lid; j < d; j += lsz) {
        float c = xr[j] - mu;
        q += c * c;
    }
    float r = rsqrt(group_sum(q, buf) / (float)d + eps);
    for (int j = lid; j < d; j += lsz) {
        float v = (xr[j] - mu) * r;
        if (has_w)
            v *= w[w_off + j];
        if (has_b)
            v += b[b_off + j];
        yr[j] = v;
    }
    if (valid && lid == 0) {
        mean[mean_off + row] = mu;
        rstd[rstd_off + row] = r;
    }
}

/* dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, xhat = (x - mean) * rstd.
 * dx may be dy (each work-item rereads only the elements it writes). */
kernel void layernorm_bwd_dx(int rows, int d, global const float *x, int x_off,
                             global const float *w, int w_off, int has_w,
                             global const float *mean, int mean_off, global const float *rstd,
                             int rstd_off, global const float *dy, int dy_off, global float *dx,
                             int dx_off, local float *buf)
{
    int row = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    global const float *xr = x + x_off + (size_t)row * d;
    global const float *dyr = dy + dy_off + (size_t)row * d;
    global float *dxr = dx + dx_off + (size_t)row * d;
    float mu = 0.0f, r = 0.0f;
    if (row < rows) {
        mu = mean[mean_off + row];
        r = rstd[rstd_off + row];
    } else { /* no early return before a barrier (PoCL crashes on one): an empty row */
        d = 0;
    }
    float sg = 0.0f, sgx = 0.0f;
    for (int j = lid; j < d; j += lsz) {
        float g = dyr[j];
        if (has_w)
            g *= w[w_off + j];
        sg += g;
        sgx += g * (xr[j] - mu) * r;
    }
    float mg = group_sum(sg, buf) / (float)d;
    float mgx = group_sum(sgx, buf) / (float)d;
    for (int j = lid; j < d; j += lsz) {
        float g = dyr[j];
        if (has_w)
            g *= w[w_off + j];
        dxr[j] = r * (g - mg - (xr[j] - mu) * r * mgx);
    }
}

/* dw[j] += sum_rows dy * xhat, db[j] += sum_rows dy (has_dw / has_db select which). */
kernel void layernorm_bwd_params(int rows, int d, global const float *x, int x_off,
                                 global const float *mean, int mean_off,
                                 global const float *rstd, int rstd_off, global const float *dy,
                                 int dy_off, global float *dw, int dw_off, int has_dw,
                                 global float *db, int db_off, int has_db)
{
    int j = get_global_id(0);
    if (j >= d)
        return;
    float sw = 0.0f, sb = 0.0f;
    for (int r = 0; r < rows; r++) {
        float g = dy[dy_off + (size_t)r * d + j];
        sw += g * (x[x_off + (size_t)r * d + j] - mean[mean_off + r]) * rstd[rstd_off + r];
        sb += g;
    }
    if (has_dw)
        dw[dw_off + j] += sw;
    if (has_db)
        db[db_off + j] += sb;
}
