#include <string.h>

#include "harness.h"
#include "ref/ref.h"

#define LN_EPS 1e-6f

static void check_ln_fwd(int m, int d, int affine)
{
    size_t n = (size_t)m * d;
    float *x = test_floats(n), *w = test_floats((size_t)d), *b = test_floats((size_t)d);
    test_fill_uniform(x, n, -2, 3);
    test_fill_uniform(w, (size_t)d, 0.5f, 1.5f);
    test_fill_uniform(b, (size_t)d, -1, 1);
    /* w, b and y at odd offsets: no vector alignment */
    hvp_tensor tx = test_tensor(2, (int[]){m, d}, x), tw = test_tensor_at(1, 1, &d, w),
               tb = test_tensor_at(2, 1, &d, b), ty = test_tensor_at(3, 2, (int[]){m, d}, NULL),
               tmean = test_tensor(1, &m, NULL), trstd = test_tensor(1, &m, NULL);
    REQUIRE_OK(hvp_layernorm_fwd(test_ctx(), &tx, affine ? &tw : NULL, affine ? &tb : NULL,
                                 LN_EPS, &ty, &tmean, &trstd));
    double *want = test_doubles(n), *mean = test_doubles((size_t)m), *rstd = test_doubles((size_t)m);
    ref_layernorm_fwd(test_to_double(x, n), affine ? test_to_double(w, (size_t)d) : NULL,
                      affine ? test_to_double(b, (size_t)d) : NULL, LN_EPS, want, mean, rstd, m,
                      d);
    char what[80];
    snprintf(what, sizeof what, "layernorm y m=%d d=%d affine=%d", m, d, affine);
    EXPECT_CLOSE(what, test_read(&ty), want, n, FWD_TOL);
    EXPECT_CLOSE("layernorm mean", test_read(&tmean), mean, (size_t)m, FWD_TOL);
    EXPECT_CLOSE("layernorm rstd", test_read(&trstd), rstd, (size_t)m, FWD_TOL);
}

HVP_TEST(layernorm_fwd)
{
    /* Rows of whole vectors and with tails; long rows get several work-items each, short
     * ones share work-groups, 300 rows more than one (see src/ops/layernorm.c). */
    static const int shapes[][2] = {{1, 3},   {2, 50},   {7, 17},   {33, 192},
                                    {7, 384}, {1, 1000}, {300, 32}, {300, 37}};
    int ns = test_tiny() ? 2 : 8;
    for (int s = 0; s < ns; s++)
        for (int affine = 0; affine < 2; affine++)
            check_ln_fwd(shapes[s][0], shapes[s][1], affine);
}

typedef struct {
    double *x, *w, *b, *dy, *y;
    int m, d;
} ln_loss;

static double ln_loss_fn(void *u)
{
    ln_loss *l = u;
    ref_layernorm_fwd(l->x, l->w, l->b, LN_EPS, l->y, NULL, NULL, l->m, l->d);
    return test_dot(l->dy, l->y, (size_t)l->m * l->d);
}

static void check_ln_bwd(int m, int d, int affine)
{
    size_t n = (size_t)m * d, ud = (size_t)d;
    float *x = test_floats(n), *w = test_floats(ud), *b = test_floats(ud), *dy = test_floats(n),
          *dw0 = test_floats(ud), *db0 = test_floats(ud);
    test_fill_uniform(x, n, -2, 3);
    test_fill_uniform(w, ud, 0.5f, 1.5f);
    test_fill_uniform(b, ud, -1, 1);
    test_fill_uniform(dy, n, -1, 1);
    test_fill_uniform(dw0, ud, -1, 1);
    test_fill_uniform(db0, ud, -1, 1);
    hvp_tensor tx = test_tensor(2, (int[]){m, d}, x), tw = test_tensor(1, &d, w),
               tb = test_tensor(1, &d, b), ty = test_tensor(2, (int[]){m, d}, NULL),
               tmean = test_tensor(1, &m, NULL), trstd = test_tensor(1, &m, NULL),
               tdy = test_tensor(2, (int[]){m, d}, dy),
               tdx = test_tensor_at(1, 2, (int[]){m, d}, NULL), /* odd offset */
               tdw = test_tensor(1, &d, dw0), tdb = test_tensor(1, &d, db0);
    const hvp_tensor *pw = affine ? &tw : NULL;
    REQUIRE_OK(hvp_layernorm_fwd(test_ctx(), &tx, pw, affine ? &tb : NULL, LN_EPS, &ty, &tmean,
                                 &trstd));
    REQUIRE_OK(hvp_layernorm_bwd(test_ctx(), &tx, pw, &tmean, &trstd, &tdy, &tdx,
                                 affine ? &tdw : NULL, affine ? &tdb : NULL));
    ln_loss l = {test_to_double(x, n), affine ? test_to_double(w, ud) : NULL,
                 affine ? test_to_double(b, ud) : NULL, test_to_double(dy, n), test_doubles(n),
                 m, d};
    double *gx = test_doubles(n);
    test_fd_grad(l.x, n, ln_loss_fn, &l, 1e-6, gx);
    char what[80];
    snprintf(what, sizeof what, "layernorm dx m=%d d=%d affine=%d", m, d, affine);
    EXPECT_CLOSE(what, test_read(&tdx), gx, n, GRAD_TOL);
    if (affine) {
        double *gw = test_doubles(ud), *gb = test_doubles(ud);
        test_fd_grad(l.w, ud, ln_loss_fn, &l, 1e-6, gw);
        test_fd_grad(l.b, ud, ln_loss_fn, &l, 1e-6, gb);
        for (size_t i = 0; i < ud; i++) {
            gw[i] += dw0[i];
            gb[i] += db0[i];
        }
        snprintf(what, sizeof what, "layernorm dw m=%d d=%d", m, d);
        EXPECT_CLOSE(what, test_read(&tdw), gw, ud, GRAD_TOL);
        EXPECT_CLOSE("layernorm db (accumulated)", test_read(&tdb), gb, ud, GRAD_TOL);
    }
    /* dx may overwrite dy */
    REQUIRE_OK(hvp_layernorm_bwd(test_ctx(), &tx, pw, &tmean, &trstd, &tdy, &tdy, NULL, NULL));
    snprintf(what, sizeof what, "layernorm dx in place m=%d d=%d affine=%d", m, d, affine);
    EXPECT_CLOSE(what, test_read(&tdy), gx, n, GRAD_TOL);
}

