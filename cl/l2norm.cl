/* Row L2 normalisation, y = x / max(||x||_2, eps) per row (PyTorch F.normalize). Row
 * get_global_id(1) belongs to the work-group's items of that local row
 * (hvp_launch_row_groups): they stride over it by VEC-element vectors, one of them also
 * over its tail (cl/common.cl), and sum in their share of local memory (row_sum over
 * dimension 0, a fixed order); each kernel's *_item twin, one item per row, has no barriers
 * (CPUs). Every item rereads only the elements it writes (the tail's item the last whole
 * vector's too), so y may be x, dx dy.
 * (Scalar items, one element each, divisions, 256-item groups' barriers for 2048 elements:
 * SimSiam's [32, 2048] at 0.14 ms, 0.1-0.25 of a copy's GB/s; now 0.05 ms with a whole row
 * per item on CPUs, 0.3-0.9 of a copy in alternated runs at load 4-6: a call this short is
 * mostly launch cost.) */

inline void l2norm_fwd_row(int rows, int cols, global const float *x, int x_off, global float *y,
                           int y_off, float eps, local float *buf, int grouped)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        cols = 0;
    int xo = x_off + row * cols, yo = y_off + row * cols, al = vec_aligned(xo | yo);
    int nv = cols / VEC, takes_tail = cols % VEC > 0 && lid == tail_item(cols, lsz);
    x += xo;
    y += yo;
    floatv sv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv c = loadv(x, v, al);
        sv += c * c;
    }
    if (takes_tail) {
        floatv c = select(0.0f, load_tail(x, cols), tail_lanes(cols));
        sv += c * c;
    }
    float ss = row_sum(hsum(sv), buf, grouped);
    float inv = 1.0f / fmax(sqrt(ss), eps); /* no division per element */
    for (int v = lid; v < nv; v += lsz)
        storev(loadv(x, v, al) * inv, y, v, al);
    if (takes_tail)
        store_tail(load_tail(x, cols) * inv, y, cols);
}

kernel void l2norm_fwd(int rows, int cols, global const float *x, int x_off, global float *y,
                       int y_off, float eps, local float *buf)
{
    l2norm_fwd_row(rows, cols, x, x_off, y, y_off, eps, buf, 1);
}

kernel void l2norm_fwd_item(int rows, int cols, global const float *x, int x_off,
                            global float *y, int y_off, float eps, local float *buf)
{
    l2norm_fwd_row(rows, cols, x, x_off, y, y_off, eps, buf, 0);
}

/* dx = (dy - y (y . dy)) / ||x|| where ||x|| > eps, else dy / eps (the clamp passes no
 * gradient). */
inline void l2norm_bwd_row(int rows, int cols, global const float *x, int x_off,
                           global const float *dy, int dy_off, global float *dx, int dx_off,
                           float eps, local float *buf, int grouped)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    if (row >= rows)
        cols = 0;
    int xo = x_off + row * cols, dyo = dy_off + row * cols, dxo = dx_off + row * cols;
    int al = vec_aligned(xo | dyo | dxo), nv = cols / VEC;
    int takes_tail = cols % VEC > 0 && lid == tail_item(cols, lsz);
    x += xo;
    dy += dyo;
    dx += dxo;
    floatv sv = 0.0f, xdv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv c = loadv(x, v, al);
        sv += c * c;
        xdv += c * loadv(dy, v, al);
    }
    if (takes_tail) {
        floatv c = select(0.0f, load_tail(x, cols), tail_lanes(cols));
        sv += c * c;
        xdv += c * load_tail(dy, cols);
    }
    float n = sqrt(row_sum(hsum(sv), buf, grouped)), xd = row_sum(hsum(xdv), buf, grouped);
    /* (dy - x (inv * yd)) * inv with inv = 1 / n, yd = y . dy; dy / eps under the clamp */
    float inv = n > eps ? 1.0f / n : 1.0f / eps, k = n > eps ? inv * xd * inv : 0.0f;
    for (int v = lid; v < nv; v += lsz)
        storev((loadv(dy, v, al) - loadv(x, v, al) * k) * inv, dx, v, al);
    if (takes_tail)
        store_tail((load_tail(dy, cols) - load_tail(x, cols) * k) * inv, dx, cols);
}

kernel void l2norm_bwd(int rows, int cols, global const float *x, int x_off,
                       global const float *dy, int dy_off, global float *dx, int dx_off,
                       float eps, local float *buf)
{
    l2norm_bwd_row(rows, cols, x, x_off, dy, dy_off, dx, dx_off, eps, buf, 1);
}

kernel void l2norm_bwd_item(int rows, int cols, global const float *x, int x_off,
                            global const float *dy, int dy_off, global float *dx, int dx_off,
                            float eps, local float *buf)
{
    l2norm_bwd_row(rows, cols, x, x_off, dy, dy_off, dx, dx_off, eps, buf, 0);
}
