/* Our own SGEMM: C = alpha * op(A) * op(B) + beta * C, row-major, strided batched.
 *
 * Matrices are addressed through strides so that one kernel serves every transpose:
 *   op(A)(i, p) = A[a_off + z * a_bs + i * a_rs + p * a_cs]   (z = batch index)
 *   op(B)(p, j) = B[b_off + z * b_bs + p * b_rs + j * b_cs]
 *   C(i, j)     = C[c_off + z * c_bs + i * ldc + j]
 * The host passes (rs, cs) = (ld, 1) for a plain matrix and (1, ld) for a transposed one.
 * beta == 0 never reads C (C may hold NaN). The batch is grid dimension 2.
 *
 * Three families:
 *  - gemm_reg_TMxTN: each work-item computes a TM x TN tile of C in registers, TN = VW * NV
 *    columns held as NV vectors of VW floats: per p, one vector load of op(B) per vector and
 *    a broadcast of op(A) per row. op(B) comes as zero-padded column panels (gemm_pack,
 *    gemm_pack_t) or as contiguous rows of whole tiles, so its loads need no guard; op(A)
 *    may come as row panels. No local memory and no barriers: any work-group shape is
 *    correct (work-group size 1 suits CPU devices such as PoCL).
 *  - gemm_dot_4x4: 4 x 4 dot products along k, for a linear layer at a small batch.
 *  - gemm_lds: work-group tiles staged in local memory; each work-item a LDS_R x LDS_R
 *    tile. The tile size follows the launcher's local size (any local size is correct);
 *    local memory is sized by the host as KT * (rows + cols) floats. Any layout.
 * Rows and columns beyond the matrix are clamped or zero-filled on load, never stored. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

/* The tile is unrolled by hand into named registers (compilers keep private arrays of
 * vectors in memory): before each instantiation ROWS(X) lists X(r) for the TM rows, VECS(X, r)
 * lists X(r, v) for the NV vectors, VT is the vector type of VW floats. */
#define DECL_ACC_V(r, v) VT acc##r##_##v = (VT)(0.0f);
#define DECL_ACC(r) VECS(DECL_ACC_V, r)                                                        \
    const global float *ap##r = A + (a_panel ? i0 * k + r : min(i0 + r, m - 1) * a_rs);
#define LOAD_B(r, v) const VT b##v = VLOAD(v, bp);
#define FMA_V(r, v) acc##r##_##v += a##r * b##v;
#define FMA_ROW(r)                                                                             \
    const float a##r = ap##r[p * a_cs];                                                        \
    VECS(FMA_V, r)
#define STORE_FULL(r, v)                                                                       \
    {                                                                                          \
        VT c = alpha * acc##r##_##v;                                                           \
        if (beta != 0.0f)                                                                      \
            c += beta * VLOAD(v, cp);                                                          \
        VSTORE(c, v, cp);                                                                      \
    }
/* A ragged last tile stores component by component (no private arrays of vectors:
 * Oclgrind 21.10 crashes on vector stores to private memory). */
#define STORE_E(x, e)                                                                          \
    if (j0 + (e) < n) {                                                                        \
        float c = alpha * (x);                                                                 \
        if (beta != 0.0f)                                                                      \
            c += beta * cp[e];                                                                 \
        cp[e] = c;                                                                             \
    }
#define STORE_PART(r, v) COMPS(STORE_E, acc##r##_##v, (v) * VW)
#define STORE_ROW(r)                                                                           \
    if (i0 + r < m) {                                                                          \
        global float *cp = C + (i0 + r) * ldc + j0;                                            \
        if (full_n) {                                                                          \
            VECS(STORE_FULL, r)                                                                \
        } else {                                                                               \
            VECS(STORE_PART, r)                                                                \
        }                                                                                      \
    }

/* op(B) is read as whole vectors: the host passes either column panels (b_panel = 1,
 * zero-padded to whole tiles by gemm_pack) or rows with unit column stride and n a multiple
 * of TN, so every load is in bounds. */
#define GEMM_REG_KERNEL(NAME)                                                                  \
    kernel void NAME(int m, int n, int k, float alpha, float beta, global const float *A,     \
                     int a_off, int a_rs, int a_cs, int a_bs, global const float *B, int b_off, \
                     int b_rs, int b_cs, int b_bs, global float *C, int c_off, int ldc,        \
                     int c_bs, int a_panel, int b_panel)                                       \
    {                                                                                          \
        /* Row tiles in dimension 0: consecutive work-groups share a panel of op(B). */       \
        const int i0 = (int)get_global_id(0) * TM;                                             \
        const int j0 = (int)get_global_id(1) * TN;                                             \
        const int z = (int)get_global_id(2);                                                   \
        if (i0 >= m || j0 >= n)                                                                \
            return;                                                                            \
        A += a_off + z * a_bs;                                                                 \
        B += b_off + z * b_bs;                                                                 \
        C += c_off + z * c_bs;                                                                 \
        ROWS(DECL_ACC)                                                                         \
        const int full_n = j0 + TN <= n;                                                       \
        const global float *bp = B + (b_panel ? j0 * k : j0);                                  \
        for (int p = 0; p < k; p++) {                                                          \
            VECS(LOAD_B, 0)                                                                    \
            ROWS(FMA_ROW)                                                                      \
            bp += b_rs;                                                                        \
        }                                                                                      \
        ROWS(STORE_ROW)                                                                        \
    }

