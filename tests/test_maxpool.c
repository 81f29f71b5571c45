#include <math.h>

#include "harness.h"
#include "ref/ref.h"

/* n, c, h, w, k, stride, pad */
static const int shapes[][7] = {
    {1, 1, 1, 1, 1, 1, 0},   {1, 2, 5, 5, 3, 2, 1},  /* the stem's pool on an odd input */
    {2, 3, 7, 7, 3, 2, 1},   {2, 7, 13, 13, 3, 2, 1}, {1, 33, 8, 9, 2, 2, 0},
    {2, 5, 33, 33, 3, 1, 1}, {1, 3, 12, 12, 3, 2, 1}, {2, 4, 11, 7, 5, 3, 2},
    /* rows long enough for the stride-2 vector blocks, with scalar outputs on both sides */
    {2, 3, 75, 75, 3, 2, 1}, {1, 2, 9, 69, 2, 2, 0},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static hvp_maxpool_desc desc_of(const int *s)
{
    hvp_maxpool_desc d = {s[0], s[1], s[2], s[3], s[4], s[5], s[6]};
    return d;
}

static size_t out_len(const hvp_maxpool_desc *d)
{
    return (size_t)d->n * d->c * hvp_maxpool_out(d->h, d->k, d->stride, d->pad) *
           hvp_maxpool_out(d->w, d->k, d->stride, d->pad);
}

/* Distinct values (a shuffled ramp), so no window has a tie and finite differences of
 * size 1e-6 never cross one. */
static void fill_distinct(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = -1.0f + 2.0f * (float)i / (float)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)test_uniform(0, (float)i);
        if (j >= i)
            j = i - 1;
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* Both launch shapes: an output row per work-item (GPUs) and a plane (CPUs). */
HVP_TEST(maxpool_fwd)
{
    int ns = test_tiny() ? 3 : NSHAPES;
    for (int t = 0; t < 2 * ns; t++) {
        test_ctx()->row_per_item = t / ns;
        hvp_maxpool_desc d = desc_of(shapes[t % ns]);
        size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = out_len(&d);
        float *x = test_floats(nx);
        fill_distinct(x, nx);
        int ix = (int)nx, iy = (int)ny;
        hvp_tensor tx = test_tensor(1, &ix, x), ty = test_tensor(1, &iy, NULL), tidx;
        REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &iy, "idx", &tidx));
        REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &d, &tx, &ty, &tidx));
        double *want = test_doubles(ny);
        int *want_idx = test_alloc(ny * sizeof(int)), *got_idx = test_alloc(ny * sizeof(int));
        ref_maxpool_fwd(test_to_double(x, nx), want, want_idx, d.n, d.c, d.h, d.w, d.k, d.stride,
                        d.pad);
        char what[96];
        snprintf(what, sizeof what, "maxpool y n=%d c=%d %dx%d k=%d s=%d p=%d row_per_item %d",
                 d.n, d.c, d.h, d.w, d.k, d.stride, d.pad, test_ctx()->row_per_item);
        EXPECT_CLOSE(what, test_read(&ty), want, ny, FWD_TOL);
        REQUIRE_OK(hvp_tensor_download(test_ctx(), &tidx, got_idx));
        for (size_t i = 0; i < ny; i++)
            if (got_idx[i] != want_idx[i]) {
                TEST_FAIL("%s: idx[%zu] = %d, want %d", what, i, got_idx[i], want_idx[i]);
                break;
            }
    }
}

