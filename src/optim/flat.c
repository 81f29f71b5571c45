/* Recognising a packed list of tensors (one region, creation order, aligned starts): the
 * multi-tensor paths of zero-grad, the optimizers, clipping and the EMA rely on it. */
#include <limits.h>

#include "hvp/optim.h"

int hvp_tensors_packed(const hvp_tensor *t, size_t stride, int n, hvp_tensor *span)
{
    if (n < 1)
        return 0;
    const char *at = (const char *)t;
    const hvp_tensor *first = t;
    size_t start = 0;
    for (int i = 0; i < n; i++, at += stride) {
        const hvp_tensor *x = (const hvp_tensor *)(const void *)at;
        if (x->dtype != HVP_F32 || !x->buf || x->buf != first->buf ||
            x->off != first->off + start)
            return 0;
        start = hvp_packed_next(start, hvp_numel(x));
    }
    /* the kernels index the region with int */
    if (first->off + start > (size_t)INT_MAX - 4096)
        return 0;
    hvp_tensor s = *first;
    s.ndim = 1;
    s.shape[0] = (int)start;
    *span = s;
    return 1;
}

int hvp_params_packed(const hvp_param *params, int n, hvp_tensor *values, hvp_tensor *grads)
{
    hvp_tensor v, g;
    if (!hvp_tensors_packed(&params[0].value, sizeof *params, n, &v) ||
        !hvp_tensors_packed(&params[0].grad, sizeof *params, n, &g))
        return 0;
    *values = v;
    *grads = g;
    return 1;
}
