/* Deterministic reductions of a whole tensor: each work-group sums a fixed strided share of
 * the elements (or their squares) and writes one partial; the same kernel with one group
 * then sums the partials. The order depends only on n and the launch shape. */

/* Sum of v over the work-group, returned to every item; correct for any group size. The
 * order is fixed by the group size, so results are bitwise reproducible. `s` holds
 * get_local_size(0) floats. Every item must call it (no divergent calls). */
inline float group_sum(float v, local float *s)
{
    int lid = get_local_id(0), n = get_local_size(0), p = 1;
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    while (p < n)
        p <<= 1;
    for (int h = p >> 1; h > 0; h >>= 1) {
        if (lid < h && lid + h < n)
            s[lid] += s[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* s may be reused at once */
    return r;
}

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
