#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

/* n, c_in, h, w, c_out, kh, kw, stride, pad */
static const int fwd_shapes[][9] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 0},    /* smallest */
    {2, 3, 7, 7, 5, 3, 3, 1, 1},    /* 3x3 s1 p1 */
    {2, 1, 5, 5, 1, 3, 3, 2, 0},    /* tiny stride 2 */
    {2, 7, 13, 13, 33, 3, 3, 2, 1}, /* stride 2, odd input */
    {2, 3, 33, 33, 8, 7, 7, 2, 3},  /* the ResNet stem */
    {3, 13, 7, 7, 7, 1, 1, 1, 0},   /* 1x1 s1: no im2col */
    {2, 33, 13, 13, 7, 1, 1, 2, 0}, /* 1x1 s2 (downsample) */
    {1, 4, 9, 11, 6, 3, 5, 2, 2},   /* non-square kernel and input */
    {4, 16, 17, 17, 32, 3, 3, 1, 1},
};
#define NSHAPES (int)(sizeof fwd_shapes / sizeof fwd_shapes[0])

static hvp_conv2d_desc desc_of(const int *s)
{
    hvp_conv2d_desc d = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]};
    return d;
}

static size_t x_len(const hvp_conv2d_desc *d) { return (size_t)d->n * d->c_in * d->h * d->w; }
static size_t w_len(const hvp_conv2d_desc *d)
{
    return (size_t)d->c_out * d->c_in * d->kh * d->kw;
}
static size_t y_len(const hvp_conv2d_desc *d)
{
    return (size_t)d->n * d->c_out * hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d);
}

static void check_fwd(const hvp_conv2d_desc *d, int with_bias)
{
    size_t nx = x_len(d), nw = w_len(d), ny = y_len(d);
    float *x = test_floats(nx), *w = test_floats(nw), *b = test_floats((size_t)d->c_out);
    test_fill_uniform(x, nx, -1, 1);
    test_fill_uniform(w, nw, -1, 1);
    test_fill_uniform(b, (size_t)d->c_out, -1, 1);
    int ix = (int)nx, iw = (int)nw, iy = (int)ny;
    hvp_tensor tx = test_tensor(1, &ix, x), tw = test_tensor(1, &iw, w),
               tb = test_tensor(1, &d->c_out, b), ty = test_tensor(1, &iy, NULL);
    REQUIRE_OK(hvp_conv2d_fwd(test_ctx(), d, &tx, &tw, with_bias ? &tb : NULL, &ty));
    double *want = test_doubles(ny);
    ref_conv2d_fwd(test_to_double(x, nx), test_to_double(w, nw),
                   with_bias ? test_to_double(b, (size_t)d->c_out) : NULL, want, d->n, d->c_in,
                   d->h, d->w, d->c_out, d->kh, d->kw, d->stride, d->pad);
    char what[128];
    snprintf(what, sizeof what, "conv2d y n=%d %d->%d %dx%d k=%dx%d s=%d p=%d bias=%d", d->n,
             d->c_in, d->c_out, d->h, d->w, d->kh, d->kw, d->stride, d->pad, with_bias);
    EXPECT_CLOSE(what, test_read(&ty), want, ny, FWD_TOL);
}

HVP_TEST(conv2d_fwd)
{
    int n = test_tiny() ? 3 : NSHAPES;
    for (int s = 0; s < n; s++) {
        hvp_conv2d_desc d = desc_of(fwd_shapes[s]);
        check_fwd(&d, s % 2);
        if (!test_tiny())
            check_fwd(&d, !(s % 2));
    }
}

/* The implicit-GEMM kernels (32 channels x 8 pixels a tile; 16 x 16 for at most 16 output
 * channels) on shapes that fill their tiles, leave them ragged both ways, stride 2 with and
 * without padding, batch 1, odd channel counts; then every shape above. Oclgrind takes the
 * first four. */
