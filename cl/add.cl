/* Residual add. Both kernels read and write element i only, so outputs may alias inputs. */

/* y = a + b, VEC elements per work-item (cl/common.cl) */
kernel void add_fwd(int n, global const float *a, int a_off, global const float *b, int b_off,
                    global float *y, int y_off)
{
    int i = get_global_id(0), al = vec_aligned(a_off | b_off | y_off);
    a += a_off;
    b += b_off;
    y += y_off;
    if (VEC * i + VEC <= n)
        storev(loadv(a, i, al) + loadv(b, i, al), y, i, al);
    else /* the tail */
        for (int j = VEC * i; j < n; j++)
            y[j] = a[j] + b[j];
}

/* y = max(a + b, 0): a residual block's sum and its ReLU in one pass (the backward is
 * relu_bwd on y, then the identity to both inputs) */
kernel void add_relu_fwd(int n, global const float *a, int a_off, global const float *b,
                         int b_off, global float *y, int y_off)
{
    int i = get_global_id(0), al = vec_aligned(a_off | b_off | y_off);
    a += a_off;
    b += b_off;
    y += y_off;
    if (VEC * i + VEC <= n)
        storev(fmax(loadv(a, i, al) + loadv(b, i, al), 0.0f), y, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            y[j] = fmax(a[j] + b[j], 0.0f);
}

/* y += x */
kernel void add_fwd_acc(int n, global float *y, int y_off, global const float *x, int x_off)
{
    int i = get_global_id(0), al = vec_aligned(y_off | x_off);
    y += y_off;
    x += x_off;
    if (VEC * i + VEC <= n)
        storev(loadv(y, i, al) + loadv(x, i, al), y, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            y[j] += x[j];
}

/* y = alpha a + beta b */
kernel void add_axpby(int n, float alpha, global const float *a, int a_off, float beta,
                      global const float *b, int b_off, global float *y, int y_off)
{
    int i = get_global_id(0), al = vec_aligned(a_off | b_off | y_off);
    a += a_off;
    b += b_off;
    y += y_off;
    if (VEC * i + VEC <= n)
        storev(alpha * loadv(a, i, al) + beta * loadv(b, i, al), y, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            y[j] = alpha * a[j] + beta * b[j];
}

/* x[i, i] += value for i < min(rows, cols) of a row-major [rows, cols] matrix */
kernel void add_diagonal(int n, int cols, float value, global float *x, int x_off)
{
    int i = get_global_id(0);
    if (i < n)
        x[x_off + i * cols + i] += value;
}
