/* Our own SGEMM: C = alpha * op(A) * op(B) + beta * C, row-major, strided batched.
 *
 * Matrices are addressed through strides so that one kernel serves every transpose:
 *   op(A)(i, p) = A[a_off + z * a_bs + i * a_rs + p * a_cs]   (z = batch index)
 *   op(B)(p, j) = B[b_off + z * b_bs + p * b_rs + j * b_cs]
 *   C(i, j)     = C[c_off + z * c_bs + i * ldc + j]
 * The host passes (rs, cs) = (ld, 1) for a plain matrix and (1, ld) for a transposed one.
 * beta == 0 never reads C (C may hold NaN). The batch is grid dimension 2.
 *
 * Two families:
 *  - gemm_reg_TMxTN: each work-item computes a TM x TN tile of C in registers, TN = VW * NV
 *    columns held as NV vectors of VW floats. Fast path (full tile, op(B) rows contiguous):
 *    one vector load of op(B) per (p, vector) and a broadcast of op(A) per (p, row). Edge
 *    tiles and strided op(B) take a guarded path. No local memory and no barriers: any
 *    work-group shape is correct (work-group size 1 suits CPU devices such as PoCL).
 *  - gemm_lds: work-group tiles staged in local memory; each work-item a LDS_R x LDS_R
 *    tile. The tile size follows the launcher's local size (any local size is correct);
 *    local memory is sized by the host as KT * (rows + cols) floats.
 * Rows beyond m are clamped (read valid memory, never stored); columns beyond n are
 * zero-filled on load and never stored. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#define GEMM_REG_KERNEL(NAME, TM, VW, NV)                                                       \
    kernel void NAME(int m, int n, int k, float alpha, float beta, global const float *A,    \
                     int a_off, int a_rs, int a_cs, int a_bs, global const float *B, int b_off, \
                     int b_rs, int b_cs, int b_bs, global float *C, int c_off, int ldc,       \
                     int c_bs)                                                                \
    {                                                                                         \
        const int j0 = (int)get_global_id(0) * (VW * NV);                                     \
        const int i0 = (int)get_global_id(1) * TM;                                            \
        const int z = (int)get_global_id(2);                                                  \
        if (i0 >= m || j0 >= n)                                                               \
            return;                                                                           \
        A += a_off + z * a_bs;                                                                \
        B += b_off + z * b_bs;                                                                \
        C += c_off + z * c_bs;                                                                \
        CAT(float, VW) acc[TM][NV];                                                           \
        int arow[TM];                                                                         \
        for (int r = 0; r < TM; r++) {                                                        \
            arow[r] = min(i0 + r, m - 1) * a_rs;                                              \
            for (int v = 0; v < NV; v++)                                                      \
                acc[r][v] = (CAT(float, VW))(0.0f);                                           \
        }                                                                                     \
        const int full_n = j0 + VW * NV <= n;                                                 \
        if (full_n && b_cs == 1) {                                                            \
            const global float *bp = B + j0;                                                  \
            const global float *ap = A;                                                       \
            for (int p = 0; p < k; p++) {                                                     \
                CAT(float, VW) b[NV];                                                         \
                for (int v = 0; v < NV; v++)                                                  \
                    b[v] = CAT(vload, VW)(v, bp);                                             \
                for (int r = 0; r < TM; r++) {                                                \
                    const float a = ap[arow[r]];                                              \
                    for (int v = 0; v < NV; v++)                                              \
                        acc[r][v] += a * b[v];                                                \
                }                                                                             \
                bp += b_rs;                                                                   \
                ap += a_cs;                                                                   \
            }                                                                                 \
        } else {                                                                              \
            for (int p = 0; p < k; p++) {                                                     \
                float bt[VW * NV];                                                            \
                for (int jj = 0; jj < VW * NV; jj++)                                          \
                    bt[jj] = j0 + jj < n ? B[p * b_rs + (j0 + jj) * b_cs] : 0.0f;             \
                CAT(float, VW) b[NV];                                                         \
                for (int v = 0; v < NV; v++)                                                  \
                    b[v] = CAT(vload, VW)(v, bt);                                             \
                for (int r = 0; r < TM; r++) {                                                \
                    const float a = A[arow[r] + p * a_cs];                                    \
                    for (int v = 0; v < NV; v++)                                              \
                        acc[r][v] += a * b[v];                                                \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        for (int r = 0; r < TM; r++) {                                                        \
            if (i0 + r >= m)                                                                  \
                break;                                                                        \
            global float *cp = C + (i0 + r) * ldc + j0;                                       \
            if (full_n) {                                                                     \
                for (int v = 0; v < NV; v++) {                                                \
                    CAT(float, VW) c = alpha * acc[r][v];                                     \
                    if (beta != 0.0f)                                                         \
                        c += beta * CAT(vload, VW)(v, cp);                                    \
                    CAT(vstore, VW)(c, v, cp);                                                \
                }                                                                             \
            } else {                                                                          \
                float ct[VW * NV];                                                            \
                for (int v = 0; v < NV; v++)                                                  \
                    CAT(vstore, VW)(acc[r][v], v, ct);                                        \
                for (int jj = 0; jj < VW * NV && j0 + jj < n; jj++) {                         \
                    float c = alpha * ct[jj];                                                 \
                    if (beta != 0.0f)                                                         \
                        c += beta * cp[jj];                                                   \
                    cp[jj] = c;                                                               \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

GEMM_REG_KERNEL(gemm_reg_4x32, 4, 16, 2)
GEMM_REG_KERNEL(gemm_reg_8x32, 8, 16, 2)
GEMM_REG_KERNEL(gemm_reg_6x32, 6, 16, 2)
GEMM_REG_KERNEL(gemm_reg_8x16, 8, 16, 1)
GEMM_REG_KERNEL(gemm_reg_4x16, 4, 16, 1)
GEMM_REG_KERNEL(gemm_reg_4x8, 4, 8, 1)

/* Work-group tiled GEMM through local memory. The work-group (LX, LY) computes a tile of
 * (LY * LDS_R) rows by (LX * LDS_R) columns; work-item (lx, ly) owns rows ly + r * LY and
 * columns lx + c * LX. As holds op(A) tile [KT][rows], Bs holds op(B) tile [KT][cols]. */