static const int igemm_shapes[][9] = {
    {2, 5, 9, 7, 17, 3, 3, 1, 1},  /* 17 channels, 63 pixels: ragged tiles */
    {1, 7, 8, 8, 33, 3, 3, 2, 1},  /* stride 2, batch 1 */
    {3, 2, 5, 5, 3, 3, 3, 2, 0},   /* stride 2, no padding */
    {2, 3, 16, 16, 12, 3, 3, 1, 1}, /* 12 channels: 16-pixel tiles along rows */
    {2, 4, 7, 9, 16, 3, 3, 1, 1},  /* 16 channels, tiles across rows, a ragged last one */
    {3, 20, 2, 2, 40, 3, 3, 1, 1}, /* 2x2: a tile spans two images, the last one ragged */
    {3, 6, 3, 3, 10, 3, 3, 1, 1},  /* 3x3, 10 channels: 16-pixel tiles span images */
    {1, 3, 32, 32, 16, 3, 3, 1, 1}, /* CIFAR stem: whole tiles */
    {2, 9, 4, 4, 32, 3, 3, 1, 1},  /* a 4x4 layer: one pixel tile */
    {1, 4, 9, 11, 6, 3, 5, 2, 2},  /* non-square kernel and input */
};
#define NIGEMM (int)(sizeof igemm_shapes / sizeof igemm_shapes[0])

HVP_TEST(conv2d_fwd_igemm)
{
    int old = hvp_conv2d_igemm(test_ctx(), 1);
    /* the weights packed by both kernels: an item per element (GPUs) and per panel (CPUs) */
    for (int s = 0; s < 2 * (test_tiny() ? 4 : NIGEMM); s++) {
        test_ctx()->row_per_item = s % 2;
        hvp_conv2d_desc d = desc_of(igemm_shapes[s / 2]);
        check_fwd(&d, s / 2 % 2);
    }
    for (int s = 0; s < (test_tiny() ? 0 : NSHAPES); s++) {
        hvp_conv2d_desc d = desc_of(fwd_shapes[s]);
        check_fwd(&d, s % 2);
    }
    hvp_conv2d_igemm(test_ctx(), old);
}

/* A scratch bound of a few images' columns forces the chunked path (and a short last
 * chunk: 5 images in chunks of 2). */
HVP_TEST(conv2d_fwd_chunked)
{
    hvp_conv2d_desc d = {5, 3, 6, 6, 4, 3, 3, 1, 1};
    if (test_tiny())
        d.h = d.w = 3;
    size_t per_image = (size_t)(27 + 4) * d.h * d.w;
    size_t old = hvp_conv2d_scratch_limit(test_ctx(), 2 * per_image + 1);
    check_fwd(&d, 1);
    hvp_conv2d_scratch_limit(test_ctx(), old);
}

HVP_TEST(conv2d_out_size)
{
    hvp_conv2d_desc stem = {1, 3, 224, 224, 64, 7, 7, 2, 3};
    EXPECT(hvp_conv2d_out_h(&stem) == 112 && hvp_conv2d_out_w(&stem) == 112, "stem 112");
    hvp_conv2d_desc odd = {1, 3, 13, 13, 4, 3, 3, 2, 1};
    EXPECT(hvp_conv2d_out_h(&odd) == 7, "13 -> 7 with 3x3 s2 p1");
    hvp_conv2d_desc down = {1, 3, 7, 7, 4, 1, 1, 2, 0};
    EXPECT(hvp_conv2d_out_w(&down) == 4, "7 -> 4 with 1x1 s2");
}

typedef struct {
    hvp_conv2d_desc d;
    double *x, *w, *b, *dy, *y;
} conv_loss;

static double conv_loss_fn(void *u)
{
    conv_loss *l = u;
    const hvp_conv2d_desc *d = &l->d;
    ref_conv2d_fwd(l->x, l->w, l->b, l->y, d->n, d->c_in, d->h, d->w, d->c_out, d->kh, d->kw,
                   d->stride, d->pad);
    return test_dot(l->dy, l->y, y_len(d));
}

/* dx, dw and db against finite differences; dw and db start from random values, which the
 * backward must add to; with_dx = 0 checks that dx may be skipped. */
