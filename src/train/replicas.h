/* Data-parallel training's collectives over a model's state (every rank calls each, in the
 * same order): gradients averaged, the loss averaged, selection statistics summed,
 * replicas checked. Pretraining (train.c) and the supervised protocols (supervised.c) share
 * them. */
#ifndef HVP_TRAIN_REPLICAS_H
#define HVP_TRAIN_REPLICAS_H

#include <stdint.h>

#include "hvp/select.h"
#include "hvp/nn.h"

/* The gradients of params[0..n) averaged over the ranks, bitwise the same on every rank,
 * through host memory (*host: a buffer kept between steps for the same list, allocated on
 * first use). */
hvp_status hvp_replicas_average_gradients(hvp_ctx *ctx, const hvp_param *params, int n,
                                          float **host);
/* *loss, this rank's mean over its equal share of the global batch, <- the global batch's
 * mean (the mean over ranks). */
hvp_status hvp_replicas_mean_loss(double *loss);
/* The selection statistics (losses, scored samples, wins) of every rank's images, summed. */
hvp_status hvp_replicas_sum_selection(hvp_selector *sel);
/* An error naming the first rank whose parameters and buffers (of states[0..n), in order)
 * differ from rank 0's after step; *hash gets rank 0's FNV-1a of them. */
hvp_status hvp_replicas_check(hvp_ctx *ctx, const hvp_state *const *states, int n, long step,
                              uint64_t *hash);

#endif
