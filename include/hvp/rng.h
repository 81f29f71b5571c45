/* Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). The same function runs
 * on the host (here) and on the device (cl/common.cl), so a random draw depends only on
 * (key, counter): e.g. (seed, epoch, sample, view), never on threads or batch layout. */
#ifndef HVP_RNG_H
#define HVP_RNG_H

#include <stdint.h>

typedef struct hvp_philox_out {
    uint32_t v[4];
} hvp_philox_out;

hvp_philox_out hvp_philox(uint64_t key, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3);

/* Uniform in [0, 1) with 24 random bits, the same mapping as the device's. */
float hvp_u32_to_unit(uint32_t x);

/* A stream of draws for one (key, c0, c1, c2): handy for sampling many parameters of one
 * view in a fixed order. */
typedef struct hvp_rng_stream {
    uint64_t key;
    uint32_t c0, c1, c2, next_block;
    hvp_philox_out block;
    int used; /* of block.v */
} hvp_rng_stream;

hvp_rng_stream hvp_rng_stream_init(uint64_t key, uint32_t c0, uint32_t c1, uint32_t c2);
uint32_t hvp_rng_u32(hvp_rng_stream *s);
/* Uniform in [lo, hi). */
double hvp_rng_uniform(hvp_rng_stream *s, double lo, double hi);

#endif
