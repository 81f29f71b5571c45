/* Philox4x32-10 on the host; cl/common.cl holds the device twin. */
#include "hvp/rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

hvp_philox_out hvp_philox(uint64_t key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3)
{
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    uint32_t c[4] = {c0, c1, c2, c3};
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c[0];
        uint64_t p1 = (uint64_t)PHILOX_M1 * c[2];
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c[0] = hi1 ^ c[1] ^ k0;
        c[1] = lo1;
        c[2] = hi0 ^ c[3] ^ k1;
        c[3] = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    hvp_philox_out out = {{c[0], c[1], c[2], c[3]}};
    return out;
}

float hvp_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

hvp_rng_stream hvp_rng_stream_init(uint64_t key, uint32_t c0, uint32_t c1, uint32_t c2)
{
    hvp_rng_stream s = {key, c0, c1, c2, 0, {{0, 0, 0, 0}}, 4};
    return s;
}

uint32_t hvp_rng_u32(hvp_rng_stream *s)
{
    if (s->used == 4) {
        s->block = hvp_philox(s->key, s->c0, s->c1, s->c2, s->next_block++);
        s->used = 0;
    }
    return s->block.v[s->used++];
}

double hvp_rng_uniform(hvp_rng_stream *s, double lo, double hi)
{
    /* 53 random bits from two draws, so doubles are as fine-grained as torch's. */
    uint64_t a = hvp_rng_u32(s) >> 5, b = hvp_rng_u32(s) >> 6;
    double u = ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}