/* Equal values in a window: the first in row-major order wins (PyTorch's rule). */
HVP_TEST(maxpool_ties_pick_first)
{
    hvp_maxpool_desc d = {1, 1, 4, 4, 2, 2, 0};
    int nx = 16, ny = 4;
    float *x = test_floats(16);
    for (int i = 0; i < 16; i++)
        x[i] = 1.0f;
    hvp_tensor tx = test_tensor(1, &nx, x), ty = test_tensor(1, &ny, NULL), tidx;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &ny, "idx", &tidx));
    REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &d, &tx, &ty, &tidx));
    int got[4];
    REQUIRE_OK(hvp_tensor_download(test_ctx(), &tidx, got));
    EXPECT(got[0] == 0 && got[1] == 2 && got[2] == 8 && got[3] == 10,
           "tie idx %d %d %d %d, want 0 2 8 10", got[0], got[1], got[2], got[3]);
    /* The same in the stride-2 vector blocks: a row of 34 outputs. */
    hvp_maxpool_desc wide = {1, 1, 4, 68, 2, 2, 0};
    int nxw = 4 * 68, nyw = 2 * 34;
    float *xw = test_floats((size_t)nxw);
    for (int i = 0; i < nxw; i++)
        xw[i] = 1.0f;
    hvp_tensor txw = test_tensor(1, &nxw, xw), tyw = test_tensor(1, &nyw, NULL), tidxw;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &nyw, "idx", &tidxw));
    REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &wide, &txw, &tyw, &tidxw));
    int gotw[2 * 34];
    REQUIRE_OK(hvp_tensor_download(test_ctx(), &tidxw, gotw));
    for (int o = 0; o < nyw; o++) {
        int want = (o / 34) * 2 * 68 + (o % 34) * 2;
        EXPECT(gotw[o] == want, "wide tie idx [%d] %d, want %d", o, gotw[o], want);
    }
}

/* Many ties (values 0, 1, 2, as after a ReLU of few levels) in 3x3 windows, whose stride-2
 * blocks take the columns' maxima first: the row-major first still wins. */
HVP_TEST(maxpool_ties_3x3_pick_first)
{
    hvp_maxpool_desc d = {2, 3, 10, 75, 3, 2, 1};
    int nx = 2 * 3 * 10 * 75, ny = (int)out_len(&d);
    float *x = test_floats((size_t)nx);
    for (int i = 0; i < nx; i++)
        x[i] = floorf(test_uniform(0, 3));
    hvp_tensor tx = test_tensor(1, &nx, x), ty = test_tensor(1, &ny, NULL), tidx;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &ny, "idx", &tidx));
    REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &d, &tx, &ty, &tidx));
    double *want = test_doubles((size_t)ny);
    int *want_idx = test_alloc((size_t)ny * sizeof(int)), *got_idx = test_alloc((size_t)ny * sizeof(int));
    ref_maxpool_fwd(test_to_double(x, (size_t)nx), want, want_idx, d.n, d.c, d.h, d.w, d.k,
                    d.stride, d.pad);
    EXPECT_CLOSE("maxpool y with ties", test_read(&ty), want, (size_t)ny, 0);
    REQUIRE_OK(hvp_tensor_download(test_ctx(), &tidx, got_idx));
    for (int i = 0; i < ny; i++)
        if (got_idx[i] != want_idx[i]) {
            TEST_FAIL("idx[%d] = %d, want %d (the first maximum in row-major order)", i,
                      got_idx[i], want_idx[i]);
            break;
        }
}

typedef struct {
    hvp_maxpool_desc d;
    double *x, *dy, *y;
} pool_loss;

static double pool_loss_fn(void *u)
{
    pool_loss *l = u;
    const hvp_maxpool_desc *d = &l->d;
    ref_maxpool_fwd(l->x, l->y, NULL, d->n, d->c, d->h, d->w, d->k, d->stride, d->pad);
    return test_dot(l->dy, l->y, out_len(d));
}

