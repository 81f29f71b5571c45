/* Cross-entropy of softmax(z / tau) against hard labels or soft targets, stable
 * log-softmax. Per-sample losses; backward of the mean loss. A label outside [0, C) gives a
 * NaN loss and NaN gradients for its row (visible, never an out-of-bounds read).
 * Row get_global_id(1) belongs to the work-group's items of that local row
 * (hvp_launch_row_groups; on CPUs one item per row): each takes its share, VEC-element
 * vectors lid, lid + lsz, ..., one of them also the row's tail (cl/common.cl), and the items
 * combine in their share of local memory (row_sum / row_max, a fixed order).
 * Labels are read only when soft is 0 and the targets only when soft is 1 (the other
 * buffer is a stand-in). */

/* The row's statistics of z/tau: its maximum, the sum of exp(z/tau - max) and, for soft
 * targets, their mass sum t and cross = sum t (max - z/tau) (when want_cross). Each item
 * finds the maximum m of its share, then sums relative to it in a second pass over the same
 * elements (from its cache: one pass over the row in memory, where a row maximum first
 * took two); the items' sums are rescaled to the row's maximum as they combine. it =
 * 1 / tau (a multiply: vector divisions took a third of the time of DINO's rows). */
typedef struct ce_row {
    float max, sum_exp, mass, cross;
} ce_row;

inline ce_row ce_row_stats(int cols, const global float *zr, int al, const global float *tr,
                           int alt, int soft, int want_cross, float it, local float *buf,
                           int grouped)
{
    int lid = get_local_id(0), lsz = get_local_size(0), nv = cols / VEC;
    int tail = cols % VEC > 0 && lid == tail_item(cols, lsz);
    int16 own = tail_lanes(cols);
    floatv mv = -INFINITY;
    for (int v = lid; v < nv; v += lsz)
        mv = vmax(mv, loadv(zr, v, al) * it);
    if (tail)
        mv = vmax(mv, select(-INFINITY, load_tail(zr, cols) * it, own));
    float m = hmax(mv);
    float c = m > -INFINITY ? m : 0.0f; /* a share of only -inf logits (or none) sums 0 */
    floatv sev = 0.0f, stv = 0.0f, crv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv zt = loadv(zr, v, al) * it;
        sev += exp_nonpos(zt - c);
        if (soft) {
            floatv tv = loadv(tr, v, alt);
            stv += tv;
            crv += tv * (c - zt);
        }
    }
    if (tail) {
        floatv zt = load_tail(zr, cols) * it;
        sev += select(0.0f, exp_nonpos(zt - c), own);
        if (soft) {
            floatv tv = select(0.0f, load_tail(tr, cols), own);
            stv += tv;
            crv += tv * (c - zt);
        }
    }
    float se = hsum(sev), st = hsum(stv), cr = hsum(crv);
    ce_row s;
    s.max = row_max(m, buf, grouped);
    s.sum_exp = row_sum(se == 0.0f ? 0.0f : se * exp(c - s.max), buf, grouped); /* NaN stays */
    s.mass = row_sum(st, buf, grouped); /* called by every item: no barrier under a branch */
    s.cross = want_cross ? row_sum(cr + st * (s.max - c), buf, grouped) : 0.0f; /* a literal */
    return s;
}

/* loss[r] = -sum_j t_j log softmax(z/tau)_j = sum_j t_j (max - z_j/tau) + (sum_j t_j) log se;
 * hard: loss[r] = max + log se - z_y / tau. */
