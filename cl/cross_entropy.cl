/* Cross-entropy of softmax(z / tau) against hard labels or soft targets, one work-group
 * per row, stable log-softmax. Per-sample losses; backward of the mean loss. A label
 * outside [0, C) gives a NaN loss and NaN gradients for its row (visible, never an
 * out-of-bounds read). */

/* The row's max of z/tau, sum of exp(z/tau - max) and (soft) the target mass. */
inline float3 row_stats(int cols, const global float *zr, const global float *tr, int soft,
                        float tau, local float *scratch)
{
    int lid = get_local_id(0), l = get_local_size(0);
    float mx = -INFINITY;
    for (int j = lid; j < cols; j += l)
        mx = fmax(mx, zr[j] / tau);
    mx = group_max(mx, scratch);
    float se = 0.0f, st = 0.0f;
    for (int j = lid; j < cols; j += l) {
        se += exp(zr[j] / tau - mx);
        if (soft)
            st += tr[j];
    }
    se = group_sum(se, scratch);
    st = group_sum(st, scratch); /* always called: no barrier under a branch */
    return (float3)(mx, se, soft ? st : 1.0f);
}

/* loss[r] = -sum_j t_j log softmax(z/tau)_j = sum_j t_j (max - z_j/tau) + (sum_j t_j) log se;
 * hard: loss[r] = max + log se - z_y / tau. Labels are read only when soft is 0 and the
 * targets only when soft is 1 (the other buffer is a stand-in). */
kernel void cross_entropy_fwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, global float *loss, int loss_off,
                              local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *zr = z + z_off + (size_t)r * cols;
    const global float *tr = t + t_off + (size_t)r * cols;
    float3 st = row_stats(cols, zr, tr, soft, tau, scratch);
    float mx = st.x, lse = log(st.y);
    float acc = 0.0f;
    for (int j = lid; j < cols && soft; j += l)
        acc += tr[j] * (mx - zr[j] / tau);
    acc = group_sum(acc, scratch);
    if (soft && lid == 0) {
        loss[loss_off + r] = acc + st.z * lse;
    } else if (lid == 0) {
        int y = labels[labels_off + r];
        loss[loss_off + r] = (y >= 0 && y < cols) ? mx + lse - zr[y] / tau : NAN;
    }
}

/* dz = coef * (softmax(z/tau) * sum(t) - t), coef = scale / (rows * tau). dz may be z. */
kernel void cross_entropy_bwd(int rows, int cols, global const float *z, int z_off,
                              global const int *labels, int labels_off, global const float *t,
                              int t_off, int soft, float tau, float coef, global float *dz,
                              int dz_off, local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *zr = z + z_off + (size_t)r * cols;
    const global float *tr = t + t_off + (size_t)r * cols;
    global float *dzr = dz + dz_off + (size_t)r * cols;
    float3 st = row_stats(cols, zr, tr, soft, tau, scratch);
    int y = soft ? 0 : labels[labels_off + r];
    float bad = (!soft && (y < 0 || y >= cols)) ? NAN : 0.0f;
    for (int j = lid; j < cols; j += l) {
        float p = exp(zr[j] / tau - st.x) / st.y;
        float target = soft ? tr[j] : (j == y ? 1.0f : 0.0f);
        dzr[j] = coef * (p * st.z - target) + bad;
    }
}
