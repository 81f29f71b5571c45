/* One call per launch for the two common shapes of kernel: elementwise (one work-item per
 * element or per few) and row-wise (a row per work-group's row of items, with a
 * barrier-free twin for CPUs). The arguments after the shape come as one typed list:
 *
 *     hvp_launch_elementwise(ctx, HVP_K_relu_fwd, n, 1, HVP_KARGS(HVP_TENSOR(x), HVP_TENSOR(y)));
 *
 * Kernels of other shapes set their arguments one by one (hvp_args_begin, hvp_arg_*). */
#ifndef HVP_OPS_LAUNCH_H
#define HVP_OPS_LAUNCH_H

#include "hvp/tensor.h"
#include "runtime/kernels.h"

/* One kernel argument: an int, an unsigned, a float, or a tensor, which is passed as the
 * two arguments (buffer, element offset) every kernel takes for a tensor. */
typedef struct hvp_karg {
    enum { HVP_KARG_INT, HVP_KARG_UINT, HVP_KARG_FLOAT, HVP_KARG_TENSOR } kind;
    union {
        int i;
        unsigned u;
        float f;
        const hvp_tensor *t;
    };
} hvp_karg;

#define HVP_INT(v) ((hvp_karg){.kind = HVP_KARG_INT, .i = (v)})
#define HVP_UINT(v) ((hvp_karg){.kind = HVP_KARG_UINT, .u = (v)})
#define HVP_FLOAT(v) ((hvp_karg){.kind = HVP_KARG_FLOAT, .f = (v)})
#define HVP_TENSOR(v) ((hvp_karg){.kind = HVP_KARG_TENSOR, .t = (v)})

/* A list of them, in the kernel's order. */
typedef struct hvp_kargs {
    const hvp_karg *v;
    int n;
} hvp_kargs;

#define HVP_KARGS(...)                                                                         \
    ((hvp_kargs){(const hvp_karg[]){__VA_ARGS__},                                              \
                 (int)(sizeof((const hvp_karg[]){__VA_ARGS__}) / sizeof(hvp_karg))})

/* Appends the list to a's arguments. */
void hvp_args_add(hvp_args *a, hvp_kargs args);

/* kernel(int n, args...) over n elements, per_item of them per work-item (1, 4, HVP_VEC):
 * ceil(n / per_item) items in groups of the kernel's default size (hvp_launch_1d). */
hvp_status hvp_launch_elementwise(hvp_ctx *ctx, hvp_kernel_id id, size_t n, size_t per_item,
                                  hvp_kargs args);

/* kernel(int rows, int cols, args..., local scratch) over rows of cols elements: the
 * kernel id or its twin item_id, chosen for about per_item elements per work-item
 * (hvp_row_kernel), with several rows per work-group (hvp_launch_row_groups, which appends
 * the scratch). */
hvp_status hvp_launch_rowwise(hvp_ctx *ctx, hvp_kernel_id id, hvp_kernel_id item_id, int rows,
                              int cols, size_t per_item, hvp_kargs args);

#endif
