#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

#define SEED 0x0123456789abcdefULL /* both halves of the key matter */

/* The device's Philox (cl/common.cl) against the host twin, bit for bit. */
HVP_TEST(dropout_bits_match_host_philox)
{
    int n = test_tiny() ? 13 : 4099;
    hvp_tensor t;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &n, "bits", &t));
    uint32_t *got = test_alloc((size_t)n * sizeof *got);
    static const uint32_t steps[][2] = {{0, 0}, {7, 3}, {0xffffffffu, 0x80000001u}};
    for (int c = 0; c < 3; c++) {
        REQUIRE_OK(hvp_dropout_bits(test_ctx(), SEED + (uint64_t)c, steps[c][0], steps[c][1], &t));
        REQUIRE_OK(hvp_tensor_download(test_ctx(), &t, got));
        int bad = 0;
        for (int i = 0; i < n; i++) {
            uint32_t want =
                hvp_philox(SEED + (uint64_t)c, (uint32_t)(i / 4), steps[c][0], steps[c][1], 0).v[i % 4];
            if (got[i] != want && bad++ < 3)
                TEST_FAIL("word %d: device %08x, host %08x", i, got[i], want);
        }
    }
}

static void check_dropout(int n, float p, uint32_t step, uint32_t layer)
{
    size_t un = (size_t)n;
    float *x = test_floats(un);
    test_fill_uniform(x, un, 0.5f, 1.5f); /* never zero: a zero output means dropped */
    hvp_tensor tx = test_tensor(1, &n, x), ty = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_dropout_fwd(test_ctx(), &tx, p, SEED, step, layer, &ty));
    double *mask = test_doubles(un), *want = test_doubles(un);
    ref_dropout_mask(mask, un, p, SEED, step, layer);
    for (size_t i = 0; i < un; i++)
        want[i] = x[i] * mask[i];
    char what[80];
    snprintf(what, sizeof what, "dropout y n=%d p=%g", n, p);
    float *y = test_read(&ty);
    EXPECT_CLOSE(what, y, want, un, FWD_TOL);
    size_t dropped = 0;
    for (size_t i = 0; i < un; i++)
        dropped += y[i] == 0.0f;
    /* Binomial: within 5 standard deviations of n p (plus one for tiny n). */
    double sd = sqrt((double)n * p * (1 - p));
    EXPECT(fabs((double)dropped - n * (double)p) <= 5 * sd + 1,
           "dropout n=%d p=%g: %zu dropped, expected %.0f +- %.1f", n, p, dropped, n * (double)p,
           5 * sd);
}

HVP_TEST(dropout_fwd)
{
    if (test_tiny()) {
        check_dropout(13, 0.5f, 1, 2);
        return;
    }
    check_dropout(1, 0.3f, 0, 0);
    check_dropout(7, 0.3f, 1, 0);
    check_dropout(33, 0.1f, 1, 1);
    check_dropout(100003, 0.1f, 5, 2);
    check_dropout(100003, 0.5f, 5, 3);
    check_dropout(65536, 0.0f, 5, 3);
    /* Another layer or step: another mask. */
    int n = 1000;
    float *x = test_floats((size_t)n);
    test_fill_uniform(x, (size_t)n, 0.5f, 1.5f);
    hvp_tensor tx = test_tensor(1, &n, x), ta = test_tensor(1, &n, NULL),
               tb = test_tensor(1, &n, NULL), tc = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_dropout_fwd(test_ctx(), &tx, 0.5f, SEED, 1, 1, &ta));
    REQUIRE_OK(hvp_dropout_fwd(test_ctx(), &tx, 0.5f, SEED, 1, 2, &tb));
    REQUIRE_OK(hvp_dropout_fwd(test_ctx(), &tx, 0.5f, SEED, 2, 1, &tc));
    float *a = test_read(&ta), *b = test_read(&tb), *c = test_read(&tc);
    int diff_ab = 0, diff_ac = 0;
    for (int i = 0; i < n; i++) {
        diff_ab += (a[i] == 0) != (b[i] == 0);
        diff_ac += (a[i] == 0) != (c[i] == 0);
    }
    EXPECT(diff_ab > 350 && diff_ac > 350, "masks of other layer/step differ in %d / %d of %d",
           diff_ab, diff_ac, n);
}

