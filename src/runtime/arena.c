/* Device memory arenas: bump allocation from a list of large buffers. Tensors are
 * (buffer, offset) pairs, never sub-buffers, which fail on alignment on several vendors. */
#include <stdlib.h>
#include <string.h>

#include "hvp/runtime.h"

typedef struct {
    cl_mem buf;
    size_t size;
} arena_block;

struct hvp_arena {
    hvp_ctx *ctx;
    char name[32];
    size_t block_bytes;
    size_t align;
    arena_block *blocks;
    int nblocks;
    int cur;       /* block being filled */
    size_t offset; /* bytes used in blocks[cur] */
    size_t used_before_cur;
    size_t peak;
};

static hvp_status new_block(hvp_arena *a, size_t bytes, const char *what);

hvp_status hvp_arena_create(hvp_ctx *ctx, const char *name, size_t block_bytes, hvp_arena **out)
{
    hvp_arena *a = calloc(1, sizeof *a);
    if (!a)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    a->ctx = ctx;
    snprintf(a->name, sizeof a->name, "%s", name);
    a->block_bytes = block_bytes;
    /* Base-address alignment is reported in bits; keep at least 256 bytes so vector
     * loads and CLBlast's offsets stay aligned everywhere. */
    a->align = ctx->info.base_align_bits / 8;
    if (a->align < 256)
        a->align = 256;
    /* The first block is made now, at context creation, before any upload's staging buffer
     * exists: Oclgrind 21.10 loses track of the initialised bytes of a buffer created after
     * another buffer was released (every write to it then reads back as uninitialised). */
    hvp_status s = new_block(a, block_bytes, name);
    if (s != HVP_OK) {
        hvp_arena_destroy(a);
        return s;
    }
    *out = a;
    return HVP_OK;
}

void hvp_arena_destroy(hvp_arena *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->nblocks; i++) {
        clReleaseMemObject(a->blocks[i].buf);
        a->ctx->memory_held -= a->blocks[i].size;
    }
    free(a->blocks);
    free(a);
}

static hvp_status new_block(hvp_arena *a, size_t bytes, const char *what)
{
    size_t size = bytes > a->block_bytes ? bytes : a->block_bytes;
    const hvp_device_info *d = &a->ctx->info;
    if (d->max_alloc_bytes && size > d->max_alloc_bytes) {
        if (bytes > d->max_alloc_bytes)
            return HVP_FAIL(HVP_ERR_NOMEM,
                            "out of device memory: %s needs %.1f MiB in one piece but %s "
                            "allows at most %.1f MiB per buffer; try a smaller batch size",
                            what, (double)bytes / 1048576.0, d->device_name,
                            (double)d->max_alloc_bytes / 1048576.0);
        size = (size_t)d->max_alloc_bytes;
    }
    size_t held = a->ctx->memory_held, limit = a->ctx->memory_limit;
    if (held + size > limit) {
        if (held + bytes > limit)
            return HVP_FAIL(HVP_ERR_NOMEM,
                            "out of device memory: %s needs %.1f MiB but hvp already holds "
                            "%.1f MiB of the %.1f MiB it may use on %s (arena '%s' %.1f MiB); "
                            "try a smaller batch size",
                            what, (double)bytes / 1048576.0, (double)held / 1048576.0,
                            (double)limit / 1048576.0, d->device_name, a->name,
                            (double)hvp_arena_used(a) / 1048576.0);
        size = limit - held; /* a last, smaller block */
    }
    arena_block *grown = realloc(a->blocks, (size_t)(a->nblocks + 1) * sizeof *grown);
    if (!grown)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    a->blocks = grown;
    cl_int err;
    cl_mem m = clCreateBuffer(a->ctx->context, CL_MEM_READ_WRITE, size, NULL, &err);
    a->ctx->buffers_created++;
    /* Drivers that allocate lazily fail at the first kernel instead; hvp_launch names
     * the arenas' sizes then. (No touching fill here: Oclgrind's uninitialised-memory
     * tracking breaks on a buffer that saw clEnqueueFillBuffer at an offset.) */
    if (!m || err != CL_SUCCESS) {
        if (m)
            clReleaseMemObject(m);
        return HVP_FAIL(HVP_ERR_NOMEM,
                        "out of device memory allocating %s (%.1f MiB; arena '%s' already "
                        "holds %.1f MiB on %s): %s; try a smaller batch size",
                        what, (double)bytes / 1048576.0, a->name,
                        (double)hvp_arena_used(a) / 1048576.0, d->device_name,
                        hvp_cl_error_name(err));
    }
    a->blocks[a->nblocks].buf = m;
    a->blocks[a->nblocks].size = size;
    a->nblocks++;
    a->ctx->memory_held += size;
    return HVP_OK;
}

hvp_status hvp_arena_alloc(hvp_arena *a, size_t bytes, const char *what, cl_mem *buf,
                           size_t *byte_offset)
{
    if (bytes == 0)
        bytes = 1;
    size_t need = (bytes + a->align - 1) / a->align * a->align;
    /* Try the current block, then later ones (kept from earlier steps), then a new one. */
    while (a->cur < a->nblocks && a->offset + need > a->blocks[a->cur].size) {
        a->used_before_cur += a->blocks[a->cur].size; /* a skipped tail counts as used */
        a->cur++;
        a->offset = 0;
    }
    if (a->cur == a->nblocks)
        HVP_TRY(new_block(a, need, what));
    *buf = a->blocks[a->cur].buf;
    *byte_offset = a->offset;
    a->offset += need;
    if (hvp_arena_used(a) > a->peak)
        a->peak = hvp_arena_used(a);
    return HVP_OK;
}

hvp_arena_mark hvp_arena_get_mark(const hvp_arena *a)
{
    hvp_arena_mark m = {a->cur, a->offset};
    return m;
}

void hvp_arena_rewind(hvp_arena *a, hvp_arena_mark m)
{
    a->used_before_cur = 0;
    for (int i = 0; i < m.block && i < a->nblocks; i++)
        a->used_before_cur += a->blocks[i].size;
    a->cur = m.block;
    a->offset = m.offset;
}

void hvp_arena_trim(hvp_arena *a)
{
    while (a->nblocks > a->cur + 1) {
        arena_block *b = &a->blocks[--a->nblocks];
        clReleaseMemObject(b->buf); /* commands still queued keep it alive until done */
        a->ctx->memory_held -= b->size;
    }
}

void hvp_arena_release_to(hvp_arena *a, hvp_arena_mark m)
{
    hvp_arena_rewind(a, m);
    hvp_arena_trim(a);
}

void hvp_arena_reset(hvp_arena *a)
{
    hvp_arena_mark start = {0, 0};
    hvp_arena_rewind(a, start);
}

size_t hvp_arena_used(const hvp_arena *a) { return a->used_before_cur + a->offset; }
size_t hvp_arena_peak(const hvp_arena *a) { return a->peak; }
