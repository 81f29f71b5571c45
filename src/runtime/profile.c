/* HVP_PROFILE=1: every enqueue gets an event; at each finish their times are added up
 * per kernel name, and the table is printed when the context is destroyed. */
#include <stdlib.h>
#include <string.h>

#include "hvp/runtime.h"
#include "runtime/programs.h"

typedef struct {
    char name[64];
    long calls;
    double total_ms;
} profile_row;

struct hvp_profile {
    struct {
        const char *name; /* a kernel record's name or a literal: outlives the event */
        cl_event event;
    } *pending;
    int npending, cap_pending;
    profile_row *rows;
    int nrows, cap_rows;
};

hvp_status hvp_profile_create(hvp_profile **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
}

static profile_row *row_for(hvp_profile *p, const char *name)
{
    for (int i = 0; i < p->nrows; i++)
        if (strcmp(p->rows[i].name, name) == 0)
            return &p->rows[i];
    if (p->nrows == p->cap_rows) {
        int cap = p->cap_rows ? 2 * p->cap_rows : 64;
        profile_row *r = realloc(p->rows, (size_t)cap * sizeof *r);
        if (!r)
            return NULL;
        p->rows = r;
        p->cap_rows = cap;
    }
    profile_row *r = &p->rows[p->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

void hvp_profile_collect(hvp_profile *p)
{
    for (int i = 0; i < p->npending; i++) {
        cl_event e = p->pending[i].event;
        if (!e)
            continue;
        cl_ulong t0 = 0, t1 = 0;
        clWaitForEvents(1, &e);
        clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        profile_row *r = row_for(p, p->pending[i].name);
        if (r) {
            r->calls++;
            r->total_ms += t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0.0;
        }
        clReleaseEvent(e);
    }
    p->npending = 0;
}

cl_event *hvp_profile_event(hvp_ctx *ctx, const char *name)
{
    hvp_profile *p = ctx->profile;
    if (!p)
        return NULL;
    if (p->npending == 4096) /* bound the backlog; waiting here only happens when profiling */
        hvp_profile_collect(p);
    if (p->npending == p->cap_pending) {
        int cap = p->cap_pending ? 2 * p->cap_pending : 256;
        void *grown = realloc(p->pending, (size_t)cap * sizeof *p->pending);
        if (!grown)
            return NULL;
        p->pending = grown;
        p->cap_pending = cap;
    }
    p->pending[p->npending].name = name;
    p->pending[p->npending].event = NULL;
    return &p->pending[p->npending++].event;
}

static int by_total_desc(const void *a, const void *b)
{
    double x = ((const profile_row *)a)->total_ms, y = ((const profile_row *)b)->total_ms;
    return (x < y) - (x > y);
}

void hvp_profile_report(hvp_ctx *ctx, FILE *f)
{
    hvp_profile *p = ctx->profile;
    if (!p || p->nrows == 0)
        return;
    qsort(p->rows, (size_t)p->nrows, sizeof *p->rows, by_total_desc);
    double all = 0;
    for (int i = 0; i < p->nrows; i++)
        all += p->rows[i].total_ms;
    fprintf(f, "\nkernel time on %s\n%-40s %10s %12s %10s %6s\n", ctx->info.device_name,
            "kernel", "calls", "total ms", "ms/call", "share");
    for (int i = 0; i < p->nrows; i++) {
        const profile_row *r = &p->rows[i];
        fprintf(f, "%-40s %10ld %12.3f %10.4f %5.1f%%\n", r->name, r->calls, r->total_ms,
                r->total_ms / (double)r->calls, all > 0 ? 100.0 * r->total_ms / all : 0.0);
    }
}

void hvp_profile_destroy(hvp_profile *p)
{
    if (!p)
        return;
    free(p->pending);
    free(p->rows);
    free(p);
}