static void check_bwd(const hvp_conv2d_desc *d, int with_dx)
{
    size_t nx = x_len(d), nw = w_len(d), ny = y_len(d), nb = (size_t)d->c_out;
    float *x = test_floats(nx), *w = test_floats(nw), *b = test_floats(nb),
          *dy = test_floats(ny), *dw0 = test_floats(nw), *db0 = test_floats(nb);
    test_fill_uniform(x, nx, -1, 1);
    test_fill_uniform(w, nw, -1, 1);
    test_fill_uniform(b, nb, -1, 1);
    test_fill_uniform(dy, ny, -1, 1);
    test_fill_uniform(dw0, nw, -1, 1);
    test_fill_uniform(db0, nb, -1, 1);
    int ix = (int)nx, iw = (int)nw, iy = (int)ny;
    hvp_tensor tx = test_tensor(1, &ix, x), tw = test_tensor(1, &iw, w),
               tdy = test_tensor(1, &iy, dy), tdx = test_tensor(1, &ix, NULL),
               tdw = test_tensor(1, &iw, dw0), tdb = test_tensor(1, &d->c_out, db0);
    REQUIRE_OK(hvp_conv2d_bwd(test_ctx(), d, &tx, &tw, &tdy, with_dx ? &tdx : NULL, &tdw, &tdb));

    conv_loss l = {*d,
                   test_to_double(x, nx),
                   test_to_double(w, nw),
                   test_to_double(b, nb),
                   test_to_double(dy, ny),
                   test_doubles(ny)};
    char what[128];
    snprintf(what, sizeof what, "n=%d %d->%d %dx%d k=%dx%d s=%d p=%d", d->n, d->c_in, d->c_out,
             d->h, d->w, d->kh, d->kw, d->stride, d->pad);
    char name[160];
    if (with_dx) {
        double *gx = test_doubles(nx);
        test_fd_grad(l.x, nx, conv_loss_fn, &l, 1e-6, gx);
        snprintf(name, sizeof name, "conv2d dx %s", what);
        EXPECT_CLOSE(name, test_read(&tdx), gx, nx, GRAD_TOL);
    }
    double *gw = test_doubles(nw), *gb = test_doubles(nb);
    test_fd_grad(l.w, nw, conv_loss_fn, &l, 1e-6, gw);
    test_fd_grad(l.b, nb, conv_loss_fn, &l, 1e-6, gb);
    for (size_t i = 0; i < nw; i++)
        gw[i] += dw0[i];
    for (size_t i = 0; i < nb; i++)
        gb[i] += db0[i];
    snprintf(name, sizeof name, "conv2d dw += %s", what);
    EXPECT_CLOSE(name, test_read(&tdw), gw, nw, GRAD_TOL);
    snprintf(name, sizeof name, "conv2d db += %s", what);
    EXPECT_CLOSE(name, test_read(&tdb), gb, nb, GRAD_TOL);
}

static const int bwd_shapes[][9] = {
    {1, 1, 3, 3, 1, 3, 3, 1, 1},  /* tiny 3x3 s1 p1 */
    {2, 2, 3, 3, 3, 1, 1, 1, 0},  /* tiny 1x1 s1 */
    {2, 1, 23, 23, 2, 3, 3, 1, 1}, /* P = 529 >= 512: weight gradient image by image */
    {2, 3, 5, 5, 4, 3, 3, 1, 1},  /* 3x3 s1 p1 */
    {2, 3, 7, 7, 2, 3, 3, 2, 1},  /* stride 2, odd input */
    {2, 4, 5, 5, 3, 1, 1, 1, 0},  /* 1x1 s1 */
    {1, 2, 7, 7, 3, 1, 1, 2, 0},  /* 1x1 s2 */
    {1, 2, 9, 9, 2, 7, 7, 2, 3},  /* 7x7 s2 p3 */
    {1, 2, 6, 7, 3, 2, 3, 2, 1},  /* non-square, kernel smaller than stride span */
    {2, 2, 45, 45, 2, 3, 3, 2, 1}, /* per image, stride 2 */
    {2, 3, 24, 24, 2, 1, 1, 1, 0}, /* per image, 1x1 s1 */
    {5, 2, 20, 20, 3, 3, 3, 1, 1}, /* P = 400: wide chunks of 2, 2, 1 images (1024 columns) */
};

