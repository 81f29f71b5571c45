/* Gather rows, y[i, :] = x[idx[i], :], and its deterministic backward
 * dx[j, :] = sum over i with idx[i] == j of dy[i, :], summed in increasing i without
 * atomics: per source row the first i that picks it and, per i, the next one. An index
 * outside [0, m) gives a NaN row in y (never an out-of-bounds read) and is ignored by the
 * backward. */

kernel void gather_fwd(int n, int cols, int m, global const float *x, int x_off,
                       global const int *idx, int idx_off, global float *y, int y_off)
{
    int g = get_global_id(0);
    if (g >= n * cols)
        return;
    int i = g / cols, c = g - i * cols, j = idx[idx_off + i];
    y[y_off + g] = (j >= 0 && j < m) ? x[x_off + (size_t)j * cols + c] : NAN;
}

/* first[j] = the smallest i with idx[i] == j, or -1. */
kernel void gather_bwd_first(int n, int m, global const int *idx, int idx_off,
                             global int *first, int first_off)
{
    int j = get_global_id(0);
    if (j >= m)
        return;
    int f = -1;
    for (int i = n - 1; i >= 0; i--)
        if (idx[idx_off + i] == j)
            f = i;
    first[first_off + j] = f;
}

/* next[i] = the smallest i' > i with idx[i'] == idx[i], or -1. */
kernel void gather_bwd_next(int n, global const int *idx, int idx_off, global int *next,
                            int next_off)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    int j = idx[idx_off + i], nx = -1;
    for (int k = i + 1; k < n && nx < 0; k++)
        if (idx[idx_off + k] == j)
            nx = k;
    next[next_off + i] = nx;
}

kernel void gather_bwd(int m, int cols, global const int *first, int first_off,
                       global const int *next, int next_off, global const float *dy, int dy_off,
                       global float *dx, int dx_off)
{
    int g = get_global_id(0);
    if (g >= m * cols)
        return;
    int j = g / cols, c = g - j * cols;
    float s = 0.0f;
    for (int i = first[first_off + j]; i >= 0; i = next[next_off + i])
        s += dy[dy_off + (size_t)i * cols + c];
    dx[dx_off + g] = s;
}
