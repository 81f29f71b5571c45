/* Column sums in two levels with a fixed order (col_sums in cl/reduce.cl; on CPUs the first
 * level is col_sums_rows, the same sums in the same order): the rows are cut into chunks of
 * hvp_col_chunk(rows); each chunk's column sums become one row of partials, then the
 * partials are summed in order. The order depends only on the shape, so results
 * are bitwise the same run to run, and every level has columns x chunks of parallel work
 * (bias gradients: rows >> cols for tokens, cols >> rows for a classifier's batch). */
#ifndef HVP_COL_SUMS_H
#define HVP_COL_SUMS_H

#include "hvp/tensor.h"

/* Rows per chunk: at least 32 (partials a small share of the reads), at most 128 chunks. */
static inline int hvp_col_chunk(int rows)
{
    int c = (rows + 127) / 128;
    return c < 32 ? 32 : c;
}

/* One level: the chunk sums of in ([rows, cols] from in's offset; its shape is not used)
 * into the rows of out ([chunks, cols]), or, when acc (then chunk >= rows), added to out
 * [cols]. */
hvp_status hvp_col_sums(hvp_ctx *ctx, const hvp_tensor *in, int rows, int cols, int chunk,
                        const hvp_tensor *out, int acc);
/* Both levels: out [cols] += column sums of in [rows, cols]. Partials live in ctx->acts
 * while the kernels run (given back at once: the queue is in order). */
hvp_status hvp_col_sums_acc(hvp_ctx *ctx, const hvp_tensor *in, int rows, int cols,
                            const hvp_tensor *out);

#endif
