/* ReLU, forward and backward; every pointer comes with its element offset. */

kernel void relu_fwd(int n, global const float *x, int x_off, global float *y, int y_off)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] = fmax(x[x_off + i], 0.0f);
}

kernel void relu_bwd(int n, global const float *y, int y_off, global const float *dy, int dy_off,
                     global float *dx, int dx_off)
{
    int i = get_global_id(0);
    if (i < n)
        dx[dx_off + i] = y[y_off + i] > 0.0f ? dy[dy_off + i] : 0.0f;
}
