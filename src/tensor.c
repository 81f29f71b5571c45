/* Tensors: shapes over (buffer, offset) and blocking transfers for tests and IO. */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "hvp/tensor.h"
#include "runtime/kernels.h"

size_t hvp_dtype_size(hvp_dtype t) { return t == HVP_U8 ? 1 : 4; }

const char *hvp_dtype_name(hvp_dtype t)
{
    switch (t) {
    case HVP_F32: return "F32";
    case HVP_I32: return "I32";
    case HVP_U8: return "U8";
    }
    return "?";
}

size_t hvp_numel(const hvp_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

size_t hvp_nbytes(const hvp_tensor *t) { return hvp_numel(t) * hvp_dtype_size(t->dtype); }

hvp_status hvp_tensor_alloc(hvp_arena *a, hvp_dtype dtype, int ndim, const int *shape,
                            const char *what, hvp_tensor *out)
{
    if (ndim < 0 || ndim > HVP_MAX_DIMS)
        return HVP_FAIL(HVP_ERR_ARG, "%s: %d dimensions (at most %d)", what, ndim, HVP_MAX_DIMS);
    memset(out, 0, sizeof *out);
    out->ndim = ndim;
    out->dtype = dtype;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return HVP_FAIL(HVP_ERR_ARG, "%s: negative size %d in dimension %d", what, shape[i], i);
        out->shape[i] = shape[i];
    }
    size_t byte_off;
    HVP_TRY(hvp_arena_alloc(a, hvp_nbytes(out), what, &out->buf, &byte_off));
    out->off = byte_off / hvp_dtype_size(dtype);
    return HVP_OK;
}

hvp_status hvp_alloc_f32(hvp_arena *a, const char *what, hvp_tensor *out, int ndim,
                         const int *shape)
{
    return hvp_tensor_alloc(a, HVP_F32, ndim, shape, what, out);
}

hvp_tensor hvp_tensor_view(const hvp_tensor *t, size_t elem_offset, int ndim, const int *shape)
{
    hvp_tensor v = *t;
    v.off += elem_offset;
    v.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        v.shape[i] = shape[i];
    return v;
}

/* Copies n elements between two (buffer, element offset) places of the same dtype. */
static hvp_status copy_elements(hvp_ctx *ctx, hvp_dtype dtype, size_t n, cl_mem src,
                                size_t src_off, cl_mem dst, size_t dst_off)
{
    if (n == 0)
        return HVP_OK;
    if (n > INT_MAX || src_off > INT_MAX || dst_off > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "copy of %zu elements at offsets %zu, %zu: too large", n,
                        src_off, dst_off);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, dtype == HVP_U8 ? HVP_K_copy_u8 : HVP_K_copy_u32, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_mem(&a, src);
    hvp_arg_int(&a, (int)src_off);
    hvp_arg_mem(&a, dst);
    hvp_arg_int(&a, (int)dst_off);
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_tensor_upload(hvp_ctx *ctx, const hvp_tensor *t, const void *host)
{
    size_t bytes = hvp_nbytes(t);
    if (bytes == 0)
        return HVP_OK;
    if (hvp_ctx_in_step(ctx)) { /* no allocation, no wait */
        cl_mem staged;
        HVP_TRY(hvp_staging_write(ctx, host, bytes, &staged));
        return copy_elements(ctx, t->dtype, hvp_numel(t), staged, 0, t->buf, t->off);
    }
    size_t buf_size = 0;
    CL_CHECK(clGetMemObjectInfo(t->buf, CL_MEM_SIZE, sizeof buf_size, &buf_size, NULL));
    if (t->off == 0 && bytes == buf_size) {
        ctx->host_waits++;
        cl_event written;
        CL_CHECK(clEnqueueWriteBuffer(ctx->queue, t->buf, CL_FALSE, 0, bytes, host, 0, NULL,
                                      &written));
        hvp_status s = hvp_ctx_wait_event(ctx, written, "an upload");
        clReleaseEvent(written);
        return s;
    }
    /* A host write to part of a buffer goes through a staging buffer and a copy kernel:
     * Oclgrind 21.10 loses track of which bytes of a buffer are initialised after a
     * partial host write (see cl/tensor.cl). */
    cl_int err;
    cl_mem staging = clCreateBuffer(ctx->context, CL_MEM_READ_ONLY, bytes, NULL, &err);
    ctx->buffers_created++;
    if (!staging || err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_NOMEM, "staging buffer of %zu bytes for an upload: %s", bytes,
                        hvp_cl_error_name(err));
    hvp_status s = HVP_OK;
    err = clEnqueueWriteBuffer(ctx->queue, staging, CL_FALSE, 0, bytes, host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        s = HVP_FAIL(HVP_ERR_CL, "upload failed: %s", hvp_cl_error_name(err));
    if (s == HVP_OK)
        s = copy_elements(ctx, t->dtype, hvp_numel(t), staging, 0, t->buf, t->off);
    ctx->host_waits++;
    if (s == HVP_OK)
        s = hvp_ctx_drain(ctx); /* before the staging buffer goes */
    clReleaseMemObject(staging);
    return s;
}

hvp_status hvp_tensor_download(hvp_ctx *ctx, const hvp_tensor *t, void *host)
{
    size_t es = hvp_dtype_size(t->dtype);
    if (hvp_numel(t) == 0)
        return HVP_OK;
    ctx->host_waits++;
    cl_event read;
    CL_CHECK(clEnqueueReadBuffer(ctx->queue, t->buf, CL_FALSE, t->off * es, hvp_nbytes(t), host,
                                 0, NULL, &read));
    hvp_status s = hvp_ctx_wait_event(ctx, read, "a download");
    clReleaseEvent(read);
    return s;
}

static hvp_status fill_u32(hvp_ctx *ctx, const hvp_tensor *t, uint32_t pattern)
{
    size_t n = hvp_numel(t);
    if (n == 0)
        return HVP_OK;
    if (t->dtype == HVP_U8 || n > INT_MAX || t->off > INT_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "fill: only 4-byte tensors below 2^31 elements");
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_fill_u32, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, (int)n);
    hvp_arg_mem(&a, t->buf);
    hvp_arg_int(&a, (int)t->off);
    hvp_arg_uint(&a, pattern);
    return hvp_launch_1d(ctx, &a, n);
}

hvp_status hvp_tensor_zero(hvp_ctx *ctx, const hvp_tensor *t) { return fill_u32(ctx, t, 0); }

hvp_status hvp_tensor_fill_f32(hvp_ctx *ctx, const hvp_tensor *t, float value)
{
    if (t->dtype != HVP_F32)
        return HVP_FAIL(HVP_ERR_ARG, "fill_f32 on a %s tensor", hvp_dtype_name(t->dtype));
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return fill_u32(ctx, t, bits);
}

hvp_status hvp_tensor_copy(hvp_ctx *ctx, const hvp_tensor *dst, const hvp_tensor *src)
{
    if (hvp_nbytes(dst) != hvp_nbytes(src) || dst->dtype != src->dtype) {
        char a[64], b[64];
        return HVP_FAIL(HVP_ERR_ARG, "copy between %s %s and %s %s", hvp_dtype_name(dst->dtype),
                        hvp_shape_str(dst, a, sizeof a), hvp_dtype_name(src->dtype),
                        hvp_shape_str(src, b, sizeof b));
    }
    return copy_elements(ctx, dst->dtype, hvp_numel(dst), src->buf, src->off, dst->buf, dst->off);
}

const char *hvp_shape_str(const hvp_tensor *t, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int i = 0; i < t->ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %d" : "%d", t->shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}