HVP_TEST(layernorm_bwd)
{
    if (test_tiny()) {
        check_ln_bwd(2, 3, 1);
        check_ln_bwd(1, 5, 0);
        check_ln_bwd(2, 37, 1);
        return;
    }
    for (int affine = 0; affine < 2; affine++) {
        check_ln_bwd(3, 7, affine);
        check_ln_bwd(7, 17, affine);
        check_ln_bwd(2, 300, affine); /* rows wider than a work-group */
        check_ln_bwd(2, 700, affine); /* several items per row on CPUs too */
        check_ln_bwd(300, 20, affine); /* more rows than a work-group takes */
    }
}

/* The parameter gradients alone (dx NULL) against double sums over the reference's xhat:
 * rows >> d (several chunks of partials), d >> rows, d filling no vector, odd offsets, dw or
 * db alone, the first level by columns and by rows (ctx->row_per_item); bitwise the same
 * when repeated. */
static void check_ln_params(int m, int d, size_t at)
{
    size_t n = (size_t)m * d, ud = (size_t)d;
    float *x = test_floats(n), *dy = test_floats(n), *p0 = test_floats(ud);
    test_fill_uniform(x, n, -2, 3);
    test_fill_uniform(dy, n, -1, 1);
    test_fill_uniform(p0, ud, -1, 1);
    hvp_tensor tx = test_tensor_at(at, 2, (int[]){m, d}, x),
               ty = test_tensor(2, (int[]){m, d}, NULL), tmean = test_tensor(1, &m, NULL),
               trstd = test_tensor(1, &m, NULL),
               tdy = test_tensor_at(at + 1, 2, (int[]){m, d}, dy),
               tdw = test_tensor_at(at + 2, 1, &d, p0), tdb = test_tensor_at(at, 1, &d, p0),
               dw_only = test_tensor_at(at, 1, &d, p0), db_only = test_tensor_at(at, 1, &d, p0);
    REQUIRE_OK(hvp_layernorm_fwd(test_ctx(), &tx, NULL, NULL, LN_EPS, &ty, &tmean, &trstd));
    REQUIRE_OK(hvp_layernorm_bwd(test_ctx(), &tx, NULL, &tmean, &trstd, &tdy, NULL, &tdw, &tdb));
    REQUIRE_OK(hvp_layernorm_bwd(test_ctx(), &tx, NULL, &tmean, &trstd, &tdy, NULL, &dw_only,
                                 NULL));
    REQUIRE_OK(hvp_layernorm_bwd(test_ctx(), &tx, NULL, &tmean, &trstd, &tdy, NULL, NULL,
                                 &db_only));
    double *xhat = test_doubles(n), *mean = test_doubles((size_t)m),
           *rstd = test_doubles((size_t)m);
    ref_layernorm_fwd(test_to_double(x, n), NULL, NULL, LN_EPS, xhat, mean, rstd, m, d);
    double *gw = test_doubles(ud), *gb = test_doubles(ud);
    for (int j = 0; j < d; j++) {
        gw[j] = gb[j] = p0[j];
        for (int r = 0; r < m; r++) {
            gw[j] += dy[(size_t)r * d + j] * xhat[(size_t)r * d + j];
            gb[j] += dy[(size_t)r * d + j];
        }
    }
    char what[96];
    snprintf(what, sizeof what, "layernorm params m=%d d=%d offset %zu row_per_item %d", m, d,
             at, test_ctx()->row_per_item);
    float *w = test_read(&tdw), *b = test_read(&tdb);
    EXPECT_CLOSE(what, w, gw, ud, FWD_TOL);
    EXPECT_CLOSE(what, b, gb, ud, FWD_TOL);
    EXPECT(memcmp(w, test_read(&dw_only), ud * sizeof *w) == 0 &&
               memcmp(b, test_read(&db_only), ud * sizeof *b) == 0,
           "%s: dw or db alone, or a second run, differs", what);
}

HVP_TEST(layernorm_bwd_params_shapes)
{
    static const int shapes[][2] = {{3, 5}, {40, 37}, {2, 3001}, {1000, 7}, {3152, 384}};
    int ns = test_tiny() ? 2 : 5;
    for (int item = 0; item < 2; item++)
        for (int s = 0; s < ns; s++) {
            test_ctx()->row_per_item = item;
            check_ln_params(shapes[s][0], shapes[s][1], 0);
            check_ln_params(shapes[s][0], shapes[s][1], 3);
        }
}
