/* Linear layer helpers; the products themselves go through GEMM (src/ops/gemm.c). */

/* y[m, n] += b[n] over an [M, N] output. */
kernel void linear_fwd_bias(int rows, int cols, global float *y, int y_off, global const float *b,
                            int b_off)
{
    int i = get_global_id(0);
    if (i < rows * cols)
        y[y_off + i] += b[b_off + i % cols];
}

/* db[n] += sum over m of dy[m, n]: one work-item per column, rows summed in order (a
 * deterministic reduction; neighbouring work-items read neighbouring columns). */
kernel void linear_bwd_bias(int rows, int cols, global const float *dy, int dy_off,
                            global float *db, int db_off)
{
    int c = get_global_id(0);
    if (c >= cols)
        return;
    float s = 0.0f;
    for (int r = 0; r < rows; r++)
        s += dy[dy_off + r * cols + c];
    db[db_off + c] += s;
}