HVP_TEST(conv2d_bwd)
{
    int n = test_tiny() ? 3 : (int)(sizeof bwd_shapes / sizeof bwd_shapes[0]);
    for (int s = 0; s < n; s++) {
        hvp_conv2d_desc d = desc_of(bwd_shapes[s]);
        check_bwd(&d, 1);
    }
}

/* The implicit-GEMM input gradient (stride 1: a forward convolution of dy by the rotated
 * kernel, padding k - 1 - pad) and the paths beside it, forced on for every shape. */
static const int igemm_bwd_shapes[][9] = {
    {2, 5, 9, 7, 17, 3, 3, 1, 1}, /* ragged tiles both ways */
    {2, 3, 6, 5, 5, 3, 3, 1, 0},  /* no padding: the gradient's padding is 2 */
    {1, 2, 7, 7, 3, 5, 5, 1, 1},  /* 5x5, padding 1 of 2 */
    {1, 7, 8, 8, 33, 3, 3, 2, 1}, /* stride 2: by phases */
};

HVP_TEST(conv2d_bwd_igemm)
{
    int old = hvp_conv2d_igemm(test_ctx(), 1);
    int n = (int)(sizeof igemm_bwd_shapes / sizeof igemm_bwd_shapes[0]);
    for (int s = 0; s < 2 * (test_tiny() ? 2 : n); s++) { /* both weight-packing kernels */
        test_ctx()->row_per_item = s % 2;
        hvp_conv2d_desc d = desc_of(igemm_bwd_shapes[s / 2]);
        check_bwd(&d, 1);
    }
    for (int s = 0; s < (test_tiny() ? 0 : (int)(sizeof bwd_shapes / sizeof bwd_shapes[0]));
         s++) {
        hvp_conv2d_desc d = desc_of(bwd_shapes[s]);
        check_bwd(&d, 1);
    }
    hvp_conv2d_igemm(test_ctx(), old);
}

/* dx and dw (+= a random start) against the double reference, for shapes too large for
 * finite differences. with_dx = 0 passes no dx, with_dw = 0 no dw. */
static void check_bwd_ref(const hvp_conv2d_desc *d, int with_dx, int with_dw)
{
    size_t nx = x_len(d), nw = w_len(d), ny = y_len(d);
    float *x = test_floats(nx), *w = test_floats(nw), *dy = test_floats(ny),
          *dw0 = test_floats(nw);
    test_fill_uniform(x, nx, -1, 1);
    test_fill_uniform(w, nw, -1, 1);
    test_fill_uniform(dy, ny, -1, 1);
    test_fill_uniform(dw0, nw, -1, 1);
    int ix = (int)nx, iw = (int)nw, iy = (int)ny;
    hvp_tensor tx = test_tensor(1, &ix, x), tw = test_tensor(1, &iw, w),
               tdy = test_tensor(1, &iy, dy), tdx = test_tensor(1, &ix, NULL),
               tdw = test_tensor(1, &iw, dw0);
    REQUIRE_OK(hvp_conv2d_bwd(test_ctx(), d, &tx, &tw, &tdy, with_dx ? &tdx : NULL,
                              with_dw ? &tdw : NULL, NULL));
    double *gx = test_doubles(nx), *gw = test_to_double(dw0, nw);
    ref_conv2d_bwd(test_to_double(x, nx), test_to_double(w, nw), test_to_double(dy, ny), gx, gw,
                   d->n, d->c_in, d->h, d->w, d->c_out, d->kh, d->kw, d->stride, d->pad);
    char what[160];
    snprintf(what, sizeof what, "n=%d %d->%d %dx%d k=%dx%d s=%d p=%d", d->n, d->c_in, d->c_out,
             d->h, d->w, d->kh, d->kw, d->stride, d->pad);
    char name[200];
    if (with_dx) {
        snprintf(name, sizeof name, "conv2d dx (ref) %s", what);
        EXPECT_CLOSE(name, test_read(&tdx), gx, nx, FWD_TOL);
    }
    snprintf(name, sizeof name, "conv2d dw += (ref) %s", what);
    if (with_dw)
        EXPECT_CLOSE(name, test_read(&tdw), gw, nw, FWD_TOL);
}

