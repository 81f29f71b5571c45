/* Row L2 normalisation, y = x / max(||x||_2, eps) per row (PyTorch F.normalize), one
 * work-group per row. */

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
