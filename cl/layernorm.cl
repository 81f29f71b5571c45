/* Layer norm over the last dimension of [rows, d]:
 *   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps)  (biased variance).
 * Row kernels run one work-group per row (any local size: see group_sum); the parameter
 * gradients are column sums over the rows in two levels with a fixed order. */

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

/* dw[j] += sum over rows of dy * xhat, db[j] += sum over rows of dy (has_dw / has_db select
 * which), in two levels like col_sums (cl/reduce.cl): item (v, g) sums columns
 * [VEC v, VEC v + VEC) over chunk g's rows in row order into row g of the partials dw, db
 * [chunks, d], or, when acc (one chunk), adds them to dw, db [d]. */
kernel void layernorm_bwd_params(int rows, int d, int chunk, global const float *x, int x_off,
                                 global const float *mean, int mean_off,
                                 global const float *rstd, int rstd_off, global const float *dy,
                                 int dy_off, global float *dw, int dw_off, int has_dw,
                                 global float *db, int db_off, int has_db, int acc)
{
    int v = get_global_id(0), g = get_global_id(1), r0 = g * chunk, r1 = min(rows, r0 + chunk);
    if (r0 >= rows)
        return;
    x += x_off;
    dy += dy_off;
    mean += mean_off;
    rstd += rstd_off;
    int part = acc ? 0 : g * d; /* the partials' row */
    dw += dw_off + part;
    db += db_off + part;
    if (VEC * v + VEC <= d) {
        int al = vec_aligned(x_off | dy_off | d);
        floatv sw = 0.0f, sb = 0.0f;
        for (int r = r0; r < r1; r++) {
            floatv gv = loadv(dy + r * d, v, al);
            sw += gv * (loadv(x + r * d, v, al) - mean[r]) * rstd[r];
            sb += gv;
        }
        if (has_dw)
            put_or_add(sw, dw, v, acc, vec_aligned(dw_off + part));
        if (has_db)
            put_or_add(sb, db, v, acc, vec_aligned(db_off + part));
    } else { /* the last columns, one at a time */
        for (int j = VEC * v; j < d; j++) {
            float sw = 0.0f, sb = 0.0f;
            for (int r = r0; r < r1; r++) {
                float gv = dy[r * d + j];
                sw += gv * (x[r * d + j] - mean[r]) * rstd[r];
                sb += gv;
            }
            if (has_dw)
                dw[j] = acc ? dw[j] + sw : sw;
            if (has_db)
                db[j] = acc ? db[j] + sb : sb;
        }
    }
}
