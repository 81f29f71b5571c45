/* Per-row argmax of x [rows, cols] into I32 idx [rows] by argmax_beats (cl/common.cl):
 * ties go to the lowest index, the first NaN of a row wins (torch.argmax).
 * Optionally the winning values too. One work-item per row (rows of pair scores are short). */

kernel void argmax_fwd(int rows, int cols, global const float *x, int x_off, global int *idx,
                       int idx_off, int want_vals, global float *vals, int vals_off)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    const global float *xr = x + x_off + (size_t)r * cols;
    float best = xr[0];
    int bi = 0;
    for (int j = 1; j < cols; j++) {
        float v = xr[j];
        if (argmax_beats(v, best)) {
            best = v;
            bi = j;
        }
    }
    idx[idx_off + r] = bi;
    if (want_vals)
        vals[vals_off + r] = best;
}
