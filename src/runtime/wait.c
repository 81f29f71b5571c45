/* Host waits on the device: for one event, or for the whole in-order queue. On PoCL they
 * poll the event's status instead of blocking inside the driver (see hvp_ctx.poll_waits). */
#include <time.h>

#include "hvp/runtime.h"

/* Polls ev until it has finished, sleeping between looks from 2 us up to 1 ms, so a wait
 * overshoots the command's end by at most about a millisecond. */
static hvp_status poll_event(cl_event ev, const char *what)
{
    long nap_ns = 2000;
    for (;;) {
        cl_int status = CL_QUEUED;
        cl_int err = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status,
                                    &status, NULL);
        if (err != CL_SUCCESS)
            return HVP_FAIL(HVP_ERR_CL, "%s: reading its status failed: %s", what,
                            hvp_cl_error_name(err));
        if (status == CL_COMPLETE)
            return HVP_OK;
        if (status < 0)
            return HVP_FAIL(HVP_ERR_CL, "%s failed on the device: %s", what,
                            hvp_cl_error_name(status));
        nanosleep(&(struct timespec){0, nap_ns}, NULL);
        if (nap_ns < 1000000)
            nap_ns *= 2;
    }
}

hvp_status hvp_ctx_wait_event(hvp_ctx *ctx, cl_event ev, const char *what)
{
    if (!ctx || !ctx->poll_waits) {
        cl_int err = clWaitForEvents(1, &ev);
        return err == CL_SUCCESS ? HVP_OK
                                 : HVP_FAIL(HVP_ERR_CL, "%s failed: %s", what,
                                            hvp_cl_error_name(err));
    }
    cl_int err = clFlush(ctx->queue); /* what is polled must have been submitted */
    if (err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "%s: clFlush failed: %s", what, hvp_cl_error_name(err));
    return poll_event(ev, what);
}

hvp_status hvp_ctx_drain(hvp_ctx *ctx)
{
    if (!ctx->poll_waits) {
        cl_int err = clFinish(ctx->queue);
        return err == CL_SUCCESS ? HVP_OK
                                 : HVP_FAIL(HVP_ERR_CL, "clFinish failed: %s",
                                            hvp_cl_error_name(err));
    }
    cl_event done; /* the queue is in order: its marker completes after everything before */
    cl_int err = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &done);
    if (err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "draining the queue: a marker failed: %s",
                        hvp_cl_error_name(err));
    hvp_status s = hvp_ctx_wait_event(ctx, done, "draining the queue");
    clReleaseEvent(done);
    return s;
}
