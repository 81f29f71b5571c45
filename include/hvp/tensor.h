/* A tensor is a place in device memory: (buffer, element offset, shape, dtype). It owns
 * nothing; arenas own the memory. Up/download exist for tests and file IO. */
#ifndef HVP_TENSOR_H
#define HVP_TENSOR_H

#include <stddef.h>

#include "hvp/runtime.h"

#define HVP_MAX_DIMS 6

typedef enum hvp_dtype { HVP_F32 = 0, HVP_I32, HVP_U8 } hvp_dtype;

typedef struct hvp_tensor {
    cl_mem buf;
    size_t off; /* in elements of dtype from the start of buf */
    int ndim;
    int shape[HVP_MAX_DIMS];
    hvp_dtype dtype;
} hvp_tensor;

size_t hvp_dtype_size(hvp_dtype t);
const char *hvp_dtype_name(hvp_dtype t);
size_t hvp_numel(const hvp_tensor *t);
size_t hvp_nbytes(const hvp_tensor *t);

/* Allocates from an arena; `what` names it in an out-of-memory message. */
hvp_status hvp_tensor_alloc(hvp_arena *a, hvp_dtype dtype, int ndim, const int *shape,
                            const char *what, hvp_tensor *out);
/* Shorthand for float tensors: hvp_alloc_f32(a, "x", &t, 2, (int[]){rows, cols}). */
hvp_status hvp_alloc_f32(hvp_arena *a, const char *what, hvp_tensor *out, int ndim,
                         const int *shape);

/* A tensor over the same memory starting `elem_offset` elements further, with a new
 * shape (which must fit; checked by the caller). */
hvp_tensor hvp_tensor_view(const hvp_tensor *t, size_t elem_offset, int ndim, const int *shape);

/* Blocking copies between host and device (tests, IO: never in a training step). */
hvp_status hvp_tensor_upload(hvp_ctx *ctx, const hvp_tensor *t, const void *host);
hvp_status hvp_tensor_download(hvp_ctx *ctx, const hvp_tensor *t, void *host);
/* Non-blocking, in queue order. */
hvp_status hvp_tensor_zero(hvp_ctx *ctx, const hvp_tensor *t); /* zero, F32 or I32 */
hvp_status hvp_tensor_fill_f32(hvp_ctx *ctx, const hvp_tensor *t, float value);
hvp_status hvp_tensor_copy(hvp_ctx *ctx, const hvp_tensor *dst, const hvp_tensor *src);

/* "[2, 3, 4]" into buf, for messages. */
const char *hvp_shape_str(const hvp_tensor *t, char *buf, size_t size);

#endif
