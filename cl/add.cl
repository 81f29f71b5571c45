/* Residual add. Both kernels read and write element i only, so outputs may alias inputs. */

/* y = a + b */
kernel void add_fwd(int n, global const float *a, int a_off, global const float *b, int b_off,
                    global float *y, int y_off)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] = a[a_off + i] + b[b_off + i];
}

/* y += x */
kernel void add_fwd_acc(int n, global float *y, int y_off, global const float *x, int x_off)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] += x[x_off + i];
}

/* y = alpha a + beta b */
kernel void add_axpby(int n, float alpha, global const float *a, int a_off, float beta,
                      global const float *b, int b_off, global float *y, int y_off)
{
    int i = get_global_id(0);
    if (i < n)
        y[y_off + i] = alpha * a[a_off + i] + beta * b[b_off + i];
}

/* x[i, i] += value for i < min(rows, cols) of a row-major [rows, cols] matrix */
kernel void add_diagonal(int n, int cols, float value, global float *x, int x_off)
{
    int i = get_global_id(0);
    if (i < n)
        x[x_off + i * cols + i] += value;
}
