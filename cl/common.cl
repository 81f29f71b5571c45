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

/* Uniform in [0, 1) with 24 random bits (hvp_u32_to_unit on the host). */
inline float u32_to_unit(uint x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }
