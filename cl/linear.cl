/* Linear layer helpers; the products go through GEMM (src/ops/gemm.c), the bias gradient
 * through col_sums (cl/reduce.cl). */

/* y[m, n] += b[n] over an [M, N] output, launched as (ceil(N / VEC), M): VEC columns of one
 * row per work-item (cl/common.cl), scalars for the row's tail. */
kernel void linear_fwd_bias(int rows, int cols, global float *y, int y_off, global const float *b,
                            int b_off)
{
    int v = get_global_id(0), r = get_global_id(1);
    if (r >= rows)
        return;
    int yo = y_off + r * cols, al = vec_aligned(yo), alb = vec_aligned(b_off);
    y += yo;
    b += b_off;
    if (VEC * v + VEC <= cols)
        storev(loadv(y, v, al) + loadv(b, v, alb), y, v, al);
    else
        for (int c = VEC * v; c < cols; c++)
            y[c] += b[c];
}
