/* OpenCL runtime: device choice, one context and in-order queue per device, programs
 * built from the embedded cl/ sources with an on-disk binary cache, kernel launches,
 * profiling, and device memory arenas. Knows nothing of layers or methods. */
#ifndef HVP_RUNTIME_H
#define HVP_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hvp/status.h"

/* What we know of one device; the quirks the kernels care about are derived from these
 * queried capabilities, never from vendor names. */
typedef struct hvp_device_info {
    int index; /* position in the list hvp_list_devices() returns */
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[128];
    char platform_version[128];
    char device_name[128];
    char device_version[128];
    char driver_version[128];
    char opencl_c_version[128];
    cl_device_type type;
    cl_ulong global_mem_bytes;
    cl_ulong max_alloc_bytes;
    cl_ulong local_mem_bytes;
    cl_uint compute_units;
    cl_uint base_align_bits; /* CL_DEVICE_MEM_BASE_ADDR_ALIGN is in bits */
    size_t max_work_group_size;
    int has_fp16;
    int has_fp64;
    int has_subgroups;
} hvp_device_info;

/* Every device of every platform; *out is malloc'd, free() it. A platform that fails to
 * enumerate is skipped rather than failing the whole list. */
hvp_status hvp_list_devices(hvp_device_info **out, int *count);

/* Picks a device: selector is an index into hvp_list_devices(), or a case-insensitive
 * substring of "platform name / device name". NULL or "" means $HVP_DEVICE, and if that is
 * unset, the first GPU, else the first device. */
hvp_status hvp_find_device(const char *selector, hvp_device_info *out);
/* The device of slot `slot` of `slots` processes on this machine (data-parallel ranks):
 * the slot-th of the devices the selector matches (an index: that one; a substring: all
 * that contain it; none: the GPUs, else the first device). Fewer devices than slots is an
 * error naming them, unless share: then slot k takes matching device k mod their number.
 * hvp_find_device is slot 0 of 1. */
hvp_status hvp_find_device_for(const char *selector, int slot, int slots, int share,
                               hvp_device_info *out);

typedef struct hvp_arena hvp_arena;
typedef struct hvp_programs hvp_programs;
typedef struct hvp_profile hvp_profile;
typedef struct hvp_staging hvp_staging;

/* FLOPs counted from shapes (src/runtime/flops.c): matrix products (GEMM, convolution,
 * attention; a multiply-add is 2, as PyTorch's FlopCounterMode counts them) apart from
 * the rest (normalisation, activations, losses, the optimizer: per element). */
typedef enum { HVP_FLOPS_MATMUL, HVP_FLOPS_OTHER, HVP_FLOPS_KINDS } hvp_flops_kind;

typedef struct hvp_ctx {
    hvp_device_info info;
    cl_context context;
    cl_command_queue queue; /* the only queue: in order, synchronised at step boundaries */
    hvp_programs *programs; /* built programs and kernels, by name */
    hvp_profile *profile;   /* per-kernel times when HVP_PROFILE=1, else NULL */
    hvp_arena *params;      /* parameters, gradients, optimizer state: lives for the run */
    hvp_arena *acts;        /* activations and scratch: reset every step */
    size_t memory_limit;    /* most bytes the arenas may hold together */
    size_t memory_held;     /* bytes the arenas hold now */
    hvp_staging *staging;   /* uploads inside a step (src/runtime/staging.c) */
    /* Since creation: device buffers created, and host waits on the device: each drain of
     * the queue and each transfer the host waits for (each drains the in-order queue; see
     * hvp_ctx_drain, hvp_ctx_wait_event), and each wait for an event
     * enqueued since the last of those. After its first steps a training step adds no
     * buffer and one wait. */
    long buffers_created, host_waits;
    /* While a model is being built by hvp_method_from_config: where its tensors' storage
     * comes from (hvp/nn.h; opaque here). NULL otherwise. */
    struct hvp_state_plan *state_plan;
    /* Since creation: what the ops enqueued, forward and backward, by kind. */
    uint64_t flops[HVP_FLOPS_KINDS];
    /* Set: kernels are counted but not enqueued (hvp_flops_count_only), uploads' copies
     * included, so a counted step leaves its model unusable for training: count on a model
     * of its own (hvp_train_count_flops). */
    int count_only;
    /* Train-mode batch norm takes its statistics over all data-parallel ranks (SyncBN,
     * src/ops/batchnorm.c); every rank must then run the same batch norms in the same
     * order. Set by the trainer when it runs on more than one rank. */
    int sync_bn;
    /* Host waits poll the command's status (src/runtime/wait.c) instead of blocking inside
     * the driver. Set on PoCL: its pthread driver (3.1, Debian 12's) now and then misses
     * the wakeup of a thread blocked on a finished command, which then waits for ever
     * (seen about once in 600 runs under AddressSanitizer, in a blocking read; PoCL's
     * later versions wait with a timeout for the same reason). */
    int poll_waits;
    /* The ops' own state (src/ops/), here so that contexts on two devices in one process
     * keep their own: conv2d's scratch bound in floats per call (0: its default) and its
     * implicit-GEMM setting (-1: per shape), set with hvp_conv2d_scratch_limit and
     * hvp_conv2d_igemm; the GEMM dispatch table and the convolution paths, read from the
     * tune file at the first GEMM and convolution (src/ops/gemm.c, conv2d_tune.c; plain
     * host memory, freed with the context). Like the queue and the arenas, they take no
     * lock: a context is used by one thread at a time. */
    struct {
        size_t conv_scratch_floats;
        int conv_igemm;
        struct hvp_gemm_table *gemm_table;
        struct hvp_conv2d_table *conv_table;
    } ops;
    /* Row kernels with a barrier-free twin (softmax, cross-entropy, l2norm) give each row
     * one work-item (src/ops/row_util.h): set at creation on CPUs, where barriers are
     * costly; clear, several items per row reduce in local memory (GPUs). Tests switch it
     * to run both kernels on one device. */
    int row_per_item;
} hvp_ctx;

