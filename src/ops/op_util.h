/* Small checks shared by the ops in src/ops/. */
#ifndef HVP_OP_UTIL_H
#define HVP_OP_UTIL_H

#include <limits.h>

#include "hvp/tensor.h"
#include "runtime/kernels.h"

/* Fails unless t is float32 and has exactly n elements. */
static inline hvp_status hvp_expect_numel(const hvp_tensor *t, size_t n, const char *op,
                                          const char *what)
{
    if (t->dtype != HVP_F32)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s is %s, expected F32", op, what,
                        hvp_dtype_name(t->dtype));
    if (hvp_numel(t) != n) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s has shape %s (%zu elements), expected %zu", op,
                        what, hvp_shape_str(t, s, sizeof s), hvp_numel(t), n);
    }
    if (t->off + n > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %s reaches past element 2^31 of its buffer", op, what);
    return HVP_OK;
}

/* Appends (buffer, offset) as two kernel arguments, the way every kernel takes tensors. */
static inline void hvp_arg_tensor(hvp_args *a, const hvp_tensor *t)
{
    hvp_arg_mem(a, t->buf);
    hvp_arg_int(a, (int)t->off);
}

/* VEC of cl/common.cl: the floats of a work-item's vector. */
#define HVP_VEC 16

#endif
