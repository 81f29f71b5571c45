/* The elementwise and row-wise launch helpers (launch.h). */
#include "ops/launch.h"
#include "ops/op_util.h"
#include "ops/row_util.h"

void hvp_args_add(hvp_args *a, hvp_kargs args)
{
    for (int i = 0; i < args.n; i++) {
        const hvp_karg *v = &args.v[i];
        switch (v->kind) {
        case HVP_KARG_INT:
            hvp_arg_int(a, v->i);
            break;
        case HVP_KARG_UINT:
            hvp_arg_uint(a, v->u);
            break;
        case HVP_KARG_FLOAT:
            hvp_arg_float(a, v->f);
            break;
        case HVP_KARG_TENSOR:
            hvp_arg_tensor(a, v->t);
            break;
        }
    }
}

hvp_status hvp_launch_elementwise(hvp_ctx *ctx, hvp_kernel_id id, size_t n, size_t per_item,
                                  hvp_kargs args)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, id, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_args_add(&a, args);
    return hvp_launch_1d(ctx, &a, (n + per_item - 1) / per_item);
}

hvp_status hvp_launch_rowwise(hvp_ctx *ctx, hvp_kernel_id id, hvp_kernel_id item_id, int rows,
                              int cols, size_t per_item, hvp_kargs args)
{
    hvp_kernel *k;
    size_t local;
    HVP_TRY(hvp_row_kernel(ctx, id, item_id, (size_t)cols, per_item, &k, &local));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, rows);
    hvp_arg_int(&a, cols);
    hvp_args_add(&a, args);
    return hvp_launch_row_groups(ctx, &a, (size_t)rows, local);
}