#define COMPS8(X, x, b)                                                                        \
    X(x.s0, b + 0) X(x.s1, b + 1) X(x.s2, b + 2) X(x.s3, b + 3) X(x.s4, b + 4) X(x.s5, b + 5)   \
    X(x.s6, b + 6) X(x.s7, b + 7)
#define COMPS16(X, x, b)                                                                       \
    COMPS8(X, x, b)                                                                            \
    X(x.s8, b + 8) X(x.s9, b + 9) X(x.sa, b + 10) X(x.sb, b + 11) X(x.sc, b + 12)              \
    X(x.sd, b + 13) X(x.se, b + 14) X(x.sf, b + 15)
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define ROWS6(X) ROWS4(X) X(4) X(5)
#define ROWS8(X) ROWS6(X) X(6) X(7)
#define ROWS12(X) ROWS8(X) X(8) X(9) X(10) X(11)
#define ROWS14(X) ROWS12(X) X(12) X(13)
#define VECS1(X, r) X(r, 0)
#define VECS2(X, r) X(r, 0) X(r, 1)

#define VT float16
#define VW 16
#define VLOAD vload16
#define VSTORE vstore16
#define COMPS COMPS16
#define TM 4
#define TN 32
#define ROWS ROWS4
#define VECS VECS2
GEMM_REG_KERNEL(gemm_reg_4x32)
#undef TM
#undef ROWS
#define TM 6
#define ROWS ROWS6
GEMM_REG_KERNEL(gemm_reg_6x32)
#undef TM
#undef ROWS
#define TM 8
#define ROWS ROWS8
GEMM_REG_KERNEL(gemm_reg_8x32)
#undef TM
#undef ROWS
#define TM 12
#define ROWS ROWS12
GEMM_REG_KERNEL(gemm_reg_12x32)
#undef TM
#undef ROWS
#define TM 14
#define ROWS ROWS14
GEMM_REG_KERNEL(gemm_reg_14x32)
#undef TM
#undef ROWS
#define TM 8
#define ROWS ROWS8
#undef TN
#undef VECS
#define TN 16
#define VECS VECS1
GEMM_REG_KERNEL(gemm_reg_8x16)
#undef TM
#undef ROWS
#define TM 4
#define ROWS ROWS4
GEMM_REG_KERNEL(gemm_reg_4x16)
#undef VT
#undef VLOAD
#undef VSTORE
#undef TN
#undef VW
#undef COMPS
#define VT float8
#define VW 8
#define VLOAD vload8
#define VSTORE vstore8
#define COMPS COMPS8
#define TN 8
GEMM_REG_KERNEL(gemm_reg_4x8)
#undef VT
#undef VLOAD
#undef VSTORE
#undef VW
#undef COMPS
#undef TM
#undef TN
#undef ROWS
#undef VECS

/* Dot-product form for op(A) with contiguous rows and op(B) with contiguous columns (the
 * A x W^T of a linear layer at a small batch): each work-item computes a 4 x 4 tile of C as
 * 16 dot products along k in vectors of 8, with no packing of B. Other layouts take a
 * guarded scalar path. Rows and columns beyond the matrix are clamped and never stored. */
#define DOT_DECL_C(r, c) float8 acc##r##c = (float8)(0.0f);
#define DOT_DECL(r)                                                                            \
    const global float *ap##r = A + min(i0 + r, m - 1) * a_rs;                                 \
    const global float *bp##r = B + min(j0 + r, n - 1) * b_cs;                                 \
    COLS4(DOT_DECL_C, r)
#define DOT_LOAD(r)                                                                            \
    const float8 a##r = vload8(0, ap##r + p), b##r = vload8(0, bp##r + p);
#define DOT_FMA_C(r, c) acc##r##c += a##r * b##c;
#define DOT_FMA(r) COLS4(DOT_FMA_C, r)
#define DOT_TAIL_C(r, c) acc##r##c.s0 += ap##r[p * a_cs] * bp##c[p * b_rs];
#define DOT_TAIL(r) COLS4(DOT_TAIL_C, r)
#define DOT_STORE_C(r, c)                                                                      \
    if (j0 + c < n) {                                                                          \
        const float8 v = acc##r##c;                                                            \
        float t[8];                                                                            \
        vstore8(v, 0, t);                                                                      \
        const float sum = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));   \
        global float *cp = C + (i0 + r) * ldc + j0 + c;                                        \
        *cp = beta != 0.0f ? alpha * sum + beta * *cp : alpha * sum;                           \
    }
#define DOT_STORE(r)                                                                           \
    if (i0 + r < m) {                                                                          \
        COLS4(DOT_STORE_C, r)                                                                  \
    }
