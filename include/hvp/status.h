/* Error reporting: library functions return an hvp_status and leave a message, naming
 * what failed and where, that hvp_last_error() returns on the same thread. */
#ifndef HVP_STATUS_H
#define HVP_STATUS_H

typedef enum hvp_status {
    HVP_OK = 0,
    HVP_ERR_ARG,      /* a caller passed something out of range */
    HVP_ERR_CL,       /* an OpenCL or CLBlast call failed */
    HVP_ERR_NOMEM,    /* host or device memory ran out */
    HVP_ERR_IO,       /* a file could not be read or written */
    HVP_ERR_FORMAT,   /* a file or config is malformed */
    HVP_ERR_NOTFOUND, /* a device, file, key or tensor does not exist */
    HVP_ERR_NUMERIC   /* a NaN or Inf where a finite value was expected */
} hvp_status;

/* The message of the most recent failure on this thread ("" when none). */
const char *hvp_last_error(void);

/* Records a failure (printf-style message, prefixed with file:line) and returns code. */
hvp_status hvp_fail_at(hvp_status code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define HVP_FAIL(code, ...) hvp_fail_at((code), __FILE__, __LINE__, __VA_ARGS__)

/* Propagates a failing status to the caller. */
#define HVP_TRY(expr)                        \
    do {                                     \
        hvp_status hvp_try_s_ = (expr);      \
        if (hvp_try_s_ != HVP_OK)            \
            return hvp_try_s_;               \
    } while (0)

const char *hvp_status_name(hvp_status s);

#endif
