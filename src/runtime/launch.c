/* Setting kernel arguments and enqueueing kernels with sizes derived from the kernel. */
#include "hvp/runtime.h"

hvp_args hvp_args_begin(hvp_kernel *k)
{
    hvp_args a = {k, 0, CL_SUCCESS, 0};
    return a;
}

static void set_arg(hvp_args *a, size_t size, const void *value)
{
    if (a->err == CL_SUCCESS) {
        a->err = clSetKernelArg(a->k->kernel, a->next, size, value);
        a->failed_index = a->next;
    }
    a->next++;
}

void hvp_arg_mem(hvp_args *a, cl_mem m) { set_arg(a, sizeof m, &m); }
void hvp_arg_int(hvp_args *a, int v) { set_arg(a, sizeof v, &v); }
void hvp_arg_uint(hvp_args *a, unsigned v) { set_arg(a, sizeof v, &v); }
void hvp_arg_float(hvp_args *a, float v) { set_arg(a, sizeof v, &v); }
void hvp_arg_local(hvp_args *a, size_t bytes) { set_arg(a, bytes, NULL); }

/* A default work-group shape: as large as the kernel allows, up to 256 items. */
static void default_local(const hvp_kernel *k, cl_uint dims, size_t *local)
{
    size_t cap = k->max_work_group_size < 256 ? k->max_work_group_size : 256;
    if (dims == 1) {
        local[0] = cap;
        return;
    }
    size_t side = 1;
    while ((side * 2) * (side * 2) <= cap)
        side *= 2;
    local[0] = side;
    local[1] = side;
    if (dims == 3)
        local[2] = 1;
}

hvp_status hvp_launch(hvp_ctx *ctx, hvp_args *a, cl_uint dims, const size_t *global,
                      const size_t *local)
{
    if (a->err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "setting argument %u of kernel %s failed: %s",
                        a->failed_index, a->k->name, hvp_cl_error_name(a->err));
    if (dims < 1 || dims > 3)
        return HVP_FAIL(HVP_ERR_ARG, "kernel %s: %u dimensions", a->k->name, dims);
    size_t loc[3], glob[3];
    if (local)
        for (cl_uint i = 0; i < dims; i++)
            loc[i] = local[i];
    else
        default_local(a->k, dims, loc);
    for (cl_uint i = 0; i < dims; i++) {
        if (global[i] == 0)
            return HVP_OK; /* nothing to do */
        /* Small problems get a smaller group rather than mostly idle items. */
        while (loc[i] > 1 && loc[i] / 2 >= global[i])
            loc[i] /= 2;
        glob[i] = (global[i] + loc[i] - 1) / loc[i] * loc[i];
    }
    if (ctx->count_only)
        return HVP_OK; /* counting a step's FLOPs: the ops have added theirs already */
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, a->k->kernel, dims, NULL, glob, loc, 0, NULL,
                                        hvp_profile_event(ctx, a->k->name));
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES)
        return HVP_FAIL(HVP_ERR_NOMEM,
                        "kernel %s: %s: out of device memory? arenas hold %.1f MiB of parameters "
                        "and %.1f MiB of activations on %s; try a smaller batch size",
                        a->k->name, hvp_cl_error_name(err),
                        (double)hvp_arena_used(ctx->params) / 1048576.0,
                        (double)hvp_arena_used(ctx->acts) / 1048576.0, ctx->info.device_name);
    if (err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "enqueueing kernel %s (global %zu, local %zu) failed: %s",
                        a->k->name, glob[0], loc[0], hvp_cl_error_name(err));
    return HVP_OK;
}

hvp_status hvp_launch_1d(hvp_ctx *ctx, hvp_args *a, size_t n)
{
    return hvp_launch(ctx, a, 1, &n, NULL);
}