#define COLS4(X, r) X(r, 0) X(r, 1) X(r, 2) X(r, 3)

kernel void gemm_dot_4x4(int m, int n, int k, float alpha, float beta, global const float *A,
                         int a_off, int a_rs, int a_cs, int a_bs, global const float *B,
                         int b_off, int b_rs, int b_cs, int b_bs, global float *C, int c_off,
                         int ldc, int c_bs, int a_panel, int b_panel)
{
    const int i0 = (int)get_global_id(0) * 4;
    const int j0 = (int)get_global_id(1) * 4;
    const int z = (int)get_global_id(2);
    if (i0 >= m || j0 >= n)
        return;
    A += a_off + z * a_bs;
    B += b_off + z * b_bs;
    C += c_off + z * c_bs;
    ROWS4(DOT_DECL)
    int p = 0;
    if (a_cs == 1 && b_rs == 1) {
        for (; p + 8 <= k; p += 8) {
            ROWS4(DOT_LOAD)
            ROWS4(DOT_FMA)
        }
    }
    for (; p < k; p++) {
        ROWS4(DOT_TAIL)
    }
    ROWS4(DOT_STORE)
}

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
        /* Cooperative loads over the 2-d local ids (no division); consecutive work-items
         * read consecutive addresses. */
        if (a_cs == 1) {
            for (int ii = ly; ii < rows; ii += LY)
                for (int pp = lx; pp < LDS_KT; pp += LX) {
                    const int gi = gi0 + ii, gp = p0 + pp;
                    As[pp * rows + ii] = gi < m && gp < k ? A[gi * a_rs + gp] : 0.0f;
                }
        } else {
            for (int pp = ly; pp < LDS_KT; pp += LY)
                for (int ii = lx; ii < rows; ii += LX) {
                    const int gi = gi0 + ii, gp = p0 + pp;
                    As[pp * rows + ii] = gi < m && gp < k ? A[gi * a_rs + gp * a_cs] : 0.0f;
                }
        }
        if (b_cs == 1) {
            for (int pp = ly; pp < LDS_KT; pp += LY)
                for (int jj = lx; jj < cols; jj += LX) {
                    const int gj = gj0 + jj, gp = p0 + pp;
                    Bs[pp * cols + jj] = gj < n && gp < k ? B[gp * b_rs + gj] : 0.0f;
                }
        } else {
            for (int jj = ly; jj < cols; jj += LY)
                for (int pp = lx; pp < LDS_KT; pp += LX) {
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

/* Copies op(B) (k x n) into column panels P[n_pad / panel][k][panel], zero-padded to whole
 * panels, which a register kernel's work-group then reads front to back (b_panel = 1).
 * Called with op(A)^T as B, it makes the row panels of op(A) (a_panel = 1).
 * One work-item per (panel, p): a row of `panel` floats. */
kernel void gemm_pack(int k, int n, int npanels, int panel, global const float *B, int b_off,
                      int b_rs, int b_cs, int b_bs, global float *P, int p_off, int p_bs)
{
    const int t = (int)get_global_id(0), p = (int)get_global_id(1), z = (int)get_global_id(2);
    if (t >= npanels || p >= k)
        return;
    const global float *src = B + b_off + z * b_bs + p * b_rs;
    global float *dst = P + p_off + z * p_bs + (t * k + p) * panel;
    const int j0 = t * panel;
    if (b_cs == 1 && j0 + panel <= n && panel % 8 == 0) {
        for (int q = 0; q < panel; q += 8)
            vstore8(vload8(0, src + j0 + q), 0, dst + q);
    } else if (b_cs == 1 && j0 + panel <= n) {
        for (int q = 0; q < panel; q++)
            dst[q] = src[j0 + q];
    } else {
        for (int jj = 0; jj < panel; jj++)
            dst[jj] = j0 + jj < n ? src[(j0 + jj) * b_cs] : 0.0f;
    }
}

/* gemm_pack for a source contiguous along p (rs == 1, a transposed operand): one work-item
 * per column j = t * panel + q, reading its column along p and writing down the panel.
 * (No division or remainder here and in gemm_lds: LLVM pairs them with `freeze`, which
 * Oclgrind's uninitialised-value checker cannot interpret.) */
kernel void gemm_pack_t(int k, int n, int npanels, int panel, global const float *B, int b_off,
                        int b_cs, int b_bs, global float *P, int p_off, int p_bs)
{
    const int q = (int)get_global_id(0), t = (int)get_global_id(1), z = (int)get_global_id(2);
    if (q >= panel || t >= npanels)
        return;
    const int j = t * panel + q;
    global float *dst = P + p_off + z * p_bs + t * k * panel + q;
    if (j < n) {
        const global float *src = B + b_off + z * b_bs + j * b_cs;
        for (int p = 0; p < k; p++)
            dst[p * panel] = src[p];
    } else {
        for (int p = 0; p < k; p++)
            dst[p * panel] = 0.0f;
    }
}