inline void cross_entropy_fwd_row(int rows, int cols, global const float *z, int z_off,
                                  global const int *labels, int labels_off,
                                  global const float *t, int t_off, int soft, float tau,
                                  global float *loss, int loss_off, local float *buf, int grouped)
{
    int r = get_global_id(1);
    buf += get_local_id(1) * get_local_size(0);
    int valid = r < rows;
    if (!valid) /* no early return before a barrier (PoCL crashes on one): an empty row */
        cols = 0;
    int zo = z_off + r * cols, to = t_off + r * cols;
    const global float *zr = z + zo;
    float it = 1.0f / tau;
    ce_row s = ce_row_stats(cols, zr, vec_aligned(zo), t + to, vec_aligned(to), soft, 1, it, buf,
                            grouped);
    if (!valid || get_local_id(0) != 0)
        return;
    float lse = log(s.sum_exp);
    if (soft) {
        loss[loss_off + r] = s.cross + s.mass * lse;
    } else {
        int y = labels[labels_off + r];
        loss[loss_off + r] = (y >= 0 && y < cols) ? s.max + lse - zr[y] * it : NAN;
    }
}

kernel void cross_entropy_fwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, global float *loss, int loss_off,
                              local float *buf)
{
    cross_entropy_fwd_row(rows, cols, z, z_off, labels, labels_off, t, t_off, soft, tau, loss,
                          loss_off, buf, 1);
}

kernel void cross_entropy_fwd_item(int rows, int cols, global const float *z, int z_off,
                                   global const int *labels, int labels_off,
                                   global const float *t, int t_off, int soft, float tau,
                                   global float *loss, int loss_off, local float *buf)
{
    cross_entropy_fwd_row(rows, cols, z, z_off, labels, labels_off, t, t_off, soft, tau, loss,
                          loss_off, buf, 0);
}

/* dz = coef * (softmax(z/tau) * sum(t) - t), coef = scale / (rows * tau). Every item
 * rereads only the elements it writes (the tail's item the last whole vector's too), so dz
 * may be z. */
inline void cross_entropy_bwd_row(int rows, int cols, global const float *z, int z_off,
                                  global const int *labels, int labels_off,
                                  global const float *t, int t_off, int soft, float tau,
                                  float coef, global float *dz, int dz_off, local float *buf,
                                  int grouped)
{
    int r = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    int valid = r < rows;
    if (!valid)
        cols = 0;
    int zo = z_off + r * cols, to = t_off + r * cols, dzo = dz_off + r * cols, nv = cols / VEC;
    int al = vec_aligned(zo | dzo), alt = vec_aligned(to);
    const global float *zr = z + zo, *tr = t + to;
    dz += dzo;
    float it = 1.0f / tau;
    ce_row s = ce_row_stats(cols, zr, al, tr, alt, soft, 0, it, buf, grouped);
    float st = soft ? s.mass : 1.0f, ise = 1.0f / s.sum_exp, mx = s.max;
    int y = (soft || !valid) ? 0 : labels[labels_off + r];
    float bad = (!soft && (y < 0 || y >= cols)) ? NAN : 0.0f;
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int v = lid; v < nv; v += lsz) {
        floatv p = exp_nonpos(loadv(zr, v, al) * it - mx) * ise;
        floatv target = soft ? loadv(tr, v, alt)
                             : select((floatv)0.0f, (floatv)1.0f, lane + VEC * v == y);
        storev(coef * (p * st - target) + bad, dz, v, al);
    }
    if (cols % VEC > 0 && lid == tail_item(cols, lsz)) {
        floatv p = exp_nonpos(load_tail(zr, cols) * it - mx) * ise;
        floatv target = soft ? load_tail(tr, cols)
                             : select((floatv)0.0f, (floatv)1.0f, lane + tail_start(cols) == y);
        store_tail(coef * (p * st - target) + bad, dz, cols);
    }
}

kernel void cross_entropy_bwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, float coef, global float *dz,
                              int dz_off, local float *buf)
{
    cross_entropy_bwd_row(rows, cols, z, z_off, labels, labels_off, t, t_off, soft, tau, coef,
                          dz, dz_off, buf, 1);
}

kernel void cross_entropy_bwd_item(int rows, int cols, global const float *z, int z_off,
                                   global const int *labels, int labels_off,
                                   global const float *t, int t_off, int soft, float tau,
                                   float coef, global float *dz, int dz_off, local float *buf)
{
    cross_entropy_bwd_row(rows, cols, z, z_off, labels, labels_off, t, t_off, soft, tau, coef,
                          dz, dz_off, buf, 0);
}