HVP_TEST(maxpool_bwd)
{
    /* Overlapping windows (k > stride), so one input may be the argmax of several. */
    static const int bshapes[][7] = {
        {1, 1, 4, 4, 3, 2, 1}, {2, 2, 7, 7, 3, 2, 1}, {1, 3, 6, 5, 3, 1, 1}, {1, 2, 9, 9, 5, 2, 2}};
    int ns = test_tiny() ? 1 : 4;
    for (int s = 0; s < ns; s++) {
        hvp_maxpool_desc d = desc_of(bshapes[s]);
        size_t nx = (size_t)d.n * d.c * d.h * d.w, ny = out_len(&d);
        float *x = test_floats(nx), *dy = test_floats(ny);
        fill_distinct(x, nx);
        test_fill_uniform(dy, ny, -1, 1);
        int ix = (int)nx, iy = (int)ny;
        hvp_tensor tx = test_tensor(1, &ix, x), ty = test_tensor(1, &iy, NULL),
                   tdy = test_tensor(1, &iy, dy), tdx = test_tensor(1, &ix, NULL), tidx;
        REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &iy, "idx", &tidx));
        REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &d, &tx, &ty, &tidx));
        REQUIRE_OK(hvp_maxpool_bwd(test_ctx(), &d, &tdy, &tidx, &tdx));
        pool_loss l = {d, test_to_double(x, nx), test_to_double(dy, ny), test_doubles(ny)};
        double *want = test_doubles(nx);
        test_fd_grad(l.x, nx, pool_loss_fn, &l, 1e-6, want);
        char what[96];
        snprintf(what, sizeof what, "maxpool dx %dx%d k=%d s=%d p=%d", d.h, d.w, d.k, d.stride,
                 d.pad);
        EXPECT_CLOSE(what, test_read(&tdx), want, nx, GRAD_TOL);
    }
}

HVP_TEST(maxpool_out_size)
{
    EXPECT(hvp_maxpool_out(112, 3, 2, 1) == 56, "ResNet stem pool 112 -> 56");
    EXPECT(hvp_maxpool_out(7, 3, 2, 1) == 4, "7 -> 4");
}

/* A NaN wins, the last one in the window's row-major order when there are several (the
 * kernel's rule, PyTorch's), in the stride-2 vector blocks and around them. */
HVP_TEST(maxpool_nan_wins)
{
    hvp_maxpool_desc d = {1, 1, 6, 68, 3, 2, 1};
    int h = 6, w = 68, ho = 3, wo = 34, nx = h * w, ny = ho * wo;
    float *x = test_floats((size_t)nx);
    fill_distinct(x, (size_t)nx);
    /* 4 * w + 33: the column a 3x3 block reads past its 32 vector lanes; 2 * w + 23: two
     * NaNs in one row of a window */
    const int nans[] = {1 * w + 20, 2 * w + 21, 3 * w + 40, 0 * w + 0,
                        5 * w + 67, 4 * w + 33, 2 * w + 23};
    for (int i = 0; i < 7; i++)
        x[nans[i]] = NAN;
    hvp_tensor tx = test_tensor(1, &nx, x), ty = test_tensor(1, &ny, NULL), tidx;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &ny, "idx", &tidx));
    REQUIRE_OK(hvp_maxpool_fwd(test_ctx(), &d, &tx, &ty, &tidx));
    float *got = test_read(&ty);
    int *got_idx = test_alloc((size_t)ny * sizeof(int));
    REQUIRE_OK(hvp_tensor_download(test_ctx(), &tidx, got_idx));
    for (int oh = 0; oh < ho; oh++)
        for (int ow = 0; ow < wo; ow++) {
            int last_nan = -1;
            for (int ih = 2 * oh - 1; ih <= 2 * oh + 1; ih++)
                for (int iw = 2 * ow - 1; iw <= 2 * ow + 1; iw++)
                    if (ih >= 0 && ih < h && iw >= 0 && iw < w && isnan(x[ih * w + iw]))
                        last_nan = ih * w + iw;
            int o = oh * wo + ow;
            if (last_nan >= 0)
                EXPECT(isnan(got[o]) && got_idx[o] == last_nan,
                       "output (%d, %d): %g at %d, want NaN at %d", oh, ow, (double)got[o],
                       got_idx[o], last_nan);
            else
                EXPECT(!isnan(got[o]), "output (%d, %d): NaN without one in its window", oh, ow);
        }
}
