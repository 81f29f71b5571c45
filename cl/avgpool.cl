/* Global average pool: x [n*c planes, hw] -> y [n*c]. Every pointer comes with its
 * element offset. */

kernel void avgpool_fwd(int planes, int hw, global const float *x, int x_off, global float *y,
                        int y_off)
{
    int i = get_global_id(0);
    if (i >= planes)
        return;
    global const float *xp = x + x_off + i * hw;
    float s = 0.0f;
    for (int j = 0; j < hw; j++)
        s += xp[j];
    y[y_off + i] = s / (float)hw;
}

/* dx[i, j] = dy[i] / hw. */
kernel void avgpool_bwd(int planes, int hw, global const float *dy, int dy_off,
                        global float *dx, int dx_off)
{
    int e = get_global_id(0);
    if (e < planes * hw)
        dx[dx_off + e] = dy[dy_off + e / hw] / (float)hw;
}
