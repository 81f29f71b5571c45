/* Cross-entropy of softmax(z / tau) against hard labels or soft targets, stable
 * log-softmax. Per-sample losses; backward of the mean loss. A label outside [0, C) gives a
 * NaN loss and NaN gradients for its row (visible, never an out-of-bounds read).
 * Row get_global_id(1) belongs to the work-group's items of that local row
 * (hvp_launch_row_groups): they stride over it by VEC-element vectors (cl/common.cl), then
 * over its tail's scalars, and combine in their share of local memory (group_sum /
 * group_max, a fixed order). (Scalar items, one element each, ran DINO's 65536-d rows at 3%
 * of a copy's GB/s.) Labels are read only when soft is 0 and the targets only when soft is
 * 1 (the other buffer is a stand-in). */

/* The row's max of z/tau; it = 1 / tau (a multiply: vector divisions took a third of the
 * time of DINO's rows). */
inline float row_max(int cols, const global float *zr, int al, float it, local float *buf)
{
    int lid = get_local_id(0), lsz = get_local_size(0), nv = cols / VEC;
    floatv mv = -INFINITY;
    for (int v = lid; v < nv; v += lsz)
        mv = fmax(mv, loadv(zr, v, al) * it);
    float mx = hmax(mv);
    for (int j = VEC * nv + lid; j < cols; j += lsz)
        mx = fmax(mx, zr[j] * it);
    return group_max(mx, buf);
}

/* loss[r] = -sum_j t_j log softmax(z/tau)_j = sum_j t_j (max - z_j/tau) + (sum_j t_j) log se;
 * hard: loss[r] = max + log se - z_y / tau. */
kernel void cross_entropy_fwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, global float *loss, int loss_off,
                              local float *buf)
{
    int r = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    int valid = r < rows;
    if (!valid) /* no early return before a barrier (PoCL crashes on one): an empty row */
        cols = 0;
    int zo = z_off + r * cols, to = t_off + r * cols, nv = cols / VEC;
    int al = vec_aligned(zo), alt = vec_aligned(to);
    const global float *zr = z + zo, *tr = t + to;
    float it = 1.0f / tau, mx = row_max(cols, zr, al, it, buf);
    /* One pass for the exponentials, the target mass and the targets' dot. */
    floatv sev = 0.0f, stv = 0.0f, accv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv zt = loadv(zr, v, al) * it;
        sev += exp(zt - mx);
        if (soft) {
            floatv tv = loadv(tr, v, alt);
            stv += tv;
            accv += tv * (mx - zt);
        }
    }
    float se = hsum(sev), st = hsum(stv), acc = hsum(accv);
    for (int j = VEC * nv + lid; j < cols; j += lsz) {
        float zt = zr[j] * it;
        se += exp(zt - mx);
        if (soft) {
            st += tr[j];
            acc += tr[j] * (mx - zt);
        }
    }
    se = group_sum(se, buf);
    st = group_sum(st, buf); /* always called: no barrier under a branch */
    acc = group_sum(acc, buf);
    if (!valid || lid != 0)
        return;
    float lse = log(se);
    if (soft) {
        loss[loss_off + r] = acc + st * lse;
    } else {
        int y = labels[labels_off + r];
        loss[loss_off + r] = (y >= 0 && y < cols) ? mx + lse - zr[y] * it : NAN;
    }
}

/* dz = coef * (softmax(z/tau) * sum(t) - t), coef = scale / (rows * tau). Every item
 * rereads only the elements it writes, so dz may be z. */
kernel void cross_entropy_bwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, float coef, global float *dz,
                              int dz_off, local float *buf)
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
    float it = 1.0f / tau, mx = row_max(cols, zr, al, it, buf);
    floatv sev = 0.0f, stv = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        sev += exp(loadv(zr, v, al) * it - mx);
        if (soft)
            stv += loadv(tr, v, alt);
    }
    float se = hsum(sev), st = hsum(stv);
    for (int j = VEC * nv + lid; j < cols; j += lsz) {
        se += exp(zr[j] * it - mx);
        if (soft)
            st += tr[j];
    }
    se = group_sum(se, buf);
    st = group_sum(st, buf); /* always called: no barrier under a branch */
    if (!soft)
        st = 1.0f;
    float ise = 1.0f / se;
    int y = (soft || !valid) ? 0 : labels[labels_off + r];
    float bad = (!soft && (y < 0 || y >= cols)) ? NAN : 0.0f;
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int v = lid; v < nv; v += lsz) {
        floatv p = exp(loadv(zr, v, al) * it - mx) * ise;
        floatv target = soft ? loadv(tr, v, alt)
                             : select((floatv)0.0f, (floatv)1.0f, lane + VEC * v == y);
        storev(coef * (p * st - target) + bad, dz, v, al);
    }
    for (int j = VEC * nv + lid; j < cols; j += lsz) {
        float p = exp(zr[j] * it - mx) * ise;
        float target = soft ? tr[j] : (j == y ? 1.0f : 0.0f);
        dz[j] = coef * (p * st - target) + bad;
    }
}
