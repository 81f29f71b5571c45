/* The pairwise-loss reduction of hard view selection: per sample the argmax over its
 * pairs' losses by argmax_beats (cl/common.cl: ties to the lowest pair index, a NaN loss
 * wins, as torch.argmax, so that the step's loss shows it), or a random pair for the
 * samples drawn to keep one and for those not scored (samples nscored.. of the batch:
 * scores is [npairs, nscored]); writes the rows to gather for the chosen views. A
 * sample's draw is keyed by its place in the global batch (s * world + rank: data-parallel
 * ranks hold every world-th image), so K ranks draw what one device draws. */

kernel void hvp_select_pairs(int b, int npairs, int nscored, global const float *scores,
                             int scores_off, global const int *pairs, int pairs_off,
                             uint seed_lo, uint seed_hi, uint step, float random_fraction,
                             int rank, int world, global int *rows, int rows_off,
                             global int *chosen, int chosen_off)
{
    int s = get_global_id(0);
    if (s >= b)
        return;
    uint4 r = philox4x32((uint2)(seed_lo, seed_hi),
                         (uint4)((uint)(s * world + rank), step, 0x5e1ec7u, 0u));
    int best = (int)(r.y % (uint)npairs);
    if (s < nscored && u32_to_unit(r.x) >= random_fraction) {
        best = 0;
        float top = scores[scores_off + s];
        for (int k = 1; k < npairs; k++) {
            float v = scores[scores_off + k * nscored + s];
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

/* Local-crop selection, after hvp_select_pairs: per sample the combination (pair q, L of
 * the M local candidates) of the highest score[q] + sum of local[q, l] over its locals,
 * added in ascending local order. combos NULL-like (ncombos 0): every combination, found
 * exactly as each pair with its L best locals (argmax_beats, ties to the lower local), the
 * best pair by argmax_beats (ties to the lower pair); else the ncombos rows of (pair, L
 * ascending locals), ties to the row listed first. A sample hvp_select_pairs gave a random
 * pair (not scored, or drawn by random_fraction) keeps it with candidates 0..L-1. Rewrites
 * rows and chosen of the chosen pair; local_rows [L*b] the rows of the kept candidates to
 * gather (slot j of sample s at j*b + s), locals [L*b] their indices. */
#define MAX_LOCAL_WORDS 4 /* HVP_MAX_VIEWS (128) bits */

/* The L best of M locals of pair q, as bits of taken; returns score[q] + their sum. */
static float best_locals(int b, int s, int q, int m, int l, float pair_score,
                         global const float *lsc, uint *taken)
{
    for (int w = 0; w < MAX_LOCAL_WORDS; w++)
        taken[w] = 0;
    for (int j = 0; j < l; j++) {
        int best = -1;
        float top = 0.0f;
        for (int c = 0; c < m; c++) {
            if (taken[c >> 5] & (1u << (c & 31)))
                continue;
            float v = lsc[((size_t)q * m + c) * b + s];
            if (best < 0 || argmax_beats(v, top)) {
                top = v;
                best = c;
            }
        }
        taken[best >> 5] |= 1u << (best & 31);
    }
    float total = pair_score;
    for (int c = 0; c < m; c++)
        if (taken[c >> 5] & (1u << (c & 31)))
            total += lsc[((size_t)q * m + c) * b + s];
    return total;
}

kernel void hvp_select_locals(int b, int npairs, int m, int l, int scored,
                              global const float *scores, int scores_off,
                              global const float *local_scores, int local_off,
                              int ncombos, global const int *combos, int combos_off,
                              global const int *pairs, int pairs_off, uint seed_lo,
                              uint seed_hi, uint step, float random_fraction, int rank,
                              int world, global int *rows, int rows_off, global int *chosen,
                              int chosen_off,
                              global int *local_rows, int local_rows_off, global int *locals,
                              int locals_off)
{
    int s = get_global_id(0);
    if (s >= b)
        return;
    global const float *score = scores + scores_off;
    global const float *lsc = local_scores + local_off;
    uint taken[MAX_LOCAL_WORDS];
    for (int w = 0; w < MAX_LOCAL_WORDS; w++)
        taken[w] = 0;
    for (int c = 0; c < l; c++) /* a random pair's locals: the first L candidates */
        taken[c >> 5] |= 1u << (c & 31);
    /* the draw of hvp_select_pairs: was this sample's pair random? */
    uint4 r = philox4x32((uint2)(seed_lo, seed_hi),
                         (uint4)((uint)(s * world + rank), step, 0x5e1ec7u, 0u));
    if (scored && u32_to_unit(r.x) >= random_fraction) {
        int best = -1;
        float top = 0.0f;
        if (ncombos == 0) {
            uint keep[MAX_LOCAL_WORDS];
            for (int q = 0; q < npairs; q++) {
                float v = best_locals(b, s, q, m, l, score[(size_t)q * b + s], lsc, keep);
                if (best < 0 || argmax_beats(v, top)) {
                    top = v;
                    best = q;
                    for (int w = 0; w < MAX_LOCAL_WORDS; w++)
                        taken[w] = keep[w];
                }
            }
        } else {
            int bestk = 0;
            for (int k = 0; k < ncombos; k++) {
                global const int *row = combos + combos_off + k * (1 + l);
                float v = score[(size_t)row[0] * b + s];
                for (int j = 0; j < l; j++)
                    v += lsc[((size_t)row[0] * m + row[1 + j]) * b + s];
                if (best < 0 || argmax_beats(v, top)) {
                    top = v;
                    best = row[0];
                    bestk = k;
                }
            }
            global const int *row = combos + combos_off + bestk * (1 + l);
            for (int w = 0; w < MAX_LOCAL_WORDS; w++)
                taken[w] = 0;
            for (int j = 0; j < l; j++)
                taken[row[1 + j] >> 5] |= 1u << (row[1 + j] & 31);
        }
        rows[rows_off + s] = pairs[pairs_off + 2 * best] * b + s;
        rows[rows_off + b + s] = pairs[pairs_off + 2 * best + 1] * b + s;
        chosen[chosen_off + s] = best;
    }
    int j = 0;
    for (int c = 0; c < m; c++)
        if (taken[c >> 5] & (1u << (c & 31))) {
            local_rows[local_rows_off + j * b + s] = c * b + s;
            locals[locals_off + j * b + s] = c;
            j++;
        }
}