hvp_status hvp_ctx_create(const char *selector, hvp_ctx **out);
/* The same on a device already chosen (hvp_find_device_for). */
hvp_status hvp_ctx_create_on(const hvp_device_info *device, hvp_ctx **out);
/* Caps the device memory the arenas may hold (0: the device's global memory, the default).
 * Drivers that allocate lazily only fail at a later kernel; the cap makes running out an
 * error at the allocation, naming it. A cap below what the arenas already hold (their
 * first blocks) is an error that says so, and leaves the cap as it was. */
hvp_status hvp_ctx_set_memory_limit(hvp_ctx *ctx, size_t bytes);
/* Prints the profile table (if profiling) and releases everything. NULL is fine. */
void hvp_ctx_destroy(hvp_ctx *ctx);
/* Waits for the queue to drain; the step boundary. */
hvp_status hvp_ctx_finish(hvp_ctx *ctx);
/* The host's waits on the device (src/runtime/wait.c), polling where ctx->poll_waits says
 * so; they count nothing in host_waits (their callers do). Waits until ev has finished;
 * what names the command in an error. ctx may be NULL (then: clWaitForEvents). */
hvp_status hvp_ctx_wait_event(hvp_ctx *ctx, cl_event ev, const char *what);
/* Waits until every command enqueued so far has finished. */
hvp_status hvp_ctx_drain(hvp_ctx *ctx);

/* A training step: begin resets ctx->acts (the caller has waited for the last step), and
 * until end, uploads go through the context's staging slots without waiting. */
hvp_status hvp_ctx_step_begin(hvp_ctx *ctx);
void hvp_ctx_step_end(hvp_ctx *ctx);
int hvp_ctx_in_step(const hvp_ctx *ctx);
/* Inside a step: copies bytes from host into a staging buffer of the context (enqueued, no
 * wait) and gives the buffer (at offset 0), valid for this step's later commands. */
hvp_status hvp_staging_write(hvp_ctx *ctx, const void *host, size_t bytes, cl_mem *out);
/* Releases the staging slots (hvp_ctx_destroy does). */
void hvp_staging_free(hvp_ctx *ctx);

/* ---- FLOP counting (src/runtime/flops.c) ---------------------------------------- */

/* Adds n FLOPs of kind k (ops call it with counts from their shapes). */
void hvp_flops_add(hvp_ctx *ctx, hvp_flops_kind k, double n);
/* Every kind together, since the context was created. */
uint64_t hvp_flops_total(const hvp_ctx *ctx);
/* While on, launches (and CLBlast's GEMMs) are counted and skipped: the FLOPs of a step
 * without computing it (its results are then garbage). Returns the previous setting. */
int hvp_flops_count_only(hvp_ctx *ctx, int on);

/* ---- the cache folder ------------------------------------------------------------- */

/* FNV-1a over n bytes, continuing from h (start at 0xcbf29ce484222325). */
uint64_t hvp_fnv1a_bytes(uint64_t h, const void *p, size_t n);
/* FNV-1a of s and a separator: hashing several strings in turn keys on each of them. */
uint64_t hvp_fnv1a(uint64_t h, const char *s);
/* The cache folder, created if missing: $HVP_CACHE_DIR, else $XDG_CACHE_HOME/hvp, else
 * ~/.cache/hvp. */
