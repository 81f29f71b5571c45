/* Thread-local error messages behind hvp_last_error(). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hvp/status.h"

static _Thread_local char last_error[4096];

const char *hvp_last_error(void) { return last_error; }

hvp_status hvp_fail_at(hvp_status code, const char *file, int line, const char *fmt, ...)
{
    /* Keep only the file's base name: messages are for users, not for the build tree. */
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    /* Formatted aside first: callers often wrap the previous message (hvp_last_error()). */
    char msg[sizeof last_error];
    int n = snprintf(msg, sizeof msg, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    memcpy(last_error, msg, sizeof msg);
    return code;
}

const char *hvp_status_name(hvp_status s)
{
    switch (s) {
    case HVP_OK: return "ok";
    case HVP_ERR_ARG: return "invalid argument";
    case HVP_ERR_CL: return "OpenCL error";
    case HVP_ERR_NOMEM: return "out of memory";
    case HVP_ERR_IO: return "I/O error";
    case HVP_ERR_FORMAT: return "malformed input";
    case HVP_ERR_NOTFOUND: return "not found";
    case HVP_ERR_NUMERIC: return "non-finite value";
    }
    return "unknown status";
}
