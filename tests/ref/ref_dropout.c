#include "hvp/rng.h"
#include "ref.h"

/* The masks of hvp_dropout_* / hvp_drop_path_*, from the host twin of the device's Philox:
 * mask = 1 / (1 - p) where kept, 0 where dropped (the same float comparison as the kernel). */
void ref_dropout_mask(double *mask, size_t n, double p, unsigned long long seed, unsigned step,
                      unsigned layer)
{
    for (size_t i = 0; i < n; i++) {
        hvp_philox_out w = hvp_philox(seed, (uint32_t)(i / 4), step, layer, 0);
        mask[i] = hvp_u32_to_unit(w.v[i % 4]) >= (float)p ? 1.0 / (1.0 - p) : 0.0;
    }
}

void ref_drop_path_mask(double *mask, int samples, double p, unsigned long long seed,
                        unsigned step, unsigned layer)
{
    for (int s = 0; s < samples; s++) {
        hvp_philox_out w = hvp_philox(seed, (uint32_t)s, step, layer, 1);
        mask[s] = hvp_u32_to_unit(w.v[0]) >= (float)p ? 1.0 / (1.0 - p) : 0.0;
    }
}
