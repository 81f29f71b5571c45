/* Dropout and drop-path with masks drawn from Philox (cl/common.cl), so the backward
 * regenerates the forward's mask instead of storing it, and a mask depends only on
 * (seed, step, layer, index), never on work-group sizes. An element (or sample) is kept
 * when its uniform draw u32_to_unit(word) >= p; kept values are scaled by 1 / (1 - p).
 *   dropout:   word of element i = philox(seed, (i / 4, step, layer, 0))[i % 4]
 *   drop-path: word of sample s  = philox(seed, (s * world + rank, step, layer, 1))[0]
 *              (rank 0 of 1 but on data-parallel ranks, whose sample s is sample
 *              s * world + rank of the global batch: K ranks drop what one device drops)
 * src/ops/dropout.c and the host reference (hvp_philox) follow the same formulas. */

/* One work-item per 4 consecutive elements (one Philox call). dx = dy * mask * scale is the
 * same map, so the backward runs this kernel body too. out may be in. */
inline void dropout_apply(int n, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                          float scale, global const float *in, int in_off, global float *out,
                          int out_off)
{
    int g = get_global_id(0);
    if (g >= (n + 3) / 4)
        return;
    uint4 w = philox4x32((uint2)(seed_lo, seed_hi), (uint4)((uint)g, step, layer, 0u));
    uint words[4] = {w.x, w.y, w.z, w.w};
    for (int k = 0; k < 4; k++) {
        int i = 4 * g + k;
        if (i < n)
            out[out_off + i] = u32_to_unit(words[k]) >= p ? in[in_off + i] * scale : 0.0f;
    }
}

kernel void dropout_fwd(int n, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                        float scale, global const float *x, int x_off, global float *y, int y_off)
{
    dropout_apply(n, seed_lo, seed_hi, step, layer, p, scale, x, x_off, y, y_off);
}

kernel void dropout_bwd(int n, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                        float scale, global const float *dy, int dy_off, global float *dx,
                        int dx_off)
{
    dropout_apply(n, seed_lo, seed_hi, step, layer, p, scale, dy, dy_off, dx, dx_off);
}

/* The raw words behind dropout masks (word i as above), to check host and device agree. */
kernel void dropout_bits(int n, uint seed_lo, uint seed_hi, uint step, uint layer,
                         global uint *out, int out_off)
{
    int g = get_global_id(0);
    if (g >= (n + 3) / 4)
        return;
    uint4 w = philox4x32((uint2)(seed_lo, seed_hi), (uint4)((uint)g, step, layer, 0u));
    uint words[4] = {w.x, w.y, w.z, w.w};
    for (int k = 0; k < 4; k++)
        if (4 * g + k < n)
            out[out_off + 4 * g + k] = words[k];
}

/* Drop-path over [samples, per], launched as (ceil(per / VEC), samples) with work-groups
 * inside one sample: the group's first item draws the sample's Philox word once, and every
 * item scales its VEC elements (cl/common.cl) by 0 or `scale`. */
inline void drop_path_apply(int per, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                            float scale, int rank, int world, global const float *in, int in_off, global float *out,
                            int out_off, local float *keep)
{
    int i = get_global_id(0), s = get_global_id(1);
    if (get_local_id(0) == 0) {
        uint w = philox4x32((uint2)(seed_lo, seed_hi), (uint4)((uint)(s * world + rank), step, layer, 1u)).x;
        *keep = u32_to_unit(w) >= p ? scale : 0.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    float k = *keep; /* 0: a dropped sample's elements become 0 whatever they hold (NaN too) */
    in += in_off + s * per;
    out += out_off + s * per;
    int al = vec_aligned((in_off + s * per) | (out_off + s * per));
    if (VEC * i + VEC <= per)
        storev(k != 0.0f ? loadv(in, i, al) * k : (floatv)0.0f, out, i, al);
    else /* the row's tail */
        for (int j = VEC * i; j < per; j++)
            out[j] = k != 0.0f ? in[j] * k : 0.0f;
}

kernel void dropout_fwd_path(int per, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                             float scale, int rank, int world, global const float *x, int x_off,
                             global float *y, int y_off)
{
    local float keep;
    drop_path_apply(per, seed_lo, seed_hi, step, layer, p, scale, rank, world, x, x_off, y, y_off,
                    &keep);
}

kernel void dropout_bwd_path(int per, uint seed_lo, uint seed_hi, uint step, uint layer, float p,
                             float scale, int rank, int world, global const float *dy,
                             int dy_off, global float *dx, int dx_off)
{
    local float keep;
    drop_path_apply(per, seed_lo, seed_hi, step, layer, p, scale, rank, world, dy, dy_off, dx,
                    dx_off, &keep);
}
