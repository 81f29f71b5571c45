/* Row softmax over the last dimension of [rows, n], y = softmax(scale * x), numerically
 * stable (the row maximum is subtracted). One work-group per row; the work-items of a group
 * stride over the row and combine in local memory. Correct for any local size: the group
 * reductions below fold [0, s) into [0, ceil(s/2)) until one value is left. Every work-item
 * reads and writes the same elements in every pass, so y may be x and dx may be dy. */

kernel void softmax_fwd(int rows, int n, float scale, global const float *x, int x_off,
                        global float *y, int y_off, local float *buf)
{
    int row = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        n = 0;
    global const float *xr = x + x_off + (size_t)row * n;
    global float *yr = y + y_off + (size_t)row * n;
    float m = -INFINITY;
    for (int j = lid; j < n; j += lsz)
        m = fmax(m, scale * xr[j]);
    m = group_max(m, buf);
    float s = 0.0f;
    for (int j = lid; j < n; j += lsz) {
        float e = exp(scale * xr[j] - m);
        yr[j] = e;
        s += e;
    }
    float inv = 1.0f / group_sum(s, buf);
    for (int j = lid; j < n; j += lsz)
        yr[j] *= inv;
}

/* dx = scale * y * (dy - sum_j dy_j y_j), from the forward's output. */
kernel void softmax_bwd(int rows, int n, float scale, global const float *y, int y_off,
                        global const float *dy, int dy_off, global float *dx, int dx_off,
                        local float *buf)
{
    int row = get_group_id(0), lid = get_local_id(0), lsz = get_local_size(0);
    if (row >= rows) /* no early return before a barrier (PoCL crashes on one): an empty row */
        n = 0;
    global const float *yr = y + y_off + (size_t)row * n;
    global const float *dyr = dy + dy_off + (size_t)row * n;
    global float *dxr = dx + dx_off + (size_t)row * n;
    float d = 0.0f;
    for (int j = lid; j < n; j += lsz)
        d += dyr[j] * yr[j];
    d = group_sum(d, buf);
    for (int j = lid; j < n; j += lsz)
        dxr[j] = scale * yr[j] * (dyr[j] - d);
}
