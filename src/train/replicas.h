/* Data-parallel training's collectives over the trainer's state (every rank calls each,
 * in the same order): gradients averaged, selection statistics summed, replicas checked. */
#ifndef HVP_TRAIN_REPLICAS_H
#define HVP_TRAIN_REPLICAS_H

#include <stdint.h>

#include "hvp/select.h"
#include "hvp/nn.h"

/* Every rank's gradients averaged, bitwise the same on every rank, through host memory
 * (*host: a buffer kept between steps, allocated on first use). */
hvp_status hvp_replicas_average_gradients(hvp_ctx *ctx, const hvp_state *s, float **host);
/* The selection statistics (losses, scored samples, wins) of every rank's images, summed. */
hvp_status hvp_replicas_sum_selection(hvp_selector *sel);
/* An error naming the first rank whose parameters and buffers differ from rank 0's after
 * step; *hash gets rank 0's FNV-1a of them. */
hvp_status hvp_replicas_check(hvp_ctx *ctx, const hvp_state *s, long step, uint64_t *hash);

#endif
