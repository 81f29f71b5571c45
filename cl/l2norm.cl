/* Row L2 normalisation, y = x / max(||x||_2, eps) per row (PyTorch F.normalize), one
 * work-group per row. */

/* Sum of v over the work-group, returned to every item; correct for any group size. The
 * order is fixed by the group size, so results are bitwise reproducible. `s` holds
 * get_local_size(0) floats. Every item must call it (no divergent calls). */
inline float group_sum(float v, local float *s)
{
    int lid = get_local_id(0), n = get_local_size(0), p = 1;
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    while (p < n)
        p <<= 1;
    for (int h = p >> 1; h > 0; h >>= 1) {
        if (lid < h && lid + h < n)
            s[lid] += s[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* s may be reused at once */
    return r;
}

kernel void l2norm_fwd(int rows, int cols, global const float *x, int x_off, global float *y,
                       int y_off, float eps, local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows) /* uniform over the group */
        return;
    const global float *xr = x + x_off + (size_t)r * cols;
    global float *yr = y + y_off + (size_t)r * cols;
    float ss = 0.0f;
    for (int j = lid; j < cols; j += l)
        ss += xr[j] * xr[j];
    float d = fmax(sqrt(group_sum(ss, scratch)), eps);
    for (int j = lid; j < cols; j += l)
        yr[j] = xr[j] / d;
}

/* dx = (dy - y (y . dy)) / ||x|| where ||x|| > eps, else dy / eps (the clamp passes no
 * gradient). dx may be dy. */
kernel void l2norm_bwd(int rows, int cols, global const float *x, int x_off,
                       global const float *dy, int dy_off, global float *dx, int dx_off,
                       float eps, local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *xr = x + x_off + (size_t)r * cols;
    const global float *dyr = dy + dy_off + (size_t)r * cols;
    global float *dxr = dx + dx_off + (size_t)r * cols;
    float ss = 0.0f, xd = 0.0f;
    for (int j = lid; j < cols; j += l) {
        ss += xr[j] * xr[j];
        xd += xr[j] * dyr[j];
    }
    float n = sqrt(group_sum(ss, scratch));
    xd = group_sum(xd, scratch);
    if (n > eps) {
        float yd = xd / n; /* y . dy */
        for (int j = lid; j < cols; j += l)
            dxr[j] = (dyr[j] - xr[j] / n * yd) / n;
    } else {
        for (int j = lid; j < cols; j += l)
            dxr[j] = dyr[j] / eps;
    }
}
