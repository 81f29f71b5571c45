/* Prepended to every program (see src/runtime/program.c). */

/* Philox4x32-10: the twin of src/rng.c, so host and device draw identical numbers. */
inline uint4 philox4x32(uint2 key, uint4 c)
{
    for (int round = 0; round < 10; round++) {
        uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ key.x, lo1, hi0 ^ c.w ^ key.y, lo0);
        key += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

/* The one argmax rule (torch.argmax's): NaN is larger than every number, so the first NaN
 * wins, and ties go to the lower index. Whether v, met after best, replaces it. */
inline int argmax_beats(float v, float best) { return !isnan(best) && (isnan(v) || v > best); }

/* Uniform in [0, 1) with 24 random bits (hvp_u32_to_unit on the host). */
inline float u32_to_unit(uint x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

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

/* Maximum of v over the work-group, like group_sum (fmax: NaN is ignored unless every
 * value is NaN). */
inline float group_max(float v, local float *s)
{
    int lid = get_local_id(0), n = get_local_size(0), p = 1;
    s[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    while (p < n)
        p <<= 1;
    for (int h = p >> 1; h > 0; h >>= 1) {
        if (lid < h && lid + h < n)
            s[lid] = fmax(s[lid], s[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* ---- elementwise kernels -------------------------------------------------------------
 * Work-item i takes elements [VEC i, VEC i + VEC) as one float16 (hvp_launch_vec launches
 * ceil(n / VEC) items): a full vector with loadv / storev, the tail (the last item's n % VEC
 * elements) with scalars. Explicit wide vectors are what make PoCL use the CPU's vector
 * units (it vectorises across work-items only when their bodies do not branch); on GPUs an
 * item reads 64 contiguous bytes. */
#define VEC 16
typedef float16 floatv;

/* Whether element offsets (or-ed together) allow floatv pointer accesses: buffers are
 * 256-byte aligned, so an offset that is a multiple of VEC is. */
inline int vec_aligned(int offsets) { return (offsets & (VEC - 1)) == 0; }

/* Vector i of p (elements VEC i .. VEC i + VEC - 1); vload16 needs only float alignment. */
inline floatv loadv(global const float *p, int i, int aligned)
{
    return aligned ? ((global const floatv *)p)[i] : vload16(i, p);
}

inline void storev(floatv v, global float *p, int i, int aligned)
{
    if (aligned)
        ((global floatv *)p)[i] = v;
    else
        vstore16(v, i, p);
}

/* out's vector v becomes s, or out + s when acc (accumulating into a gradient). */
inline void put_or_add(floatv s, global float *out, int v, int acc, int aligned)
{
    storev(acc ? loadv(out, v, aligned) + s : s, out, v, aligned);
}

/* Horizontal sum and maximum of a floatv, halves combined pairwise (a fixed order: lane k
 * with lane k + 8, then k + 4, k + 2, k + 1). On named scalar lanes; through a private
 * array (the same order) on Oclgrind 21.10, which crashes on the shuffles that the compiler
 * makes of the lanes (and reported an uninitialised value with .lo / .hi swizzles). The
 * private array cost PoCL about 26 ns a call, a quarter of the ViT-S attention softmax. */
#ifdef HVP_OCLGRIND
#define HREDUCE(op, v)                                                                       \
    float t[VEC];                                                                            \
    vstore16(v, 0, t);                                                                       \
    for (int w = VEC / 2; w > 0; w /= 2)                                                     \
        for (int k = 0; k < w; k++)                                                          \
            t[k] = op(t[k], t[k + w]);                                                       \
    return t[0]
#else
#define HREDUCE(op, v)                                                                       \
    return op(op(op(op((v).s0, (v).s8), op((v).s4, (v).sc)),                                \
                 op(op((v).s2, (v).sa), op((v).s6, (v).se))),                                \
              op(op(op((v).s1, (v).s9), op((v).s5, (v).sd)),                                 \
                 op(op((v).s3, (v).sb), op((v).s7, (v).sf))))
#endif
#define HADD(a, b) ((a) + (b))

inline float hsum(floatv v) { HREDUCE(HADD, v); }

inline float hmax(floatv v) { HREDUCE(fmax, v); }
