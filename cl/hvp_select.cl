/* The pairwise-loss reduction of hard view selection: per sample the argmax over its
 * pairs' losses by argmax_beats (cl/common.cl: ties to the lowest pair index, a NaN loss
 * wins, as torch.argmax, so that the step's loss shows it), or a random pair for the
 * samples drawn to keep one; writes the rows to gather for the chosen views. A sample's
 * draw is keyed by its place in the global batch (s * world + rank: data-parallel ranks
 * hold every world-th image), so K ranks draw what one device draws. */

kernel void hvp_select_pairs(int b, int npairs, int scored, global const float *scores,
                             int scores_off, global const int *pairs, int pairs_off,
                             uint seed_lo, uint seed_hi, uint step, float random_fraction,
                             int rank, int world, global int *rows, int rows_off, global int *chosen, int chosen_off)
{
    int s = get_global_id(0);
    if (s >= b)
        return;
    uint4 r = philox4x32((uint2)(seed_lo, seed_hi), (uint4)((uint)(s * world + rank), step, 0x5e1ec7u, 0u));
    int best = (int)(r.y % (uint)npairs);
    if (scored && u32_to_unit(r.x) >= random_fraction) {
        best = 0;
        float top = scores[scores_off + s];
        for (int k = 1; k < npairs; k++) {
            float v = scores[scores_off + k * b + s];
            if (argmax_beats(v, top)) {
                top = v;
                best = k;
            }
        }
    }
    rows[rows_off + s] = pairs[pairs_off + 2 * best] * b + s;
    rows[rows_off + b + s] = pairs[pairs_off + 2 * best + 1] * b + s;
    chosen[chosen_off + s] = best;
}
