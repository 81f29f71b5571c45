/* ReLU, forward and backward; every pointer comes with its element offset. VEC elements per
 * work-item (cl/common.cl), the last item also takes the tail. Each item reads and writes its
 * own elements only, so y may be x and dx dy. */

kernel void relu_fwd(int n, global const float *x, int x_off, global float *y, int y_off)
{
    int i = get_global_id(0), al = vec_aligned(x_off | y_off);
    x += x_off;
    y += y_off;
    if (VEC * i + VEC <= n)
        storev(fmax(loadv(x, i, al), 0.0f), y, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            y[j] = fmax(x[j], 0.0f);
}

kernel void relu_bwd(int n, global const float *y, int y_off, global const float *dy, int dy_off,
                     global float *dx, int dx_off)
{
    int i = get_global_id(0), al = vec_aligned(y_off | dy_off | dx_off);
    y += y_off;
    dy += dy_off;
    dx += dx_off;
    if (VEC * i + VEC <= n)
        storev(select((floatv)0.0f, loadv(dy, i, al), loadv(y, i, al) > 0.0f), dx, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            dx[j] = y[j] > 0.0f ? dy[j] : 0.0f;
}
