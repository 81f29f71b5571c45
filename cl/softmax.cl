/* Row softmax over the last dimension of [rows, n], y = softmax(scale * x), numerically
 * stable (the row maximum is subtracted). Row get_global_id(1) belongs to the work-group's
 * items of that local row (hvp_launch_row_groups): each takes its share, VEC-element vectors
 * lid, lid + lsz, ..., one of them also the row's tail (cl/common.cl), and the items combine
 * in their share of local memory (row_sum / row_max over dimension 0, a fixed order); each
 * kernel's *_item twin, one item per row, has no barriers (CPUs: ViT-S attention, [37824,
 * 197], took 9.3 instead of 11.4 ms of CPU time without them). Every work-item reads and
 * writes the same elements in every pass (the tail's item the last whole vector's too), so
 * y may be x and dx may be dy. */

/* Each item exponentiates its share relative to its own maximum c (its share then still in
 * its cache), the items' sums are rescaled to the row's maximum as they combine, and a last
 * pass scales each share by exp(c - max) / sum: no pass over the row for its maximum alone. */
inline void softmax_fwd_row(int rows, int n, float scale, global const float *x, int x_off,
                            global float *y, int y_off, local float *buf, int grouped)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        n = 0;
    int xo = x_off + row * n, yo = y_off + row * n, al = vec_aligned(xo | yo), nv = n / VEC;
    int takes_tail = n % VEC > 0 && lid == tail_item(n, lsz);
    int16 own = tail_lanes(n);
    x += xo;
    y += yo;
    floatv mv = -INFINITY;
    for (int v = lid; v < nv; v += lsz)
        mv = vmax(mv, scale * loadv(x, v, al));
    if (takes_tail)
        mv = vmax(mv, select(-INFINITY, scale * load_tail(x, n), own));
    float m = hmax(mv);
    float c = m > -INFINITY ? m : 0.0f; /* a share of only -inf (or none) sums 0 */
    floatv sv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv e = exp_nonpos(scale * loadv(x, v, al) - c);
        storev(e, y, v, al);
        sv += e;
    }
    if (takes_tail) {
        floatv e = select(0.0f, exp_nonpos(scale * load_tail(x, n) - c), own);
        store_tail(e, y, n);
        sv += e;
    }
    float s = hsum(sv);
    float mx = row_max(m, buf, grouped);
    float w = s == 0.0f ? 0.0f : grouped ? exp(c - mx) : 1.0f; /* one item: c is mx */
    float f = w / row_sum(s * w, buf, grouped);
    for (int v = lid; v < nv; v += lsz)
        storev(loadv(y, v, al) * f, y, v, al);
    if (takes_tail)
        store_tail(load_tail(y, n) * f, y, n);
}

kernel void softmax_fwd(int rows, int n, float scale, global const float *x, int x_off,
                        global float *y, int y_off, local float *buf)
{
    softmax_fwd_row(rows, n, scale, x, x_off, y, y_off, buf, 1);
}

kernel void softmax_fwd_item(int rows, int n, float scale, global const float *x, int x_off,
                             global float *y, int y_off, local float *buf)
{
    softmax_fwd_row(rows, n, scale, x, x_off, y, y_off, buf, 0);
}

/* dx = scale * y * (dy - sum_j dy_j y_j), from the forward's output. */
inline void softmax_bwd_row(int rows, int n, float scale, global const float *y, int y_off,
                            global const float *dy, int dy_off, global float *dx, int dx_off,
                            local float *buf, int grouped)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows)
        n = 0;
    int yo = y_off + row * n, dyo = dy_off + row * n, dxo = dx_off + row * n, nv = n / VEC;
    int al = vec_aligned(yo | dyo | dxo), takes_tail = n % VEC > 0 && lid == tail_item(n, lsz);
    y += yo;
    dy += dyo;
    dx += dxo;
    floatv dv = 0.0f;
    for (int v = lid; v < nv; v += lsz)
        dv += loadv(dy, v, al) * loadv(y, v, al);
    if (takes_tail)
        dv += select(0.0f, load_tail(dy, n) * load_tail(y, n), tail_lanes(n));
    float d = row_sum(hsum(dv), buf, grouped);
    for (int v = lid; v < nv; v += lsz)
        storev(scale * loadv(y, v, al) * (loadv(dy, v, al) - d), dx, v, al);
    if (takes_tail)
        store_tail(scale * load_tail(y, n) * (load_tail(dy, n) - d), dx, n);
}

kernel void softmax_bwd(int rows, int n, float scale, global const float *y, int y_off,
                        global const float *dy, int dy_off, global float *dx, int dx_off,
                        local float *buf)
{
    softmax_bwd_row(rows, n, scale, y, y_off, dy, dy_off, dx, dx_off, buf, 1);
}

kernel void softmax_bwd_item(int rows, int n, float scale, global const float *y, int y_off,
                             global const float *dy, int dy_off, global float *dx, int dx_off,
                             local float *buf)
{
    softmax_bwd_row(rows, n, scale, y, y_off, dy, dy_off, dx, dx_off, buf, 0);
}
