/* Layer norm over the last dimension of [rows, d]:
 *   y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps)  (biased variance).
 * Row kernels give each row one dimension-0 row of a work-group's items (any size: see
 * group_sum; hvp_launch_row_groups), which stride over it by VEC-element vectors
 * (cl/common.cl), then over its tail's scalars; the parameter gradients are column sums
 * over the rows in two levels with a fixed order. */

/* has_w / has_b: 0 when the affine weight / bias is absent (their pointers are then unused). */
kernel void layernorm_fwd(int rows, int d, float eps, global const float *x, int x_off,
                          global const float *w, int w_off, int has_w, global const float *b,
                          int b_off, int has_b, global float *y, int y_off, global float *mean,
                          int mean_off, global float *rstd, int rstd_off, local float *buf)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    int valid = row < rows;
    if (!valid) /* no early return before a barrier (PoCL crashes on one): an empty row */
        d = 0;
    int xo = x_off + row * d, yo = y_off + row * d, nv = d / VEC, al = vec_aligned(xo | yo);
    int alw = vec_aligned(w_off), alb = vec_aligned(b_off);
    x += xo;
    y += yo;
    w += w_off;
    b += b_off;
    floatv sv = 0.0f;
    for (int v = lid; v < nv; v += lsz)
        sv += loadv(x, v, al);
    float s = hsum(sv);
    for (int j = VEC * nv + lid; j < d; j += lsz)
        s += x[j];
    float mu = group_sum(s, buf) / (float)d;
    floatv qv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv c = loadv(x, v, al) - mu;
        qv += c * c;
    }
    float q = hsum(qv);
    for (int j = VEC * nv + lid; j < d; j += lsz)
        q += (x[j] - mu) * (x[j] - mu);
    float r = rsqrt(group_sum(q, buf) / (float)d + eps);
    for (int v = lid; v < nv; v += lsz) {
        floatv t = (loadv(x, v, al) - mu) * r;
        if (has_w)
            t *= loadv(w, v, alw);
        if (has_b)
            t += loadv(b, v, alb);
        storev(t, y, v, al);
    }
    for (int j = VEC * nv + lid; j < d; j += lsz) {
        float t = (x[j] - mu) * r;
        if (has_w)
            t *= w[j];
        if (has_b)
            t += b[j];
        y[j] = t;
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
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    float mu = 0.0f, r = 0.0f;
    if (row < rows) {
        mu = mean[mean_off + row];
        r = rstd[rstd_off + row];
    } else { /* no early return before a barrier (PoCL crashes on one): an empty row */
        d = 0;
    }
    int xo = x_off + row * d, dyo = dy_off + row * d, dxo = dx_off + row * d, nv = d / VEC;
    int al = vec_aligned(xo | dyo | dxo), alw = vec_aligned(w_off);
    x += xo;
    dy += dyo;
    dx += dxo;
    w += w_off;
    floatv sgv = 0.0f, sgxv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv g = has_w ? loadv(dy, v, al) * loadv(w, v, alw) : loadv(dy, v, al);
        sgv += g;
        sgxv += g * (loadv(x, v, al) - mu) * r;
    }
    float sg = hsum(sgv), sgx = hsum(sgxv);
    for (int j = VEC * nv + lid; j < d; j += lsz) {
        float g = has_w ? dy[j] * w[j] : dy[j];
        sg += g;
        sgx += g * (x[j] - mu) * r;
    }
    float mg = group_sum(sg, buf) / (float)d;
    float mgx = group_sum(sgx, buf) / (float)d;
    for (int v = lid; v < nv; v += lsz) {
        floatv g = has_w ? loadv(dy, v, al) * loadv(w, v, alw) : loadv(dy, v, al);
        storev(r * (g - mg - (loadv(x, v, al) - mu) * r * mgx), dx, v, al);
    }
    for (int j = VEC * nv + lid; j < d; j += lsz) {
        float g = has_w ? dy[j] * w[j] : dy[j];
        dx[j] = r * (g - mg - (x[j] - mu) * r * mgx);
    }
}

/* layernorm_fwd and layernorm_bwd_dx with one work-item per row and no work-group
 * reductions, for CPUs (hvp_row_per_item): PoCL runs kernels with barriers as loops over
 * the group's items between them (see softmax_fwd_item). */