#define LDS_R 4
#define LDS_KT 16

kernel void gemm_lds(int m, int n, int k, float alpha, float beta, global const float *A,
                     int a_off, int a_rs, int a_cs, int a_bs, global const float *B, int b_off,
                     int b_rs, int b_cs, int b_bs, global float *C, int c_off, int ldc, int c_bs,
                     local float *As, local float *Bs)
{
    const int lx = (int)get_local_id(0), ly = (int)get_local_id(1);
    const int LX = (int)get_local_size(0), LY = (int)get_local_size(1);
    const int lid = ly * LX + lx, nthreads = LX * LY;
    const int rows = LY * LDS_R, cols = LX * LDS_R;
    const int gi0 = (int)get_group_id(1) * rows, gj0 = (int)get_group_id(0) * cols;
    const int z = (int)get_global_id(2);
    A += a_off + z * a_bs;
    B += b_off + z * b_bs;
    C += c_off + z * c_bs;
    float acc[LDS_R][LDS_R];
    for (int r = 0; r < LDS_R; r++)
        for (int c = 0; c < LDS_R; c++)
            acc[r][c] = 0.0f;
    for (int p0 = 0; p0 < k; p0 += LDS_KT) {
        /* Cooperative loads; consecutive work-items read consecutive addresses. */
        const int na = LDS_KT * rows, nb = LDS_KT * cols;
        if (a_cs == 1) {
            for (int idx = lid; idx < na; idx += nthreads) {
                const int pp = idx % LDS_KT, ii = idx / LDS_KT;
                const int gi = gi0 + ii, gp = p0 + pp;
                As[pp * rows + ii] = gi < m && gp < k ? A[gi * a_rs + gp] : 0.0f;
            }
        } else {
            for (int idx = lid; idx < na; idx += nthreads) {
                const int ii = idx % rows, pp = idx / rows;
                const int gi = gi0 + ii, gp = p0 + pp;
                As[pp * rows + ii] = gi < m && gp < k ? A[gi * a_rs + gp * a_cs] : 0.0f;
            }
        }
        if (b_cs == 1) {
            for (int idx = lid; idx < nb; idx += nthreads) {
                const int jj = idx % cols, pp = idx / cols;
                const int gj = gj0 + jj, gp = p0 + pp;
                Bs[pp * cols + jj] = gj < n && gp < k ? B[gp * b_rs + gj] : 0.0f;
            }
        } else {
            for (int idx = lid; idx < nb; idx += nthreads) {
                const int pp = idx % LDS_KT, jj = idx / LDS_KT;
                const int gj = gj0 + jj, gp = p0 + pp;
                Bs[pp * cols + jj] = gj < n && gp < k ? B[gp * b_rs + gj * b_cs] : 0.0f;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int pp = 0; pp < LDS_KT; pp++) {
            float a[LDS_R], b[LDS_R];
            for (int r = 0; r < LDS_R; r++)
                a[r] = As[pp * rows + ly + r * LY];
            for (int c = 0; c < LDS_R; c++)
                b[c] = Bs[pp * cols + lx + c * LX];
            for (int r = 0; r < LDS_R; r++)
                for (int c = 0; c < LDS_R; c++)
                    acc[r][c] += a[r] * b[c];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    for (int r = 0; r < LDS_R; r++) {
        const int i = gi0 + ly + r * LY;
        for (int c = 0; c < LDS_R; c++) {
            const int j = gj0 + lx + c * LX;
            if (i < m && j < n) {
                float v = alpha * acc[r][c];
                if (beta != 0.0f)
                    v += beta * C[i * ldc + j];
                C[i * ldc + j] = v;
            }
        }
    }
}

/* P(p, j) = op(B)(p, j) for j < n, 0 for n <= j < ldp: op(B) as a dense [k, ldp] matrix
 * with contiguous rows, so that the register kernels take their fast path. */
kernel void gemm_pack(int k, int n, int ldp, global const float *B, int b_off, int b_rs,
                      int b_cs, int b_bs, global float *P, int p_off, int p_bs)
{
    const int j = (int)get_global_id(0), p = (int)get_global_id(1), z = (int)get_global_id(2);
    if (j >= ldp || p >= k)
        return;
    P[p_off + z * p_bs + p * ldp + j] =
        j < n ? B[b_off + z * b_bs + p * b_rs + j * b_cs] : 0.0f;
}