typedef struct {
    double *x, *dy, *mask;
    size_t n;
} dropout_loss;

/* loss = sum dy * (x * mask): the reference dropout with its mask fixed by the key. */
static double dropout_loss_fn(void *u)
{
    dropout_loss *l = u;
    double s = 0;
    for (size_t i = 0; i < l->n; i++)
        s += l->dy[i] * l->x[i] * l->mask[i];
    return s;
}

HVP_TEST(dropout_bwd)
{
    int n = test_tiny() ? 11 : 1001;
    size_t un = (size_t)n;
    float p = 0.25f;
    float *x = test_floats(un), *dy = test_floats(un);
    test_fill_uniform(x, un, -1, 1);
    test_fill_uniform(dy, un, -1, 1);
    hvp_tensor tdy = test_tensor(1, &n, dy), tdx = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_dropout_bwd(test_ctx(), &tdy, p, SEED, 9, 4, &tdx));
    dropout_loss l = {test_to_double(x, un), test_to_double(dy, un), test_doubles(un), un};
    ref_dropout_mask(l.mask, un, p, SEED, 9, 4);
    double *want = test_doubles(un);
    test_fd_grad(l.x, un, dropout_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("dropout dx", test_read(&tdx), want, un, GRAD_TOL);
    /* The backward regenerates the forward's mask: dx is zero exactly where y is. */
    hvp_tensor tx = test_tensor(1, &n, x), ty = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_dropout_fwd(test_ctx(), &tx, p, SEED, 9, 4, &ty));
    float *y = test_read(&ty), *dx = test_read(&tdx);
    int mismatch = 0;
    for (int i = 0; i < n; i++)
        mismatch += (y[i] == 0) != (dx[i] == 0);
    EXPECT(mismatch == 0, "forward and backward masks differ at %d elements", mismatch);
}

/* x and y at element offsets x_at and y_at of their buffers (odd: no vector alignment). */
static void check_drop_path_at(int samples, int per, float p, size_t x_at, size_t y_at)
{
    size_t n = (size_t)samples * per;
    float *x = test_floats(n);
    test_fill_uniform(x, n, 0.5f, 1.5f);
    hvp_tensor tx = test_tensor_at(x_at, 2, (int[]){samples, per}, x),
               ty = test_tensor_at(y_at, 2, (int[]){samples, per}, NULL);
    REQUIRE_OK(hvp_drop_path_fwd(test_ctx(), &tx, p, SEED, 3, 11, &ty));
    double *mask = test_doubles((size_t)samples), *want = test_doubles(n);
    ref_drop_path_mask(mask, samples, p, SEED, 3, 11);
    for (size_t i = 0; i < n; i++)
        want[i] = x[i] * mask[i / (size_t)per];
    char what[80];
    snprintf(what, sizeof what, "drop_path y samples=%d per=%d p=%g", samples, per, p);
    float *y = test_read(&ty);
    EXPECT_CLOSE(what, y, want, n, FWD_TOL);
    /* The backward is the same map of dy. */
    hvp_tensor tdx = test_tensor_at(y_at + 1, 2, (int[]){samples, per}, NULL);
    REQUIRE_OK(hvp_drop_path_bwd(test_ctx(), &tx, p, SEED, 3, 11, &tdx));
    EXPECT(memcmp(test_read(&tdx), y, n * sizeof *y) == 0, "%s: backward differs", what);
    int dropped = 0;
    for (int s = 0; s < samples; s++)
        dropped += mask[s] == 0;
    double sd = sqrt((double)samples * p * (1 - p));
    EXPECT(fabs(dropped - samples * (double)p) <= 5 * sd + 1,
           "drop_path samples=%d p=%g: %d dropped, expected %.0f +- %.1f", samples, p, dropped,
           samples * (double)p, 5 * sd);
}