hvp_status hvp_cache_dir(char *dir, size_t size);
/* <cache folder>/<name>-<hash of key>.<ext>. */
hvp_status hvp_cache_path(const char *name, const char *key, const char *ext, char *path,
                          size_t size);

/* ---- programs and kernels ---------------------------------------------------------- */

/* The embedded source of cl/<name>.cl, or the file under $HVP_CL_DIR when that is set. */
hvp_status hvp_cl_source(const char *name, char **out_source);
/* Names of all embedded programs, NULL-terminated. */
const char *const *hvp_cl_program_names(void);

typedef struct hvp_kernel {
    cl_kernel kernel;
    size_t max_work_group_size; /* CL_KERNEL_WORK_GROUP_SIZE on this device */
    size_t preferred_multiple;  /* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE */
    char name[64];
} hvp_kernel;

/* Kernels are looked up by constant, hvp_kernel_get(ctx, HVP_K_<name>, &k), in the
 * library's own src/runtime/kernels.h. */

/* Builds every embedded program now, so that no step ever waits for a compiler. */
hvp_status hvp_build_all_programs(hvp_ctx *ctx);

/* Kernel arguments, set in order; the first failure is kept and reported at launch. */
typedef struct hvp_args {
    hvp_kernel *k;
    cl_uint next;
    cl_int err;
    cl_uint failed_index;
} hvp_args;

hvp_args hvp_args_begin(hvp_kernel *k);
void hvp_arg_mem(hvp_args *a, cl_mem m);
void hvp_arg_int(hvp_args *a, int v);
void hvp_arg_uint(hvp_args *a, unsigned v);
void hvp_arg_float(hvp_args *a, float v);
void hvp_arg_local(hvp_args *a, size_t bytes);

/* Enqueues the kernel. global is rounded up to a multiple of local (kernels guard their
 * index); local NULL picks a size from the kernel's own maximum. */
hvp_status hvp_launch(hvp_ctx *ctx, hvp_args *a, cl_uint dims, const size_t *global,
                      const size_t *local);
/* One work-item per element, n of them. */
hvp_status hvp_launch_1d(hvp_ctx *ctx, hvp_args *a, size_t n);

/* ---- errors and profiling --------------------------------------------------------- */

const char *hvp_cl_error_name(cl_int err);
const char *hvp_clblast_error_name(int status);

/* Fails with the symbolic name of a non-zero OpenCL error and the call that produced it. */
#define CL_CHECK(call)                                                                   \
    do {                                                                                 \
        cl_int cl_check_e_ = (call);                                                     \
        if (cl_check_e_ != CL_SUCCESS)                                                   \
            return HVP_FAIL(HVP_ERR_CL, "%s failed: %s", #call,                          \
                            hvp_cl_error_name(cl_check_e_));                             \
    } while (0)

/* The event pointer to hand to an enqueue when profiling, else NULL (no event made). */
cl_event *hvp_profile_event(hvp_ctx *ctx, const char *name);
/* Prints time per kernel, most expensive first. */
void hvp_profile_report(hvp_ctx *ctx, FILE *f);

/* ---- device memory arenas --------------------------------------------------------- */

/* A mark to rewind an arena to (everything allocated after it is released). */
typedef struct hvp_arena_mark {
    int block;
    size_t offset;
} hvp_arena_mark;

/* An arena hands out (buffer, byte offset) pieces of large blocks; no sub-buffers. */
hvp_status hvp_arena_create(hvp_ctx *ctx, const char *name, size_t block_bytes, hvp_arena **out);
void hvp_arena_destroy(hvp_arena *a);
/* `what` names the allocation in the out-of-memory message. */
hvp_status hvp_arena_alloc(hvp_arena *a, size_t bytes, const char *what, cl_mem *buf,
                           size_t *byte_offset);
hvp_arena_mark hvp_arena_get_mark(const hvp_arena *a);
void hvp_arena_rewind(hvp_arena *a, hvp_arena_mark m);
void hvp_arena_reset(hvp_arena *a);
/* Releases the blocks past the one being filled (after a rewind, all unused): a large
 * throw-away allocation, such as a model's first build under a plan, gives its device
 * memory back instead of leaving blocks that later large pieces would skip. */
void hvp_arena_trim(hvp_arena *a);
/* Rewinds to m and trims: what was allocated since m, device memory included, is given back. */
void hvp_arena_release_to(hvp_arena *a, hvp_arena_mark m);
size_t hvp_arena_used(const hvp_arena *a);
size_t hvp_arena_peak(const hvp_arena *a);

#endif
