/* GEMM through CLBlast, row-major, on (buffer, offset, ld) matrices. The queue is handed
 * over with no event in the hot path (one is made only when profiling). */
#include <clblast_c.h>

#include "hvp/ops.h"

static hvp_status check_dims(const char *op, int m, int n, int k, int batch)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: negative size (m=%d n=%d k=%d batch=%d)", op, m, n, k,
                        batch);
    return HVP_OK;
}

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

/* C = beta*C when there is nothing to multiply (k == 0), which CLBlast rejects. As in
 * BLAS, beta == 0 clears C without reading it. */
static hvp_status scale_only(hvp_ctx *ctx, int m, int n, float beta, hvp_mat c, size_t stride_c,
                             int batch)
{
    for (int i = 0; i < batch; i++)
        for (int r = 0; r < m; r++) {
            size_t row = c.off + (size_t)i * stride_c + (size_t)r * (size_t)c.ld;
            if (beta == 0.0f) {
                const float zero = 0.0f;
                CL_CHECK(clEnqueueFillBuffer(ctx->queue, c.buf, &zero, sizeof zero,
                                             row * sizeof zero, (size_t)n * sizeof zero, 0, NULL,
                                             NULL));
                continue;
            }
            CLBlastStatusCode st = CLBlastSscal((size_t)n, beta, c.buf, row, 1, &ctx->queue, NULL);
            if (st != CLBlastSuccess)
                return HVP_FAIL(HVP_ERR_CL, "CLBlastSscal failed: %s", hvp_clblast_error_name(st));
        }
    return HVP_OK;
}

hvp_status hvp_gemm(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    hvp_mat a, hvp_mat b, float beta, hvp_mat c)
{
    return hvp_gemm_strided_batched(ctx, trans_a, trans_b, m, n, k, alpha, a, 0, b, 0, beta, c,
                                    0, 1);
}

hvp_status hvp_gemm_strided_batched(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k,
                                    float alpha, hvp_mat a, size_t stride_a, hvp_mat b,
                                    size_t stride_b, float beta, hvp_mat c, size_t stride_c,
                                    int batch)
{
    HVP_TRY(check_dims("gemm", m, n, k, batch));
    if (m == 0 || n == 0 || batch == 0)
        return HVP_OK;
    if (k == 0)
        return scale_only(ctx, m, n, beta, c, stride_c, batch);
    CLBlastStatusCode st;
    if (batch == 1)
        st = CLBlastSgemm(CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), (size_t)m, (size_t)n,
                          (size_t)k, alpha, a.buf, a.off, (size_t)a.ld, b.buf, b.off,
                          (size_t)b.ld, beta, c.buf, c.off, (size_t)c.ld, &ctx->queue,
                          hvp_profile_event(ctx, "clblast_sgemm"));
    else
        st = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, tr(trans_a), tr(trans_b), (size_t)m, (size_t)n, (size_t)k,
            alpha, a.buf, a.off, (size_t)a.ld, stride_a, b.buf, b.off, (size_t)b.ld, stride_b,
            beta, c.buf, c.off, (size_t)c.ld, stride_c, (size_t)batch, &ctx->queue,
            hvp_profile_event(ctx, "clblast_sgemm_batched"));
    if (st != CLBlastSuccess)
        return HVP_FAIL(HVP_ERR_CL,
                        "CLBlast SGEMM (m=%d n=%d k=%d batch=%d, lda=%d ldb=%d ldc=%d) failed: %s",
                        m, n, k, batch, a.ld, b.ld, c.ld, hvp_clblast_error_name(st));
    return HVP_OK;
}
