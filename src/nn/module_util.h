/* Shared by the modules in src/nn/: allocation of outputs and gradients from ctx->acts. */
#ifndef HVP_NN_MODULE_UTIL_H
#define HVP_NN_MODULE_UTIL_H

#include "hvp/nn.h"

/* A float tensor of the given shape from the activation arena. */
static inline hvp_status hvp_act(hvp_ctx *ctx, const char *what, hvp_tensor *out, int ndim,
                                 const int *shape)
{
    return hvp_alloc_f32(ctx->acts, what, out, ndim, shape);
}

/* A float tensor shaped like t from the activation arena. */
static inline hvp_status hvp_act_like(hvp_ctx *ctx, const char *what, const hvp_tensor *t,
                                      hvp_tensor *out)
{
    return hvp_alloc_f32(ctx->acts, what, out, t->ndim, t->shape);
}

#endif