/* The implicit-GEMM backward: the weight gradient (a tap and 8 x 32 channels a work-item,
 * image chunks adding into dw) and dx by phases (a stride-1 convolution of dy per phase of
 * a strided one, written to its grid of dx), on shapes that divide no tile: channels not
 * multiples of 8 or 32, odd and non-square sizes, strides 2 and 3 with odd inputs, kernels
 * smaller than the stride, padding 0 and beyond k - 1. Forced on, then by default (the
 * two shapes marked "by default" take the implicit dw; with it, below 128 pixels, dx takes
 * GEMM + col2im), then in chunks of one and two images.
 * Oclgrind takes the first two. */
static const int implicit_bwd_shapes[][9] = {
    {3, 13, 9, 11, 37, 3, 3, 2, 1}, /* stride 2, odd input, ragged both ways */
    {2, 9, 7, 7, 5, 2, 3, 2, 0},    /* non-square kernel, no padding */
    {2, 17, 6, 5, 33, 3, 1, 1, 2},  /* stride 1, padding beyond k - 1 in one axis */
    {2, 10, 12, 12, 20, 1, 1, 2, 0}, /* 1x1 stride 2: half the phases are zero */
    {2, 5, 13, 13, 7, 7, 7, 2, 3},  /* the stem's 7x7 */
    {2, 6, 11, 11, 40, 3, 3, 3, 1}, /* stride 3 */
    {3, 16, 9, 9, 33, 3, 3, 1, 1},  /* by default the implicit dw, dx by GEMM + col2im */
    {2, 24, 8, 8, 20, 1, 1, 2, 0},  /* the default takes both */
    {2, 12, 16, 16, 20, 3, 3, 1, 1}, /* dx of 12 channels: 16-pixel tiles along rows */
};

HVP_TEST(conv2d_bwd_implicit)
{
    int n = (int)(sizeof implicit_bwd_shapes / sizeof implicit_bwd_shapes[0]);
    if (test_tiny())
        n = 2;
    int old = hvp_conv2d_igemm(test_ctx(), 1);
    for (int s = 0; s < n; s++) {
        hvp_conv2d_desc d = desc_of(implicit_bwd_shapes[s]);
        check_bwd_ref(&d, s != 1, 1);
    }
    hvp_conv2d_igemm(test_ctx(), -1);
    for (int s = 0; s < n; s++) {
        hvp_conv2d_desc d = desc_of(implicit_bwd_shapes[s]);
        check_bwd_ref(&d, 1, 1);
    }
    hvp_conv2d_igemm(test_ctx(), 1);
    /* Chunks of one image, then of two for an odd batch: dw adds chunk after chunk. */
    hvp_conv2d_desc d = desc_of(implicit_bwd_shapes[0]);
    size_t per_image = (size_t)32 * hvp_conv2d_out_h(&d) * hvp_conv2d_out_w(&d) * 2;
    size_t old_limit = hvp_conv2d_scratch_limit(test_ctx(), 1);
    check_bwd_ref(&d, 1, 1);
    if (!test_tiny()) {
        d.n = 5;
        hvp_conv2d_scratch_limit(test_ctx(), 2 * per_image + per_image / 2);
        check_bwd_ref(&d, 1, 1);
    }
    hvp_conv2d_scratch_limit(test_ctx(), old_limit);
    hvp_conv2d_igemm(test_ctx(), old);
}

HVP_TEST(conv2d_bwd_no_dx_and_chunked)
{
    hvp_conv2d_desc d = {3, 2, 5, 5, 3, 3, 3, 1, 1};
    if (test_tiny()) { /* Oclgrind: only the chunked kernels' offsets are new here */
        d.n = 2;
        d.h = d.w = 3;
    } else {
        check_bwd(&d, 0);
    }
    /* Chunks of one image (the bound is below one image's scratch). */
    size_t old = hvp_conv2d_scratch_limit(test_ctx(), 1);
    check_bwd(&d, 1);
    if (!test_tiny()) {
        hvp_conv2d_desc pw = {3, 2, 3, 3, 2, 1, 1, 1, 0};
        check_bwd(&pw, 1);
        hvp_conv2d_desc big = {3, 1, 23, 23, 2, 3, 3, 1, 1}; /* per image */
        check_bwd(&big, 1);
    }
    hvp_conv2d_scratch_limit(test_ctx(), old);
}

