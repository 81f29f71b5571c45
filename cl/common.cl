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

/* group_sum / group_max over the items of a row (dimension 0 of the group), or v itself
 * where one item takes the whole row: `grouped` is a literal at each call, 0 in the row
 * kernels' *_item twins (CPUs), which then hold no barrier at all. PoCL runs a kernel with
 * barriers as loops over the group's items between them, saving and restoring each item's
 * state at every barrier (cross-entropy at SimCLR's [512, 512], two items per row: more
 * time than in its exponentials). (A branch on get_local_size(0) == 1 inside group_sum
 * instead, barriers under it, made PoCL 3.1 compute the first row of each group wrongly
 * in place: l2norm_bwd with dx = dy.) */
inline float row_sum(float v, local float *s, int grouped) { return grouped ? group_sum(v, s) : v; }

inline float row_max(float v, local float *s, int grouped) { return grouped ? group_max(v, s) : v; }

/* ---- elementwise kernels -------------------------------------------------------------
 * Work-item i takes elements [VEC i, VEC i + VEC) as one float16 (hvp_launch_elementwise
 * with HVP_VEC per item launches ceil(n / VEC) items): a full vector with loadv / storev,
 * the tail (the last item's n % VEC elements) with scalars. Explicit wide vectors are what
 * make PoCL use the CPU's vector units (it vectorises across work-items only when their
 * bodies do not branch); on GPUs an item reads 64 contiguous bytes. */
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

/* floatv at float alignment: a typedef may lower alignment (OpenCL C 6.11.1). PoCL made 4
 * 16-byte stores of a vstore16, one store of this (ViT-S attention softmax, 197-wide rows:
 * about 10% faster). */
typedef float16 floatv_unaligned __attribute__((aligned(4)));

inline void storev(floatv v, global float *p, int i, int aligned)
{
    if (aligned)
        ((global floatv *)p)[i] = v;
    else
        *(global floatv_unaligned *)(p + VEC * i) = v;
}

/* A row's tail, its last n % VEC elements after n / VEC whole vectors, as one more vector
 * (scalar exponentials for the 5 of a 197-wide attention row took a third of the softmax's
 * time on a CPU): in rows of at least VEC the row's last VEC elements, from tail_start(n),
 * whose lanes below VEC - n % VEC repeat the last whole vector; in shorter rows the n
 * elements through a private array, the other lanes 0. tail_lanes(n) is true in the tail's
 * own lanes. store_tail writes those lanes only: the others get back what they hold, so the
 * tail must be taken by the item of the last whole vector (tail_item) after it. */
inline int tail_start(int n) { return n >= VEC ? n - VEC : 0; }

inline int tail_item(int n, int lsz) { return max(n / VEC - 1, 0) % lsz; }

inline int16 tail_lanes(int n)
{
    int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    return n >= VEC ? lane >= VEC - n % VEC : lane < n;
}

inline floatv load_tail(const global float *row, int n)
{
    if (n >= VEC)
        return vload16(0, row + n - VEC);
    float t[VEC];
    for (int k = 0; k < VEC; k++)
        t[k] = k < n ? row[k] : 0.0f;
    return vload16(0, t);
}

inline void store_tail(floatv v, global float *row, int n)
{
    if (n >= VEC) {
        storev(select(vload16(0, row + n - VEC), v, tail_lanes(n)), row + n - VEC, 0, 0);
        return;
    }
    float t[VEC];
    vstore16(v, 0, t);
    for (int k = 0; k < n; k++)
        row[k] = t[k];
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

/* exp(x) for x <= 0, lane-wise (the row kernels subtract a maximum first): x log2(e) = n + f
 * with n an integer and |f| <= 1/2 (rounded by adding 1.5 * 2^23, which leaves n in the low
 * bits), 2^f by Cephes exp2f's polynomial (relative error 1.7e-7), times 2^n built in the
 * exponent bits. 0 where the result would be under 2^-126 (no denormals); NaN stays NaN,
 * -INFINITY gives 0. PoCL's exp (SLEEF's) takes twice the instructions; cross-entropy and
 * softmax spend most of their time on a CPU here: 15-35% less with this one. */
inline floatv exp_nonpos(floatv x)
{
    floatv t = x * M_LOG2E_F;
    t = select(t, (floatv)-127.0f, t < -127.0f); /* 2^-127 and below: 0 (NaN passes) */
    floatv k = t + 12582912.0f;                   /* n + 1.5 * 2^23, exactly */
    floatv f = t - (k - 12582912.0f);
    floatv p = fma(1.535336188319500e-4f, f, 1.339887440266574e-3f);
    p = fma(p, f, 9.618437357674640e-3f);
    p = fma(p, f, 5.550332471162809e-2f);
    p = fma(p, f, 2.402264791363012e-1f);
    p = fma(p, f, 6.931472028550421e-1f);
    p = fma(p, f, 1.0f);
    /* The low bits of k hold n (two's complement): shifted into the exponent, + 127. */
    return p * as_float16((as_int16(k) << 23) + 0x3f800000);
}

/* Lane-wise running maximum: fmax(m, v) for an m that is not NaN (one from -INFINITY never
 * is; NaN in v is passed over), in one x86 instruction instead of fmax's four. */
inline floatv vmax(floatv m, floatv v) { return select(m, v, v > m); }
