#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- every algorithm directly (our kernels and CLBlast), then through the dispatcher ---- */

typedef struct gemm_case {
    int ta, tb, m, n, k;
    float alpha, beta;
    int pad;      /* extra elements per row: ld > columns */
    int off;      /* elements before each matrix in its buffer */
    int batch;    /* strided batched when > 1, with gaps between the matrices */
    int share_a;  /* stride_a = 0: the batch shares A (convolution weights) */
    int nan_c;    /* C starts as NaN (beta must be 0) */
} gemm_case;

/* Runs one case with `algo` (NULL: the dispatcher) against the double reference. */
static void check_case(const char *algo, gemm_case g)
{
    int ra = g.ta ? g.k : g.m, ca = g.ta ? g.m : g.k, rb = g.tb ? g.n : g.k, cb = g.tb ? g.k : g.n;
    int lda = ca + g.pad, ldb = cb + g.pad, ldc = g.n + g.pad;
    if (lda < 1)
        lda = 1;
    if (ldb < 1)
        ldb = 1;
    int sa = g.share_a ? 0 : ra * lda + 3, sb = rb * ldb + 5, sc = g.m * ldc + 2;
    int na = g.off + (g.share_a ? ra * lda : g.batch * sa) + 1;
    int nb = g.off + g.batch * sb + 1, nc = g.off + g.batch * sc + 1;
    float *a = test_floats((size_t)na), *b = test_floats((size_t)nb), *c = test_floats((size_t)nc);
    test_fill_uniform(a, (size_t)na, -1, 1);
    test_fill_uniform(b, (size_t)nb, -1, 1);
    test_fill_uniform(c, (size_t)nc, -1, 1);
    if (g.nan_c)
        for (int i = 0; i < nc; i++)
            c[i] = NAN;
    hvp_tensor da = test_tensor(1, &na, a), db = test_tensor(1, &nb, b), dc = test_tensor(1, &nc, c);
    hvp_mat ma = hvp_mat_of(&da, lda), mb = hvp_mat_of(&db, ldb), mc = hvp_mat_of(&dc, ldc);
    ma.off += (size_t)g.off;
    mb.off += (size_t)g.off;
    mc.off += (size_t)g.off;
    char what[160];
    snprintf(what, sizeof what, "%s %c%c m=%d n=%d k=%d batch=%d alpha=%g beta=%g pad=%d off=%d%s",
             algo ? algo : "dispatch", g.ta ? 'T' : 'N', g.tb ? 'T' : 'N', g.m, g.n, g.k, g.batch,
             g.alpha, g.beta, g.pad, g.off, g.nan_c ? " C=NaN" : "");
    hvp_status s = hvp_gemm_strided_batched_with(test_ctx(), algo, g.ta, g.tb, g.m, g.n, g.k,
                                                 g.alpha, ma, (size_t)sa, mb, (size_t)sb, g.beta,
                                                 mc, (size_t)sc, g.batch);
    if (s != HVP_OK) {
        TEST_FAIL("%s: %s", what, hvp_last_error());
        return;
    }
    /* Elements outside the matrices must keep their values: the reference leaves them. */
    double *want = test_to_double(c, (size_t)nc);
    double *dA = test_to_double(a, (size_t)na), *dB = test_to_double(b, (size_t)nb);
    for (int i = 0; i < g.batch; i++)
        ref_gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, dA + g.off + i * sa, lda,
                 dB + g.off + i * sb, ldb, g.beta, want + g.off + i * sc, ldc);
    float *got = test_read(&dc);
    if (g.nan_c) { /* NaN outside C stays NaN; compare only inside */
        for (int i = 0; i < nc; i++)
            if (isnan(want[i])) {
                EXPECT(isnan(got[i]), "%s: element %d outside C was written", what, i);
                want[i] = 0;
                got[i] = 0;
            }
    }
    EXPECT_CLOSE(what, got, want, (size_t)nc, FWD_TOL);
}

/* Every algorithm, or those listed in HVP_TEST_GEMM_ALGOS (comma-separated) when set. In
 * tiny mode (Oclgrind, where every launch costs seconds) one of each kind of kernel: the
 * register kernels are one macro, CLBlast is not our code. */
static const char *const *algos(void)
{
    static const char *list[64];
    const char *env = getenv("HVP_TEST_GEMM_ALGOS");
    if (!(env && *env) && test_tiny())
        env = "reg8x32,dot4x4,lds8";
    int n = 0;
    for (const char *const *al = hvp_gemm_algo_names(); *al && n < 63; al++) {
        if (env && *env) {
            const char *hit = strstr(env, *al);
            size_t len = strlen(*al);
            if (!hit || (hit != env && hit[-1] != ',') || (hit[len] && hit[len] != ','))
                continue;
        }
        list[n++] = *al;
    }
    list[n] = NULL;
    return list;
}