HVP_TEST(conv2d_rejects_bad_shapes)
{
    hvp_conv2d_desc d = {1, 2, 3, 3, 2, 3, 3, 1, 1};
    int nx = 18, nw = 36, ny = 17; /* y should have 18 */
    hvp_tensor tx = test_tensor(1, &nx, NULL), tw = test_tensor(1, &nw, NULL),
               ty = test_tensor(1, &ny, NULL);
    EXPECT(hvp_conv2d_fwd(test_ctx(), &d, &tx, &tw, NULL, &ty) == HVP_ERR_ARG, "y too small");
    hvp_conv2d_desc big = {1, 2, 3, 3, 2, 5, 5, 1, 0};
    EXPECT(hvp_conv2d_fwd(test_ctx(), &big, &tx, &tw, NULL, &ty) == HVP_ERR_ARG,
           "kernel larger than input");
}

/* Two identical backward passes give bitwise identical gradients (no atomics). */
static void check_deterministic(hvp_conv2d_desc d)
{
    size_t nx = x_len(&d), nw = w_len(&d), ny = y_len(&d);
    float *x = test_floats(nx), *w = test_floats(nw), *dy = test_floats(ny);
    test_fill_uniform(x, nx, -1, 1);
    test_fill_uniform(w, nw, -1, 1);
    test_fill_uniform(dy, ny, -1, 1);
    int ix = (int)nx, iw = (int)nw, iy = (int)ny;
    hvp_tensor tx = test_tensor(1, &ix, x), tw = test_tensor(1, &iw, w),
               tdy = test_tensor(1, &iy, dy);
    float *out[2][3];
    for (int r = 0; r < 2; r++) {
        hvp_tensor tdx = test_tensor(1, &ix, NULL), tdw = test_tensor(1, &iw, NULL),
                   tdb = test_tensor(1, &d.c_out, NULL);
        REQUIRE_OK(hvp_tensor_zero(test_ctx(), &tdw));
        REQUIRE_OK(hvp_tensor_zero(test_ctx(), &tdb));
        REQUIRE_OK(hvp_conv2d_bwd(test_ctx(), &d, &tx, &tw, &tdy, &tdx, &tdw, &tdb));
        out[r][0] = test_read(&tdx);
        out[r][1] = test_read(&tdw);
        out[r][2] = test_read(&tdb);
    }
    EXPECT(memcmp(out[0][0], out[1][0], nx * sizeof(float)) == 0, "dx differs between runs");
    EXPECT(memcmp(out[0][1], out[1][1], nw * sizeof(float)) == 0, "dw differs between runs");
    EXPECT(memcmp(out[0][2], out[1][2], (size_t)d.c_out * sizeof(float)) == 0,
           "db differs between runs");
}

HVP_TEST(conv2d_bwd_deterministic)
{
    if (test_tiny()) {
        check_deterministic((hvp_conv2d_desc){2, 2, 3, 3, 2, 3, 3, 1, 1});
        return;
    }
    check_deterministic((hvp_conv2d_desc){4, 8, 15, 15, 16, 3, 3, 2, 1}); /* one wide GEMM */
    check_deterministic((hvp_conv2d_desc){4, 8, 47, 47, 16, 3, 3, 2, 1}); /* per image */
    /* Implicit GEMM: dw added over chunks of two images (the scratch bound), dx by phases */
    int old = hvp_conv2d_igemm(test_ctx(), 1);
    size_t old_limit = hvp_conv2d_scratch_limit(test_ctx(), (size_t)64 * 8 * 8 * 2);
    check_deterministic((hvp_conv2d_desc){5, 12, 15, 15, 40, 3, 3, 2, 1});
    hvp_conv2d_scratch_limit(test_ctx(), old_limit);
    hvp_conv2d_igemm(test_ctx(), old);
}

