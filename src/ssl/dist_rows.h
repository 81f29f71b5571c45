/* Rows of every data-parallel rank (hvp/dist.h), for losses over the global batch (SimCLR's
 * negatives, DINO's center): through host memory, in the one-device layout. A [views * b,
 * ...] tensor is view-major over this rank's b images; rank r's image k is image k * world
 * + r of the global batch (the sampler's split), so the gathered [views * b * world, ...]
 * tensor is what one device holding the whole batch would have. */
#ifndef HVP_SSL_DIST_ROWS_H
#define HVP_SSL_DIST_ROWS_H

#include "hvp/tensor.h"

/* global <- every rank's local rows, in the one-device order (from ctx->acts). */
hvp_status hvp_rows_allgather(hvp_ctx *ctx, const hvp_tensor *local, int views,
                              hvp_tensor *global);
/* local <- this rank's rows of global times scale (from ctx->acts, shaped as global with
 * views * b rows). */
hvp_status hvp_rows_mine(hvp_ctx *ctx, const hvp_tensor *global, int views, float scale,
                         hvp_tensor *local);

#endif
