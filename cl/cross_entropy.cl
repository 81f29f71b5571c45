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
 * targets, their mass sum t and cross = sum t (max - z/tau) (when want_cross). it = 1 / tau
 * (a multiply: vector divisions took a third of the time of DINO's rows). */
typedef struct ce_row {
    float max, sum_exp, mass, cross;
} ce_row;

/* Lane-wise running sums of an item: se = sum exp(zt - c), st = sum t, cr = sum t (c - zt)
 * relative to c = shift(m), m the lanes' maximum so far (its finite stand-in 0 while a lane
 * has seen only -inf: its se is 0 then). */
typedef struct ce_lanes {
    floatv m, se, st, cr;
} ce_lanes;

inline floatv ce_shift(floatv m) { return select(m, (floatv)0.0f, m == -INFINITY); }

/* The sums moved to a new maximum m (>= the old lane by lane). */
inline void ce_rescale(ce_lanes *l, floatv m)
{
    floatv c = ce_shift(l->m), c_new = ce_shift(m);
    l->se = select(l->se * exp_nonpos(c - c_new), (floatv)0.0f, l->se == 0.0f); /* NaN stays */
    l->cr += l->st * (c_new - c);
    l->m = m;
}

/* An item takes its share in chunks of CE_CHUNK vectors: their maximum, the sums moved to it,
 * then the chunk's terms in a second pass over the chunk, from the item's cache. One pass
 * over the row in memory (a pass for the maximum first made two), and each chunk's loads
 * overlap the last one's exponentials: DINO's [32, 65536] on a CPU in half the time of two
 * passes over an item's whole share. */
#define CE_CHUNK 64

inline ce_row ce_row_stats(int cols, const global float *zr, int al, const global float *tr,
                           int alt, int soft, int want_cross, float it, local float *buf,
                           int grouped)
{
    int lid = get_local_id(0), lsz = get_local_size(0), nv = cols / VEC;
    ce_lanes l = {-INFINITY, 0.0f, 0.0f, 0.0f};
    for (int v0 = lid; v0 < nv; v0 += CE_CHUNK * lsz) {
        int v1 = min(nv, v0 + CE_CHUNK * lsz);
        floatv mz = -INFINITY; /* of z: times it > 0, exactly the maximum of z * it */
        for (int v = v0; v < v1; v += lsz)
            mz = vmax(mz, loadv(zr, v, al));
        ce_rescale(&l, vmax(l.m, mz * it));
        floatv c = ce_shift(l.m);
        for (int v = v0; v < v1; v += lsz) {
            floatv d = fma(loadv(zr, v, al), it, -c); /* z * it - c */
            l.se += exp_nonpos(d);
            if (soft) {
                floatv tv = loadv(tr, v, alt);
                l.st += tv;
                l.cr -= tv * d;
            }
        }
    }
    if (cols % VEC > 0 && lid == tail_item(cols, lsz)) {
        int16 own = tail_lanes(cols);
        floatv z = load_tail(zr, cols);
        ce_rescale(&l, vmax(l.m, select(-INFINITY, z * it, own)));
        floatv d = fma(z, it, -ce_shift(l.m));
        l.se += select(0.0f, exp_nonpos(d), own);
        if (soft) {
            floatv tv = select(0.0f, load_tail(tr, cols), own);
            l.st += tv;
            l.cr -= tv * d;
        }
    }
    /* The lanes, then the row's items, moved to their common maximum as they combine. */
    float m = hmax(l.m);
    ce_rescale(&l, (floatv)m);
    float c = m > -INFINITY ? m : 0.0f, se = hsum(l.se), st = hsum(l.st), cr = hsum(l.cr);
    ce_row s;
    s.max = row_max(m, buf, grouped);
    /* Each item's sums moved to the row's maximum (one item: c is it); NaN stays NaN. */
    s.sum_exp = row_sum(se == 0.0f || !grouped ? se : se * exp(c - s.max), buf, grouped);
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
        floatv p = exp_nonpos(fma(loadv(zr, v, al), it, -mx)) * ise;
        floatv target = soft ? loadv(tr, v, alt)
                             : select((floatv)0.0f, (floatv)1.0f, lane + VEC * v == y);
        storev(coef * (p * st - target) + bad, dz, v, al);
    }
    if (cols % VEC > 0 && lid == tail_item(cols, lsz)) {
        floatv p = exp_nonpos(fma(load_tail(zr, cols), it, -mx)) * ise;
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
