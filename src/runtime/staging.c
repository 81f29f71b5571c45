/* Uploads inside a training step without creating a buffer or waiting: the context keeps
 * staging slots, each a host copy and a device buffer of the same size; an upload takes
 * the smallest slot not yet used in this step that holds it, else a new slot (half as
 * large again, so that a slightly larger batch later still fits). A step makes the same
 * uploads each time, so the first steps create the slots and the later ones reuse them.
 * The host copy keeps the data alive until the non-blocking write has read it; the write
 * covers the whole device buffer (a partial host write confuses Oclgrind 21.10's tracking
 * of initialised bytes). */
#include <stdlib.h>
#include <string.h>

#include "hvp/runtime.h"

typedef struct staging_slot {
    void *host;
    cl_mem buf;
    size_t cap;
    cl_event written; /* the last write from host, or NULL */
    long drains;      /* ctx->host_waits when it was enqueued */
    int used;         /* in this step */
} staging_slot;

struct hvp_staging {
    staging_slot *slots;
    int nslots;
    int in_step;
};

/* Waits for the slot's last write (then host may change). A drain of the in-order queue
 * since it was enqueued (a step's loss read) has finished it: no wait. (Event status is no
 * help here: Rusticl reports a finished write as still running for a while.) */
static void settle(hvp_ctx *ctx, staging_slot *s)
{
    if (!s->written)
        return;
    if (ctx->host_waits == s->drains) {
        ctx->host_waits++;
        hvp_ctx_wait_event(ctx, s->written, "a staged upload");
    }
    clReleaseEvent(s->written);
    s->written = NULL;
}

hvp_status hvp_ctx_step_begin(hvp_ctx *ctx)
{
    hvp_arena_reset(ctx->acts);
    if (!ctx->staging && !(ctx->staging = calloc(1, sizeof *ctx->staging)))
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < ctx->staging->nslots; i++)
        ctx->staging->slots[i].used = 0;
    ctx->staging->in_step = 1;
    return HVP_OK;
}

void hvp_ctx_step_end(hvp_ctx *ctx)
{
    if (ctx->staging)
        ctx->staging->in_step = 0;
}

int hvp_ctx_in_step(const hvp_ctx *ctx) { return ctx->staging && ctx->staging->in_step; }

/* The smallest slot unused in this step that holds bytes, or a new one. */
static hvp_status slot_for(hvp_ctx *ctx, size_t bytes, staging_slot **out)
{
    hvp_staging *st = ctx->staging;
    staging_slot *s = NULL;
    for (int i = 0; i < st->nslots; i++) {
        staging_slot *c = &st->slots[i];
        if (!c->used && c->cap >= bytes && (!s || c->cap < s->cap))
            s = c;
    }
    if (!s) {
        staging_slot *grown = realloc(st->slots, (size_t)(st->nslots + 1) * sizeof *grown);
        if (!grown)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        st->slots = grown;
        s = &st->slots[st->nslots];
        memset(s, 0, sizeof *s);
        s->cap = bytes + bytes / 2;
        s->host = calloc(1, s->cap);
        cl_int err;
        s->buf = s->host ? clCreateBuffer(ctx->context, CL_MEM_READ_ONLY, s->cap, NULL, &err)
                         : NULL;
        if (!s->buf) {
            free(s->host);
            return HVP_FAIL(HVP_ERR_NOMEM, "staging buffer of %zu bytes for an upload", s->cap);
        }
        ctx->buffers_created++;
        st->nslots++;
    }
    settle(ctx, s);
    s->used = 1;
    *out = s;
    return HVP_OK;
}

hvp_status hvp_staging_write(hvp_ctx *ctx, const void *host, size_t bytes, cl_mem *out)
{
    if (!hvp_ctx_in_step(ctx))
        return HVP_FAIL(HVP_ERR_ARG, "a staged upload outside a step (hvp_ctx_step_begin)");
    staging_slot *s = NULL;
    HVP_TRY(slot_for(ctx, bytes, &s));
    memcpy(s->host, host, bytes);
    s->drains = ctx->host_waits;
    cl_int err = clEnqueueWriteBuffer(ctx->queue, s->buf, CL_FALSE, 0, s->cap, s->host, 0, NULL,
                                      &s->written);
    if (err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "upload of %zu bytes failed: %s", bytes,
                        hvp_cl_error_name(err));
    *out = s->buf;
    return HVP_OK;
}

void hvp_staging_free(hvp_ctx *ctx)
{
    hvp_staging *st = ctx->staging;
    if (!st)
        return;
    for (int i = 0; i < st->nslots; i++) {
        if (st->slots[i].written) {
            hvp_ctx_wait_event(ctx, st->slots[i].written, "a staged upload");
            clReleaseEvent(st->slots[i].written);
        }
        if (st->slots[i].buf)
            clReleaseMemObject(st->slots[i].buf);
        free(st->slots[i].host);
    }
    free(st->slots);
    free(st);
    ctx->staging = NULL;
}
