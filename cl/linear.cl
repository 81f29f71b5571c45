/* Linear layer helpers; the products go through GEMM (src/ops/gemm.c), the bias gradient
 * through col_sums (cl/reduce.cl). */

/* y[m, n] += b[n] over an [M, N] output. */
kernel void linear_fwd_bias(int rows, int cols, global float *y, int y_off, global const float *b,
                            int b_off)
{
    int i = get_global_id(0);
    if (i < rows * cols)
        y[y_off + i] += b[b_off + i % cols];
}