HVP_TEST(gemm_algos_transposes_odd_shapes)
{
    static const int big[][3] = {{1, 1, 1},     {2, 3, 1},     {7, 33, 5},   {33, 17, 64},
                                 {65, 40, 31},  {100, 37, 129}, {31, 257, 3}, {257, 33, 257},
                                 {129, 200, 17}};
    static const int tiny[][3] = {{5, 33, 3}};
    int nshapes = test_tiny() ? 1 : (int)(sizeof big / sizeof big[0]);
    for (const char *const *al = algos(); *al; al++)
        for (int s = 0; s < nshapes; s++)
            for (int t = 0; t < 4; t++) {
                const int *sh = test_tiny() ? tiny[s] : big[s];
                gemm_case g = {t & 1, t >> 1, sh[0], sh[1], sh[2], 1.0f, 0.0f, 0, 0, 1, 0, 0};
                check_case(*al, g);
            }
}

HVP_TEST(gemm_algos_ld_offset_alpha_beta_nan)
{
    /* n = 70: a transposed A is packed (n > 2 tiles), B too (ragged last tile). */
    int m = test_tiny() ? 5 : 45, n = 70, k = test_tiny() ? 3 : 23;
    if (test_tiny()) {
        for (const char *const *al = algos(); *al; al++) {
            gemm_case g1 = {1, 0, m, n, k, 0.5f, 1.0f, 3, 7, 1, 0, 0};
            check_case(*al, g1);
            gemm_case g3 = {0, 1, 3, 9, 9, 1.5f, 0.0f, 2, 5, 1, 0, 1};
            check_case(*al, g3);
        }
        return;
    }
    for (const char *const *al = algos(); *al; al++)
        for (int t = 0; t < 4; t++) {
            gemm_case g1 = {t & 1, t >> 1, m, n, k, 0.5f, 1.0f, 3, 7, 1, 0, 0};
            check_case(*al, g1);
            gemm_case g2 = {t & 1, t >> 1, m, n, k, -2.0f, 0.25f, 1, 1, 1, 0, 0};
            check_case(*al, g2);
            gemm_case g3 = {t & 1, t >> 1, m, n, k, 1.5f, 0.0f, 2, 5, 1, 0, 1};
            check_case(*al, g3);
        }
}

HVP_TEST(gemm_algos_batched)
{
    int m = test_tiny() ? 3 : 19, n = test_tiny() ? 18 : 41, k = test_tiny() ? 2 : 11;
    if (test_tiny()) {
        for (const char *const *al = algos(); *al; al++) {
            gemm_case g1 = {1, 1, 18, n, k, 1.0f, 0.5f, 1, 3, 2, 0, 0};
            check_case(*al, g1);
            gemm_case g2 = {0, 0, m, n, k, 1.0f, 0.0f, 0, 2, 2, 1, 1};
            check_case(*al, g2);
        }
        return;
    }
    for (const char *const *al = algos(); *al; al++)
        for (int t = 0; t < 4; t++) {
            gemm_case g1 = {t & 1, t >> 1, m, n, k, 1.0f, 0.5f, 1, 3, 3, 0, 0};
            check_case(*al, g1);
            gemm_case g2 = {t & 1, t >> 1, m, n, k, 1.0f, 0.0f, 0, 2, 2, 1, 1};
            check_case(*al, g2);
        }
}

HVP_TEST(gemm_algos_k_zero)
{
    if (test_tiny()) { /* one kernel serves k == 0 for every algorithm */
        gemm_case g1 = {0, 0, 4, 35, 0, 1.0f, 2.0f, 1, 1, 2, 0, 0};
        check_case("clblast", g1);
        gemm_case g2 = {1, 1, 3, 5, 0, 1.0f, 0.0f, 0, 0, 1, 0, 1};
        check_case("reg8x32", g2);
        return;
    }
    for (const char *const *al = algos(); *al; al++) {
        gemm_case g1 = {0, 0, 4, 35, 0, 1.0f, 2.0f, 1, 1, 2, 0, 0};
        check_case(*al, g1);
        gemm_case g2 = {1, 1, 3, 5, 0, 1.0f, 0.0f, 0, 0, 1, 0, 1};
        check_case(*al, g2);
    }
}

