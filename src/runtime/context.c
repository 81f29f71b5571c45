/* One context and one in-order queue per device, with its programs, profile and arenas. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "hvp/runtime.h"
#include "runtime/programs.h"

/* Arena blocks: big enough that a step needs few, small enough to fit any device's
 * CL_DEVICE_MAX_MEM_ALLOC_SIZE (at least a quarter of global memory). */
#define PARAMS_BLOCK_BYTES ((size_t)64 << 20)
#define ACTS_BLOCK_BYTES ((size_t)256 << 20)

hvp_status hvp_ctx_create(const char *selector, hvp_ctx **out)
{
    *out = NULL;
    hvp_device_info info;
    HVP_TRY(hvp_find_device(selector, &info));
    return hvp_ctx_create_on(&info, out);
}

hvp_status hvp_ctx_create_on(const hvp_device_info *device, hvp_ctx **out)
{
    *out = NULL;
    hvp_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    ctx->info = *device;
    ctx->poll_waits = strstr(device->platform_name, "Portable Computing Language") != NULL;
    ctx->ops.conv_igemm = -1; /* no forced choice */
    ctx->row_per_item = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    hvp_status s;
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->info.platform,
                                     0};
    ctx->context = clCreateContext(props, 1, &ctx->info.device, NULL, NULL, &err);
    if (!ctx->context || err != CL_SUCCESS) {
        s = HVP_FAIL(HVP_ERR_CL, "clCreateContext on %s failed: %s", ctx->info.device_name,
                     hvp_cl_error_name(err));
        free(ctx);
        return s;
    }
    const char *prof = getenv("HVP_PROFILE");
    int profiling = prof && *prof && strcmp(prof, "0") != 0;
    /* clCreateCommandQueue is deprecated in 2.0 but is the one call every 1.2+ device has. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->info.device,
                                      profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
#pragma GCC diagnostic pop
    if (!ctx->queue || err != CL_SUCCESS) {
        s = HVP_FAIL(HVP_ERR_CL, "clCreateCommandQueue failed: %s", hvp_cl_error_name(err));
        hvp_ctx_destroy(ctx);
        return s;
    }
    s = hvp_programs_create(&ctx->programs);
    if (s == HVP_OK && profiling)
        s = hvp_profile_create(&ctx->profile);
    hvp_ctx_set_memory_limit(ctx, 0); /* nothing held yet: cannot fail */
    size_t params_block = PARAMS_BLOCK_BYTES, acts_block = ACTS_BLOCK_BYTES;
    /* HVP_ARENA_BLOCK_MB sets both: small blocks keep simulators (Oclgrind tracks every
     * byte of a buffer) lean; large ones mean fewer buffers on a real device. */
    const char *mb = getenv("HVP_ARENA_BLOCK_MB");
    if (mb && atoi(mb) > 0)
        params_block = acts_block = (size_t)atoi(mb) << 20;
    if (acts_block > ctx->info.max_alloc_bytes && ctx->info.max_alloc_bytes > 0)
        acts_block = (size_t)ctx->info.max_alloc_bytes;
    if (s == HVP_OK)
        s = hvp_arena_create(ctx, "parameters", params_block, &ctx->params);
    if (s == HVP_OK)
        s = hvp_arena_create(ctx, "activations", acts_block, &ctx->acts);
    if (s != HVP_OK) {
        hvp_ctx_destroy(ctx);
        return s;
    }
    *out = ctx;
    return HVP_OK;
}

hvp_status hvp_ctx_set_memory_limit(hvp_ctx *ctx, size_t bytes)
{
    if (bytes && bytes < ctx->memory_held)
        return HVP_FAIL(HVP_ERR_ARG,
                        "a device memory limit of %.1f MiB is below the %.1f MiB hvp holds from "
                        "the start (the first blocks of its arenas; HVP_ARENA_BLOCK_MB sets "
                        "their size)",
                        (double)bytes / 1048576.0, (double)ctx->memory_held / 1048576.0);
    ctx->memory_limit = bytes ? bytes : (size_t)ctx->info.global_mem_bytes;
    if (ctx->memory_limit == 0) /* a device that reports no global memory size */
        ctx->memory_limit = SIZE_MAX;
    return HVP_OK;
}

hvp_status hvp_ctx_finish(hvp_ctx *ctx)
{
    ctx->host_waits++;
    HVP_TRY(hvp_ctx_drain(ctx));
    if (ctx->profile)
        hvp_profile_collect(ctx->profile);
    return HVP_OK;
}

void hvp_ctx_destroy(hvp_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->queue)
        hvp_ctx_drain(ctx);
    if (ctx->profile) {
        hvp_profile_collect(ctx->profile);
        hvp_profile_report(ctx, stderr);
        hvp_profile_destroy(ctx->profile);
    }
    hvp_staging_free(ctx);
    hvp_arena_destroy(ctx->acts);
    hvp_arena_destroy(ctx->params);
    hvp_programs_destroy(ctx->programs);
    free(ctx->ops.gemm_table);
    free(ctx->ops.conv_table);
    /* CLBlast caches programs per context; release them while the context lives, not in
     * CLBlast's exit-time destructor (which crashes Oclgrind). Its cache is process-wide:
     * other contexts' CLBlast programs go too, and are rebuilt at their next use. */
    CLBlastClearCache();
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->context)
        clReleaseContext(ctx->context);
    free(ctx);
}
