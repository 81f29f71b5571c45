/* Two contexts in one process (the device under test twice, as two devices would be) keep
 * their own op state: conv2d's scratch bound and implicit-GEMM setting, and the GEMM
 * dispatch table read from the tune file; and each computes right with its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

/* A shape of each GEMM class, in hvp_gemm_class_names() order: m, n, k, batch. */
static const int CLASS_SHAPES[][4] = {
    {8, 8, 8, 1}, {32, 1000, 2048, 1}, {512, 512, 512, 1}, {197, 197, 64, 192}};
#define NCLASSES (int)(sizeof CLASS_SHAPES / sizeof CLASS_SHAPES[0])

static const char *chosen(hvp_ctx *c, int cls)
{
    const int *s = CLASS_SHAPES[cls];
    return hvp_gemm_chosen(c, 0, 0, s[0], s[1], s[2], s[3]);
}

/* A conv2d forward on c, in c's own arena, against the reference. */
static void check_conv(hvp_ctx *c, const char *which)
{
    hvp_conv2d_desc d = {3, 16, 6, 6, 8, 3, 3, 1, 1};
    int nx = d.n * d.c_in * d.h * d.w, nw = d.c_out * d.c_in * d.kh * d.kw,
        ny = d.n * d.c_out * d.h * d.w;
    float *x = test_floats((size_t)nx), *w = test_floats((size_t)nw), *y = test_floats((size_t)ny);
    test_fill_uniform(x, (size_t)nx, -1, 1);
    test_fill_uniform(w, (size_t)nw, -1, 1);
    hvp_arena_mark mark = hvp_arena_get_mark(c->acts);
    hvp_tensor tx, tw, ty;
    hvp_status s = hvp_alloc_f32(c->acts, "x", &tx, 1, &nx);
    if (s == HVP_OK)
        s = hvp_alloc_f32(c->acts, "w", &tw, 1, &nw);
    if (s == HVP_OK)
        s = hvp_alloc_f32(c->acts, "y", &ty, 1, &ny);
    if (s == HVP_OK)
        s = hvp_tensor_upload(c, &tx, x);
    if (s == HVP_OK)
        s = hvp_tensor_upload(c, &tw, w);
    if (s == HVP_OK)
        s = hvp_conv2d_fwd(c, &d, &tx, &tw, NULL, &ty);
    if (s == HVP_OK)
        s = hvp_tensor_download(c, &ty, y);
    hvp_arena_rewind(c->acts, mark);
    REQUIRE_OK(s);
    double *want = test_doubles((size_t)ny);
    ref_conv2d_fwd(test_to_double(x, (size_t)nx), test_to_double(w, (size_t)nw), NULL, want, d.n,
                   d.c_in, d.h, d.w, d.c_out, d.kh, d.kw, d.stride, d.pad);
    char what[64];
    snprintf(what, sizeof what, "conv2d y on context %s", which);
    EXPECT_CLOSE(what, y, want, (size_t)ny, FWD_TOL);
}

/* Each keeps the conv2d settings set on it. */
static void check_settings(hvp_ctx *a, hvp_ctx *b)
{
    size_t b_limit = (size_t)2 * 16 * 9 * 36 + 1; /* two of check_conv's column matrices */
    EXPECT(hvp_conv2d_scratch_limit(b, 0) == (size_t)16 << 20 && hvp_conv2d_igemm(b, -1) == -1,
           "a new context does not start from the default conv2d settings");
    /* a: the implicit GEMM in chunks of one image; b: im2col + GEMM in chunks of two */
    hvp_conv2d_scratch_limit(a, 1);
    hvp_conv2d_igemm(a, 1);
    hvp_conv2d_scratch_limit(b, b_limit);
    hvp_conv2d_igemm(b, 0);
    EXPECT(hvp_conv2d_scratch_limit(a, 0) == 1 && hvp_conv2d_igemm(a, 1) == 1,
           "setting context b changed a's conv2d settings");
    EXPECT(hvp_conv2d_scratch_limit(b, 0) == b_limit && hvp_conv2d_igemm(b, 0) == 0,
           "context b lost its conv2d settings");
}

/* b reads a tune table (from a folder of its own) that differs from a's choice in every
 * class; a keeps its own. */
static void check_tables(hvp_ctx *a, hvp_ctx *b)
{
    const char *a_choice[NCLASSES], *b_choice[NCLASSES];
    for (int c = 0; c < NCLASSES; c++) { /* reads a's table, if not yet, from where it lives */
        a_choice[c] = chosen(a, c);
        b_choice[c] = strcmp(a_choice[c], "dot4x4") ? "dot4x4" : "lds8";
    }
    char *cache = test_tmpdir(), *old_cache = test_env_copy("HVP_CACHE_DIR"),
         *forced = test_env_copy("HVP_GEMM"), path[4096];
    setenv("HVP_CACHE_DIR", cache, 1);
    unsetenv("HVP_GEMM"); /* it would force one algorithm on both */
    FILE *f = hvp_tune_table_path(b, path, sizeof path) == HVP_OK ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "[gemm]\n");
        for (int c = 0; c < NCLASSES; c++)
            fprintf(f, "%s = %s\n", hvp_gemm_class_names()[c], b_choice[c]);
        fclose(f);
        hvp_gemm_reload_table(b);
        for (int c = 0; c < NCLASSES; c++) {
            EXPECT(strcmp(chosen(b, c), b_choice[c]) == 0, "%s on b: %s, its table says %s",
                   hvp_gemm_class_names()[c], chosen(b, c), b_choice[c]);
            EXPECT(strcmp(chosen(a, c), a_choice[c]) == 0,
                   "%s on a: %s after b read a table, was %s", hvp_gemm_class_names()[c],
                   chosen(a, c), a_choice[c]);
        }
    } else {
        TEST_FAIL("cannot write a tune table in %s", cache);
    }
    test_env_restore("HVP_CACHE_DIR", old_cache);
    test_env_restore("HVP_GEMM", forced);
    test_rmdir(cache);
}

HVP_TEST(contexts_keep_their_own_state)
{
    hvp_ctx *a = test_ctx(), *b;
    size_t a_limit = hvp_conv2d_scratch_limit(a, 0);
    int a_igemm = hvp_conv2d_igemm(a, -1);
    REQUIRE_OK(hvp_ctx_create_on(&a->info, &b));
    check_settings(a, b);
    check_tables(a, b);
    check_conv(a, "a");
    check_conv(b, "b"); /* its GEMMs through b's table */
    hvp_ctx_destroy(b);
    hvp_conv2d_scratch_limit(a, a_limit);
    hvp_conv2d_igemm(a, a_igemm);
}
