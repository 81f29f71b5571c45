#include "harness.h"
#include "ref/ref.h"

/* Shapes that divide no work-group or tile size, plus a couple of square ones. */
static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 64, 64},
                                {100, 37, 129}, {255, 130, 67}};

static void check_gemm(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad)
{
    /* Leading dimensions larger than the rows, so that ld handling is exercised. */
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    int lda = ca + pad, ldb = cb + pad, ldc = n + pad;
    int na = ra * lda, nb = rb * ldb, nc = m * ldc;
    float *a = test_floats((size_t)na), *b = test_floats((size_t)nb), *c = test_floats((size_t)nc);
    test_fill_uniform(a, (size_t)na, -1, 1);
    test_fill_uniform(b, (size_t)nb, -1, 1);
    test_fill_uniform(c, (size_t)nc, -1, 1);
    hvp_tensor da = test_tensor(1, &na, a), db = test_tensor(1, &nb, b), dc = test_tensor(1, &nc, c);
    REQUIRE_OK(hvp_gemm(test_ctx(), ta, tb, m, n, k, alpha, hvp_mat_of(&da, lda),
                        hvp_mat_of(&db, ldb), beta, hvp_mat_of(&dc, ldc)));
    double *want = test_to_double(c, (size_t)nc);
    ref_gemm(ta, tb, m, n, k, alpha, test_to_double(a, (size_t)na), lda,
             test_to_double(b, (size_t)nb), ldb, beta, want, ldc);
    char what[96];
    snprintf(what, sizeof what, "gemm %c%c m=%d n=%d k=%d", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n,
             k);
    EXPECT_CLOSE(what, test_read(&dc), want, (size_t)nc, FWD_TOL);
}

HVP_TEST(gemm_shapes_and_transposes)
{
    int nshapes = test_tiny() ? 2 : (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < nshapes; s++)
        for (int t = 0; t < 4; t++)
            check_gemm(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], 1.0f, 0.0f, 0);
}

HVP_TEST(gemm_alpha_beta_ld)
{
    check_gemm(0, 1, 13, 11, 7, 0.5f, 1.0f, 3);
    check_gemm(1, 0, 9, 14, 5, -2.0f, 0.25f, 1);
}

HVP_TEST(gemm_strided_batched)
{
    int batch = 3, m = test_tiny() ? 3 : 19, n = test_tiny() ? 2 : 23, k = test_tiny() ? 4 : 11;
    int sa = m * k + 5, sb = k * n + 2, sc = m * n + 7; /* gaps between the matrices */
    int na = batch * sa, nb = batch * sb, nc = batch * sc;
    float *a = test_floats((size_t)na), *b = test_floats((size_t)nb), *c = test_floats((size_t)nc);
    test_fill_uniform(a, (size_t)na, -1, 1);
    test_fill_uniform(b, (size_t)nb, -1, 1);
    test_fill_uniform(c, (size_t)nc, -1, 1);
    hvp_tensor ta = test_tensor(1, &na, a), tb = test_tensor(1, &nb, b), tc = test_tensor(1, &nc, c);
    REQUIRE_OK(hvp_gemm_strided_batched(test_ctx(), 0, 1, m, n, k, 1.0f, hvp_mat_of(&ta, k),
                                        (size_t)sa, hvp_mat_of(&tb, k), (size_t)sb, 0.5f,
                                        hvp_mat_of(&tc, n), (size_t)sc, batch));
    double *want = test_to_double(c, (size_t)nc);
    double *da = test_to_double(a, (size_t)na), *db = test_to_double(b, (size_t)nb);
    for (int i = 0; i < batch; i++)
        ref_gemm(0, 1, m, n, k, 1.0, da + i * sa, k, db + i * sb, k, 0.5, want + i * sc, n);
    EXPECT_CLOSE("strided batched gemm", test_read(&tc), want, (size_t)nc, FWD_TOL);
}

HVP_TEST(gemm_k_zero_scales_c)
{
    int m = 4, n = 5, nc = m * n, one = 1;
    float *c = test_floats((size_t)nc);
    test_fill_uniform(c, (size_t)nc, -1, 1);
    hvp_tensor ta = test_tensor(1, &one, c), tc = test_tensor(1, &nc, c);
    REQUIRE_OK(hvp_gemm(test_ctx(), 0, 0, m, n, 0, 1.0f, hvp_mat_of(&ta, 1), hvp_mat_of(&ta, n),
                        2.0f, hvp_mat_of(&tc, n)));
    double *want = test_doubles((size_t)nc);
    for (int i = 0; i < nc; i++)
        want[i] = 2.0 * c[i];
    EXPECT_CLOSE("gemm k=0", test_read(&tc), want, (size_t)nc, FWD_TOL);
}
