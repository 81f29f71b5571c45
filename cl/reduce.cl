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