/* The dispatcher on shapes of every class (small, skinny, large, batched). */
HVP_TEST(gemm_dispatch_classes)
{
    if (test_tiny()) {
        gemm_case g = {0, 1, 3, 17, 2, 1.0f, 0.0f, 1, 1, 2, 0, 0};
        check_case(NULL, g);
        return;
    }
    gemm_case cases[] = {
        {0, 0, 9, 10, 11, 1.0f, 0.0f, 0, 0, 1, 0, 0},      /* small */
        {0, 1, 32, 300, 600, 1.0f, 0.0f, 0, 0, 1, 0, 0},   /* skinny: fc */
        {1, 0, 130, 257, 300, 1.0f, 1.0f, 2, 3, 1, 0, 0},  /* large */
        {0, 1, 197, 197, 64, 0.125f, 0.0f, 0, 0, 4, 0, 1}, /* batched: attention */
        {0, 0, 64, 300, 144, 1.0f, 0.0f, 0, 0, 3, 1, 0},   /* batched: convolution */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(NULL, cases[i]);
}

/* Each of CLBlast's parameter sets that hvp tune tries is accepted by CLBlast and computes
 * the product, on a shape large enough for its Xgemm kernel (not the direct one) and ragged
 * against every tile, the sets taking the four transposes in turn (each set costs a CLBlast
 * compilation). The sets stay process-wide: the last one given is the generic set, whichever
 * ran before. (Not on Oclgrind: CLBlast is not our code.) */
HVP_TEST(clblast_xgemm_sets_compute_the_product)
{
    if (test_tiny()) {
        test_skip("CLBlast's kernels under Oclgrind take minutes");
        return;
    }
    for (int i = 1; hvp_clblast_xgemm_set_name(i); i++) {
        const char *name = hvp_clblast_xgemm_set_name(i);
        hvp_status st = hvp_clblast_xgemm_apply(test_ctx(), name);
        EXPECT(st == HVP_OK, "set %s: %s", name, hvp_last_error());
        gemm_case g = {i & 1, (i >> 1) & 1, 515, 390, 131, 1.0f, 0.0f, 0, 0, 1, 0, 0};
        if (st == HVP_OK)
            check_case("clblast", g);
    }
    EXPECT(hvp_clblast_xgemm_apply(test_ctx(), "nosuch") == HVP_ERR_ARG &&
               strstr(hvp_last_error(), "nosuch"),
           "an unknown set: %s", hvp_last_error());
    REQUIRE_OK(hvp_clblast_xgemm_apply(test_ctx(), "generic"));
}

/* The dispatcher follows the device's tune table, and falls back to the default derived
 * from the device type when the table is missing or names an unknown algorithm. */
HVP_TEST(gemm_tune_table_drives_dispatch)
{
    hvp_ctx *ctx = test_ctx();
    char dir[] = "/tmp/hvp-test-tune-XXXXXX", path[4096], old_dir[4096] = "";
    if (!mkdtemp(dir)) {
        TEST_FAIL("mkdtemp failed");
        return;
    }
    const char *old = getenv("HVP_CACHE_DIR"), *forced = getenv("HVP_GEMM");
    if (old)
        snprintf(old_dir, sizeof old_dir, "%s", old);
    char forced_copy[64] = "";
    if (forced)
        snprintf(forced_copy, sizeof forced_copy, "%s", forced);
    unsetenv("HVP_GEMM");
    setenv("HVP_CACHE_DIR", dir, 1);
    REQUIRE_OK(hvp_tune_table_path(ctx, path, sizeof path));
    FILE *f = fopen(path, "w");
    EXPECT(f != NULL, "cannot write %s", path);
    if (f) {
        fprintf(f, "[gemm]\nsmall = lds8\nskinny = dot4x4\nlarge = clblast\nbatched = reg4x16\n"
                   "[clblast]\nxgemm = generic\n");
        fclose(f);
    }
    hvp_gemm_reload_table(ctx);
    EXPECT(strcmp(hvp_gemm_chosen(ctx, 0, 0, 8, 8, 8, 1), "lds8") == 0, "small: %s",
           hvp_gemm_chosen(ctx, 0, 0, 8, 8, 8, 1));
    EXPECT(strcmp(hvp_gemm_chosen(ctx, 0, 1, 32, 1000, 2048, 1), "dot4x4") == 0, "skinny: %s",
           hvp_gemm_chosen(ctx, 0, 1, 32, 1000, 2048, 1));
    EXPECT(strcmp(hvp_gemm_chosen(ctx, 0, 0, 512, 512, 512, 1), "clblast") == 0, "large: %s",
           hvp_gemm_chosen(ctx, 0, 0, 512, 512, 512, 1));
    EXPECT(strcmp(hvp_gemm_chosen(ctx, 0, 1, 197, 197, 64, 192), "reg4x16") == 0, "batched: %s",
           hvp_gemm_chosen(ctx, 0, 1, 197, 197, 64, 192));
    char desc[4096];
    hvp_gemm_describe(ctx, desc, sizeof desc);
    EXPECT(strstr(desc, "CLBlast Xgemm parameters: generic") != NULL,
           "the [clblast] section is not named: %s", desc);
    /* A GEMM through the table's choice is still right. */
    gemm_case g = {0, 0, 5, 9, 4, 1.0f, 0.0f, 0, 0, 1, 0, 0};
    check_case(NULL, g);
    /* An unknown name: the whole table is ignored. */
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "[gemm]\nsmall = nosuch\nskinny = dot4x4\nlarge = clblast\nbatched = lds8\n"
                   "[clblast]\nxgemm = nosuch\n");
        fclose(f);
    }
    hvp_gemm_reload_table(ctx);
    hvp_gemm_describe(ctx, desc, sizeof desc);
    EXPECT(strstr(desc, "default") != NULL && strstr(desc, "ignored") &&
               strstr(desc, "nosuch"),
           "a bad table is not ignored, or not named: %s", desc);
    remove(path);
    rmdir(dir);
    if (old_dir[0])
        setenv("HVP_CACHE_DIR", old_dir, 1);
    else
        unsetenv("HVP_CACHE_DIR");
    if (forced_copy[0])
        setenv("HVP_GEMM", forced_copy, 1);
    hvp_gemm_reload_table(ctx);
}
