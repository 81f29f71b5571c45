/* A packed parameter list (hvp_params_packed) as segments for the multi-tensor kernels of
 * cl/optim_flat.cl: per tensor its start in the region, size, group and flags, the chunks
 * a launch's work-groups take (each within one tensor), and a plan that reduces each
 * segment's L2 norm in the very order hvp_reduce reduces that tensor alone (so the norms,
 * and the steps that use them, are bitwise those of a launch per tensor). Device tables
 * live in ctx->params. */
#ifndef HVP_OPTIM_SEGMENTS_H
#define HVP_OPTIM_SEGMENTS_H

#include "hvp/optim.h"
#include "runtime/kernels.h"

/* Per-segment flags (the fourth entry of a segment's row). */
#define HVP_SEG_DECAY 1 /* weight decay applies (SGD, AdamW) */
#define HVP_SEG_ADAPT 2 /* LARS adapts it (and decays it) */

typedef struct hvp_segments {
    int n;                /* segments */
    hvp_tensor values, grads; /* the regions, F32 [total] */
    int *host_info;       /* [n, 4]: start, numel, group, flags */
    hvp_tensor info;      /* its device copy (I32) */
    int info_stale;       /* host_info changed since the upload */
    hvp_chunk_table chunks; /* of the update and clipping kernels */
    /* norms: stage 1 (one work-group per (segment, share) pair) writes partial sums of
     * squares, stage 2 (one work-group per segment) adds them up and takes the root */
    hvp_tensor norm_work; /* I32 [2 * work, 2]: virtual segment, share; segments of the
                           * values are 0..n-1, of the grads n..2n-1 */
    hvp_tensor norm_seg;  /* I32 [n, 7]: start, numel, share, items, shares, first partial,
                           * items of stage 2 */
    hvp_tensor partials;  /* F32 [2 * npartials] */
    hvp_tensor norms;     /* F32 [2 n]: ||value_i|| then ||grad_i|| */
    hvp_tensor total;     /* F32 [1]: a global gradient norm */
    int work, npartials;  /* per half */
    size_t local1, local2;
} hvp_segments;

/* NULL in *out (and HVP_OK) when the list is not packed. groups and flags per parameter
 * (NULL: all 0). */
hvp_status hvp_segments_create(hvp_ctx *ctx, const hvp_param *params, int n, const int *groups,
                               const int *flags, hvp_segments **out);
void hvp_segments_free(hvp_segments *s);
/* Sets a segment's group and flags (uploaded before the next kernel that reads them). */
void hvp_segments_set(hvp_segments *s, int i, int group, int flags);
/* Uploads the table if it changed (through the staging slots inside a step). */
hvp_status hvp_segments_sync(hvp_ctx *ctx, hvp_segments *s);
/* out[i] = ||grad_i|| (grads_only) or out[i] = ||value_i||, out[n + i] = ||grad_i||; out is
 * F32 [n] or [2 n]. Two launches. */
hvp_status hvp_segments_norms(hvp_ctx *ctx, hvp_segments *s, int grads_only,
                              const hvp_tensor *out);

/* The chunks of n tensors at element offsets start[i] of numel[i] elements (in
 * ctx->params), sized for the nkernels kernels given: 256 elements, fewer where one of
 * them allows fewer items per work-group (Rusticl's llvmpipe: 32). */
hvp_status hvp_chunks(hvp_ctx *ctx, const size_t *start, const size_t *numel, int n,
                      const hvp_kernel_id *kernels, int nkernels, hvp_chunk_table *out);
/* Launches a kernel of cl/optim_flat.cl over the chunks: one work-group per chunk. */
hvp_status hvp_launch_chunks(hvp_ctx *ctx, hvp_args *a, const hvp_chunk_table *c);

#endif