static void check_drop_path(int samples, int per, float p)
{
    check_drop_path_at(samples, per, p, 0, 0);
}

HVP_TEST(drop_path_fwd)
{
    if (test_tiny()) {
        check_drop_path(6, 5, 0.5f);
        return;
    }
    check_drop_path(1, 7, 0.2f);
    check_drop_path(33, 17, 0.2f);
    check_drop_path(8, 197 * 3, 0.1f);
    check_drop_path(20000, 1, 0.3f);
}

/* Rows of whole vectors and rows with a tail (per 37 = 2 * 16 + 5), aligned and not. */
HVP_TEST(drop_path_vectors_and_offsets)
{
    check_drop_path_at(3, 32, 0.5f, 0, 0);
    check_drop_path_at(5, 37, 0.5f, 0, 0);
    check_drop_path_at(5, 37, 0.5f, 3, 1);
    check_drop_path_at(4, 48, 0.5f, 1, 2);
    if (!test_tiny())
        check_drop_path_at(16, 197 * 384, 0.1f, 5, 0); /* ViT-S tokens */
}

/* A dropped sample's elements become +0 whatever they held, NaN too (as before the
 * kernel was vectorised); kept ones carry the NaN on. */
HVP_TEST(drop_path_zeroes_dropped_nan)
{
    int samples = 8, per = 37;
    size_t n = (size_t)samples * per;
    float *x = test_floats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
    hvp_tensor tx = test_tensor(2, (int[]){samples, per}, x),
               ty = test_tensor(2, (int[]){samples, per}, NULL);
    REQUIRE_OK(hvp_drop_path_fwd(test_ctx(), &tx, 0.5f, SEED, 3, 11, &ty));
    double *mask = test_doubles((size_t)samples);
    ref_drop_path_mask(mask, samples, 0.5f, SEED, 3, 11);
    float *y = test_read(&ty);
    int bad = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        int drop = mask[i / (size_t)per] == 0;
        uint32_t bits;
        memcpy(&bits, &y[i], sizeof bits);
        bad += drop ? bits != 0 : !isnan(y[i]);
        dropped += drop;
    }
    EXPECT(bad == 0 && dropped > 0 && dropped < (int)n,
           "%d wrong of %zu (%d in dropped samples)", bad, n, dropped);
}

typedef struct {
    double *x, *dy, *mask;
    int samples, per;
} drop_path_loss;

static double drop_path_loss_fn(void *u)
{
    drop_path_loss *l = u;
    double s = 0;
    for (int i = 0; i < l->samples * l->per; i++)
        s += l->dy[i] * l->x[i] * l->mask[i / l->per];
    return s;
}

HVP_TEST(drop_path_bwd)
{
    int samples = test_tiny() ? 4 : 16, per = test_tiny() ? 3 : 13;
    size_t n = (size_t)samples * per;
    float p = 0.4f;
    float *x = test_floats(n), *dy = test_floats(n);
    test_fill_uniform(x, n, -1, 1);
    test_fill_uniform(dy, n, -1, 1);
    hvp_tensor tdy = test_tensor(2, (int[]){samples, per}, dy),
               tdx = test_tensor(2, (int[]){samples, per}, NULL);
    REQUIRE_OK(hvp_drop_path_bwd(test_ctx(), &tdy, p, SEED, 5, 6, &tdx));
    drop_path_loss l = {test_to_double(x, n), test_to_double(dy, n),
                        test_doubles((size_t)samples), samples, per};
    ref_drop_path_mask(l.mask, samples, p, SEED, 5, 6);
    double *want = test_doubles(n);
    test_fd_grad(l.x, n, drop_path_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("drop_path dx", test_read(&tdx), want, n, GRAD_TOL);
}