kernel void layernorm_fwd_item(int rows, int d, float eps, global const float *x, int x_off,
                               global const float *w, int w_off, int has_w,
                               global const float *b, int b_off, int has_b, global float *y,
                               int y_off, global float *mean, int mean_off, global float *rstd,
                               int rstd_off)
{
    int row = get_global_id(0);
    if (row >= rows)
        return;
    int xo = x_off + row * d, yo = y_off + row * d, nv = d / VEC, al = vec_aligned(xo | yo);
    int alw = vec_aligned(w_off), alb = vec_aligned(b_off);
    x += xo;
    y += yo;
    w += w_off;
    b += b_off;
    floatv sv = 0.0f;
    for (int v = 0; v < nv; v++)
        sv += loadv(x, v, al);
    float s = hsum(sv);
    for (int j = VEC * nv; j < d; j++)
        s += x[j];
    float mu = s / (float)d;
    floatv qv = 0.0f;
    for (int v = 0; v < nv; v++) {
        floatv c = loadv(x, v, al) - mu;
        qv += c * c;
    }
    float q = hsum(qv);
    for (int j = VEC * nv; j < d; j++)
        q += (x[j] - mu) * (x[j] - mu);
    float r = rsqrt(q / (float)d + eps);
    for (int v = 0; v < nv; v++) {
        floatv t = (loadv(x, v, al) - mu) * r;
        if (has_w)
            t *= loadv(w, v, alw);
        if (has_b)
            t += loadv(b, v, alb);
        storev(t, y, v, al);
    }
    for (int j = VEC * nv; j < d; j++) {
        float t = (x[j] - mu) * r;
        if (has_w)
            t *= w[j];
        if (has_b)
            t += b[j];
        y[j] = t;
    }
    mean[mean_off + row] = mu;
    rstd[rstd_off + row] = r;
}

kernel void layernorm_bwd_dx_item(int rows, int d, global const float *x, int x_off,
                                  global const float *w, int w_off, int has_w,
                                  global const float *mean, int mean_off,
                                  global const float *rstd, int rstd_off,
                                  global const float *dy, int dy_off, global float *dx,
                                  int dx_off)
{
    int row = get_global_id(0);
    if (row >= rows)
        return;
    float mu = mean[mean_off + row], r = rstd[rstd_off + row];
    int xo = x_off + row * d, dyo = dy_off + row * d, dxo = dx_off + row * d, nv = d / VEC;
    int al = vec_aligned(xo | dyo | dxo), alw = vec_aligned(w_off);
    x += xo;
    dy += dyo;
    dx += dxo;
    w += w_off;
    floatv sgv = 0.0f, sgxv = 0.0f;
    for (int v = 0; v < nv; v++) {
        floatv g = has_w ? loadv(dy, v, al) * loadv(w, v, alw) : loadv(dy, v, al);
        sgv += g;
        sgxv += g * (loadv(x, v, al) - mu) * r;
    }
    float sg = hsum(sgv), sgx = hsum(sgxv);
    for (int j = VEC * nv; j < d; j++) {
        float g = has_w ? dy[j] * w[j] : dy[j];
        sg += g;
        sgx += g * (x[j] - mu) * r;
    }
    float mg = sg / (float)d, mgx = sgx / (float)d;
    for (int v = 0; v < nv; v++) {
        floatv g = has_w ? loadv(dy, v, al) * loadv(w, v, alw) : loadv(dy, v, al);
        storev(r * (g - mg - (loadv(x, v, al) - mu) * r * mgx), dx, v, al);
    }
    for (int j = VEC * nv; j < d; j++) {
        float g = has_w ? dy[j] * w[j] : dy[j];
        dx[j] = r * (g - mg - (x[j] - mu) * r * mgx);
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

/* layernorm_bwd_params' first level for CPUs (ctx->row_per_item), launched as (chunks):
 * item g streams chunk g's rows front to back, adding each row's terms into row g of the
 * partials, which stay in its cache, instead of walking down columns (1.5-3x faster on
 * PoCL); the same sums in the same order. */
kernel void layernorm_bwd_params_rows(int rows, int d, int chunk, global const float *x,
                                      int x_off, global const float *mean, int mean_off,
                                      global const float *rstd, int rstd_off,
                                      global const float *dy, int dy_off, global float *dw,
                                      int dw_off, int has_dw, global float *db, int db_off,
                                      int has_db)
{
    int g = get_global_id(0), r0 = g * chunk, r1 = min(rows, r0 + chunk), nv = d / VEC;
    if (r0 >= rows)
        return;
    x += x_off;
    dy += dy_off;
    mean += mean_off;
    rstd += rstd_off;
    dw += dw_off + g * d;
    db += db_off + g * d;
    int al = vec_aligned(x_off | dy_off | d), alw = vec_aligned(dw_off | d);
    int alb = vec_aligned(db_off | d);
    for (int r = r0; r < r1; r++) {
        const global float *xr = x + r * d, *gr = dy + r * d;
        float m = mean[r], rs = rstd[r];
        int add = r > r0;
        for (int v = 0; v < nv; v++) {
            floatv gv = loadv(gr, v, al);
            if (has_dw)
                put_or_add(gv * (loadv(xr, v, al) - m) * rs, dw, v, add, alw);
            if (has_db)
                put_or_add(gv, db, v, add, alb);
        }
        for (int j = VEC * nv; j < d; j++) { /* the last columns, one at a time */
            float gv = gr[j], tw = gv * (xr[j] - m) * rs;
            if (has_dw)
                dw[j] = add ? dw[j] + tw : tw;
            if (has_db)
                db[j] = add ? db[j] + gv : gv;
        }
    }
}
