#include <math.h>

#include "harness.h"

/* Known answers for Philox4x32-10 from Random123's kat_vectors. */
HVP_TEST(philox_known_answers)
{
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t i = 0; i < sizeof kat / sizeof kat[0]; i++) {
        uint64_t key = (uint64_t)kat[i].key[1] << 32 | kat[i].key[0];
        hvp_philox_out o = hvp_philox(key, kat[i].ctr[0], kat[i].ctr[1], kat[i].ctr[2], kat[i].ctr[3]);
        for (int j = 0; j < 4; j++)
            EXPECT(o.v[j] == kat[i].out[j], "vector %zu word %d: %08x, want %08x", i, j, o.v[j],
                   kat[i].out[j]);
    }
}

HVP_TEST(rng_stream_uniform_range_and_mean)
{
    hvp_rng_stream s = hvp_rng_stream_init(42, 1, 2, 3);
    double sum = 0;
    int n = 10000;
    for (int i = 0; i < n; i++) {
        double u = hvp_rng_uniform(&s, 2.0, 3.0);
        EXPECT(u >= 2.0 && u < 3.0, "draw %d = %g outside [2, 3)", i, u);
        sum += u;
    }
    /* Standard error of the mean is 0.29 / sqrt(n) = 0.003; allow 5 of them. */
    EXPECT(fabs(sum / n - 2.5) < 0.015, "mean %g, want 2.5", sum / n);
}