/* ---- the tune table's choice of path (src/ops/conv2d_tune.c) ---------------------------- */

/* One convolution of each of four classes, small enough for the reference. */
static const hvp_conv2d_desc STEM = {2, 3, 8, 8, 8, 3, 3, 1, 1},
                             S1_LARGE = {2, 16, 12, 12, 8, 3, 3, 1, 1}, /* 144 pixels */
                             S2_SMALL = {2, 16, 9, 9, 16, 3, 3, 2, 1},  /* 25 pixels */
                             S2_1X1_SMALL = {2, 16, 8, 8, 16, 1, 1, 2, 0};

/* The paths test_ctx() takes for d, fwd dw dx, e.g. "icc" (i: implicit GEMM, c: column
 * matrices), against want. */
static void expect_paths(const hvp_conv2d_desc *d, const char *want, const char *what)
{
    char got[HVP_CONV2D_PASSES + 1] = "";
    for (int p = 0; p < HVP_CONV2D_PASSES; p++)
        got[p] = hvp_conv2d_implicit(test_ctx(), d, (hvp_conv2d_pass)p) ? 'i' : 'c';
    EXPECT(strcmp(got, want) == 0, "%s: paths (fwd dw dx) %s, expected %s", what, got, want);
}

/* Today's heuristic, which a tune table without a [conv2d] section leaves in charge. */
static void expect_heuristic(void)
{
    expect_paths(&STEM, "ccc", "stem");
    expect_paths(&S1_LARGE, "iii", "3x3 stride 1, 144 pixels");
    expect_paths(&S2_SMALL, "iii", "3x3 stride 2, 25 pixels");
    expect_paths(&S2_1X1_SMALL, "iii", "1x1 stride 2, 16 pixels");
}

/* test_ctx() with a tune table of its own: a fresh HVP_CACHE_DIR holding `text` (none when
 * NULL), no forced setting; tune_env_end puts everything back. */
typedef struct tune_env {
    char *dir, *old_cache, *old_forced, path[4096];
    int old_igemm;
} tune_env;

