/* Deterministic reductions of a whole tensor: each work-group sums a fixed strided share of
 * the elements (or their squares) and writes one partial; the same kernel with one group
 * then sums the partials. The order depends only on n and the launch shape. */

/* out[g] = post(sum of x[i] (squared if square) over group g's contiguous share of the
 * elements, item lid taking every L-th from lid), where post is sqrt (if take_sqrt) then
 * division by div. Contiguous shares stream through caches on CPUs; within a share the
 * items read adjacent elements, as GPUs want. */
kernel void reduce_fwd(int n, global const float *x, int x_off, int square, global float *out,
                       int out_off, int take_sqrt, float div, local float *scratch)
{
    int g = get_group_id(0), groups = get_num_groups(0), lid = get_local_id(0);
    int l = get_local_size(0);
    long share = (((long)n + groups - 1) / groups + l - 1) / l * l; /* a multiple of l */
    int begin = (int)min((long)n, g * share), end = (int)min((long)n, (g + 1) * share);
    float s = 0.0f;
    for (int i = begin + lid; i < end; i += l) {
        float v = x[x_off + i];
        s += square ? v * v : v;
    }
    s = group_sum(s, scratch);
    if (lid == 0) {
        if (take_sqrt)
            s = sqrt(s);
        out[out_off + g] = s / div;
    }
}

/* col_sums' first level for CPUs (ctx->row_per_item), launched as (chunks): item g streams
 * chunk g's rows front to back and adds each into row g of out [chunks, cols], which stays
 * in its cache, instead of walking down columns; the same sums in the same order. */
kernel void col_sums_rows(int rows, int cols, int chunk, global const float *in, int in_off,
                          global float *out, int out_off)
{
    int g = get_global_id(0), r0 = g * chunk, r1 = min(rows, r0 + chunk), nv = cols / VEC;
    if (r0 >= rows)
        return;
    in += in_off + r0 * cols;
    out += out_off + g * cols;
    int al = vec_aligned(in_off | cols), alo = vec_aligned(out_off | cols);
    for (int v = 0; v < nv; v++)
        storev(loadv(in, v, al), out, v, alo);
    for (int c = VEC * nv; c < cols; c++)
        out[c] = in[c];
    for (int r = r0 + 1; r < r1; r++) {
        in += cols;
        for (int v = 0; v < nv; v++)
            storev(loadv(out, v, alo) + loadv(in, v, al), out, v, alo);
        for (int c = VEC * nv; c < cols; c++)
            out[c] += in[c];
    }
}

/* Column sums of in [rows, cols] over chunks of `chunk` rows (src/ops/col_sums.h), launched
 * as (ceil(cols / VEC), chunks): item (v, g) sums columns [VEC v, VEC v + VEC) over chunk g's
 * rows in row order into row g of out [chunks, cols], or, when acc (one chunk), adds them to
 * out [cols]. Neighbouring items read neighbouring columns of a row. */
kernel void col_sums(int rows, int cols, int chunk, global const float *in, int in_off,
                     global float *out, int out_off, int acc)
{
    int v = get_global_id(0), g = get_global_id(1), r0 = g * chunk, r1 = min(rows, r0 + chunk);
    if (r0 >= rows)
        return;
    in += in_off;
    out += out_off + (acc ? 0 : g * cols);
    if (VEC * v + VEC <= cols) {
        int al = vec_aligned(in_off | cols);
        floatv s = 0.0f;
        for (int r = r0; r < r1; r++)
            s += loadv(in + r * cols, v, al);
        put_or_add(s, out, v, acc, vec_aligned(out_off | (acc ? 0 : cols)));
    } else { /* the last columns, one at a time */
        for (int c = VEC * v; c < cols; c++) {
            float s = 0.0f;
            for (int r = r0; r < r1; r++)
                s += in[r * cols + c];
            out[c] = acc ? out[c] + s : s;
        }
    }
}
