/* Row softmax over the last dimension of [rows, n], y = softmax(scale * x), numerically
 * stable (the row maximum is subtracted). Row get_global_id(1) belongs to the work-group's
 * items of that local row (hvp_launch_row_groups): they stride over it by VEC-element vectors
 * (cl/common.cl), then over its tail's scalars, and combine in their share of local memory
 * (group_sum / group_max over dimension 0, correct for any size). Every work-item reads and
 * writes the same elements in every pass, so y may be x and dx may be dy. */

kernel void softmax_fwd(int rows, int n, float scale, global const float *x, int x_off,
                        global float *y, int y_off, local float *buf)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        n = 0;
    int xo = x_off + row * n, yo = y_off + row * n, al = vec_aligned(xo | yo), nv = n / VEC;
    x += xo;
    y += yo;
    /* Items take whole vectors v = lid, lid + lsz, ... (combined lane-wise, then across the
     * lanes once), then the tail's scalars. */
    floatv mv = -INFINITY;
    for (int v = lid; v < nv; v += lsz)
        mv = fmax(mv, scale * loadv(x, v, al));
    float m = hmax(mv);
    for (int j = VEC * nv + lid; j < n; j += lsz)
        m = fmax(m, scale * x[j]);
    m = group_max(m, buf);
    floatv sv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv e = exp(scale * loadv(x, v, al) - m);
        storev(e, y, v, al);
        sv += e;
    }
    float s = hsum(sv);
    for (int j = VEC * nv + lid; j < n; j += lsz) {
        float e = exp(scale * x[j] - m);
        y[j] = e;
        s += e;
    }
    float inv = 1.0f / group_sum(s, buf);
    for (int v = lid; v < nv; v += lsz)
        storev(loadv(y, v, al) * inv, y, v, al);
    for (int j = VEC * nv + lid; j < n; j += lsz)
        y[j] *= inv;
}

/* dx = scale * y * (dy - sum_j dy_j y_j), from the forward's output. */
kernel void softmax_bwd(int rows, int n, float scale, global const float *y, int y_off,
                        global const float *dy, int dy_off, global float *dx, int dx_off,
                        local float *buf)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        n = 0;
    int yo = y_off + row * n, dyo = dy_off + row * n, dxo = dx_off + row * n, nv = n / VEC;
    int al = vec_aligned(yo | dyo | dxo);
    y += yo;
    dy += dyo;
    dx += dxo;
    floatv dv = 0.0f;
    for (int v = lid; v < nv; v += lsz)
        dv += loadv(dy, v, al) * loadv(y, v, al);
    float d = hsum(dv);
    for (int j = VEC * nv + lid; j < n; j += lsz)
        d += dy[j] * y[j];
    d = group_sum(d, buf);
    for (int v = lid; v < nv; v += lsz)
        storev(scale * loadv(y, v, al) * (loadv(dy, v, al) - d), dx, v, al);
    for (int j = VEC * nv + lid; j < n; j += lsz)
        dx[j] = scale * y[j] * (dy[j] - d);
}

/* softmax_fwd with one work-item per row and no work-group reductions, for CPUs when a row
 * is short enough for one item (hvp_row_per_item): PoCL runs a kernel with barriers as loops
 * over the group's items between them; without them the ViT-S attention softmax,
 * [37824, 197], takes 9.3 instead of 11.4 ms of CPU time (alternated runs, load 4). Its
 * time is the pass that stores y: neither a cheaper exp nor dropping the rescaling pass
 * changed it. */
kernel void softmax_fwd_item(int rows, int n, float scale, global const float *x, int x_off,
                             global float *y, int y_off)
{
    int row = get_global_id(0);
    if (row >= rows)
        return;
    int xo = x_off + row * n, yo = y_off + row * n, al = vec_aligned(xo | yo), nv = n / VEC;
    x += xo;
    y += yo;
    floatv mv = -INFINITY;
    for (int v = 0; v < nv; v++)
        mv = fmax(mv, scale * loadv(x, v, al));
    float m = hmax(mv);
    for (int j = VEC * nv; j < n; j++)
        m = fmax(m, scale * x[j]);
    floatv sv = 0.0f;
    for (int v = 0; v < nv; v++) {
        floatv e = exp(scale * loadv(x, v, al) - m);
        storev(e, y, v, al);
        sv += e;
    }
    float s = hsum(sv);
    for (int j = VEC * nv; j < n; j++) {
        float e = exp(scale * x[j] - m);
        y[j] = e;
        s += e;
    }
    float inv = 1.0f / s;
    for (int v = 0; v < nv; v++)
        storev(loadv(y, v, al) * inv, y, v, al);
    for (int j = VEC * nv; j < n; j++)
        y[j] *= inv;
}