static void tune_env_begin(tune_env *e, const char *text)
{
    e->dir = test_tmpdir();
    e->old_cache = test_env_copy("HVP_CACHE_DIR");
    e->old_forced = test_env_copy("HVP_CONV_IGEMM");
    e->old_igemm = hvp_conv2d_igemm(test_ctx(), -1);
    setenv("HVP_CACHE_DIR", e->dir, 1);
    unsetenv("HVP_CONV_IGEMM");
    e->path[0] = 0;
    hvp_tune_table_path(test_ctx(), e->path, sizeof e->path);
    FILE *f = text ? fopen(e->path, "w") : NULL;
    EXPECT(!text || f, "cannot write %s", e->path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    hvp_conv2d_reload_table(test_ctx());
}

static void tune_env_end(tune_env *e)
{
    test_env_restore("HVP_CACHE_DIR", e->old_cache);
    test_env_restore("HVP_CONV_IGEMM", e->old_forced);
    hvp_conv2d_igemm(test_ctx(), e->old_igemm);
    hvp_conv2d_reload_table(test_ctx());
    test_rmdir(e->dir);
}

/* conv2d takes the paths the tune table names, against the heuristic where it can: every
 * pass of the stem and of a large stride-1 convolution, and for a small stride-2 one the
 * forward by the implicit GEMM and dx by phases beside a column-matrix weight gradient (a
 * pairing the heuristic never picks); a class the table names only in part takes the
 * heuristic for the rest. Results on those paths match the reference, run to run bitwise. */
HVP_TEST(conv2d_tune_table_picks_paths)
{
    tune_env e;
    tune_env_begin(&e, "[conv2d]\n"
                       "stem.fwd = implicit\nstem.dw = implicit\nstem.dx = implicit\n"
                       "s1_large.fwd = columns\ns1_large.dw = columns\ns1_large.dx = columns\n"
                       "s2_small.fwd = implicit\ns2_small.dw = columns\ns2_small.dx = implicit\n"
                       "s2_1x1_small.dx = columns\n");
    expect_paths(&STEM, "iii", "stem");
    expect_paths(&S1_LARGE, "ccc", "3x3 stride 1, 144 pixels");
    expect_paths(&S2_SMALL, "ici", "3x3 stride 2, 25 pixels");
    expect_paths(&S2_1X1_SMALL, "iic", "1x1 stride 2, 16 pixels (dx alone in the table)");
    expect_paths(&(hvp_conv2d_desc){2, 16, 8, 8, 8, 1, 1, 1, 0}, "ccc",
                 "1x1 stride 1 (the input itself, whatever the table)");
    char desc[4096];
    hvp_conv2d_describe(test_ctx(), desc, sizeof desc);
    EXPECT(strstr(desc, "s2_small=ici") && strstr(desc, "s2_1x1_small=--c") &&
               strstr(desc, e.path),
           "describe: %s", desc);
    hvp_conv2d_igemm(test_ctx(), 1); /* a forced setting comes first */
    expect_paths(&S1_LARGE, "iii", "forced on");
    hvp_conv2d_igemm(test_ctx(), -1);

    check_fwd(&S2_SMALL, 1);
    check_bwd_ref(&S2_SMALL, 1, 1);
    check_bwd_ref(&S2_SMALL, 1, 0); /* dx alone, as hvp tune times it */
    check_deterministic(S2_SMALL);
    if (!test_tiny()) {
        check_fwd(&S1_LARGE, 0);
        check_bwd_ref(&S1_LARGE, 1, 1);
    }
    tune_env_end(&e);
}

/* A tune table written before convolutions were tuned (no [conv2d] section), or naming no
 * path it knows, leaves today's heuristic in charge; so does no table. */
HVP_TEST(conv2d_tune_table_without_conv_section)
{
    const char *tables[] = {
        NULL,
        "[device]\nname = \"x\"\n\n[gemm]\nsmall = reg8x32\nskinny = reg8x32\n"
        "large = reg8x32\nbatched = reg8x32\n",
        "[conv2d]\ns1_large.fwd = fast\nstem = implicit\n",
    };
    for (int i = 0; i < 3; i++) {
        tune_env e;
        tune_env_begin(&e, tables[i]);
        expect_heuristic();
        char desc[4096];
        hvp_conv2d_describe(test_ctx(), desc, sizeof desc);
        EXPECT(strstr(desc, "default heuristic"), "table %d: %s", i, desc);
        tune_env_end(&e);
    }
}

/* Each op rewrites its own section of the tune table and keeps the others'. */
HVP_TEST(tune_table_write_keeps_other_sections)
{
    tune_env e;
    tune_env_begin(&e, "; an old table\n[device]\nname = \"old\"\n\n[gemm]\nsmall = lds8\n"
                       "\n[conv2d]\ns1_large.fwd = implicit\n");
    REQUIRE_OK(hvp_tune_table_write(test_ctx(), "gemm", "small = reg4x16\n"));
    REQUIRE_OK(hvp_tune_table_write(test_ctx(), "conv2d", "s1_large.fwd = columns\n"));
    REQUIRE_OK(hvp_tune_table_write(test_ctx(), "other", "key = 1\n"));
    size_t size;
    char *text = (char *)test_read_file(e.path, &size);
    char want[1024];
    snprintf(want, sizeof want,
             "; written by hvp tune: what ran fastest on this device, per op and shape class\n"
             "[device]\nplatform = \"%s\"\nname = \"%s\"\ndriver = \"%s\"\n\n"
             "[gemm]\nsmall = reg4x16\n\n[conv2d]\ns1_large.fwd = columns\n\n[other]\nkey = 1\n",
             test_ctx()->info.platform_name, test_ctx()->info.device_name,
             test_ctx()->info.driver_version);
    EXPECT(size == strlen(want) && memcmp(text, want, size) == 0, "the table reads\n%.*s",
           (int)size, text);
    hvp_conv2d_reload_table(test_ctx());
    expect_paths(&S1_LARGE, "cii", "after the rewrites");
    tune_env_end(&e);
}
