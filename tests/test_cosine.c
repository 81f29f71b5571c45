#include <math.h>

#include "harness.h"
#include "ref/ref.h"

static const int shapes[][2] = {{1, 1}, {3, 7}, {5, 33}, {4, 257}, {2, 1000}, {3, 2048}};

/* Every case runs with a work-group per row and with an item per row (ctx->row_per_item). */
HVP_TEST(cosine_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 6) * 2; s++) {
        test_ctx()->row_per_item = s % 2;
        int rows = shapes[s / 2][0], cols = shapes[s / 2][1], n = rows * cols;
        float *a = test_floats((size_t)n), *b = test_floats((size_t)n);
        test_fill_uniform(a, (size_t)n, -1, 1);
        test_fill_uniform(b, (size_t)n, -1, 1);
        if (rows > 2) /* b_1 = 3 a_1 (cosine 1), a zero row 2 (cosine 0) */
            for (int j = 0; j < cols; j++) {
                b[cols + j] = 3.0f * a[cols + j];
                a[2 * cols + j] = 0.0f;
            }
        hvp_tensor ta = test_tensor(2, (int[]){rows, cols}, a), tb = test_tensor(2, (int[]){rows, cols}, b);
        hvp_tensor ts = test_tensor(1, &rows, NULL);
        REQUIRE_OK(hvp_cosine_fwd(test_ctx(), &ta, &tb, &ts, 1e-8f));
        double *want = test_doubles((size_t)rows);
        ref_cosine_fwd(test_to_double(a, (size_t)n), test_to_double(b, (size_t)n), want, rows,
                       cols, 1e-8);
        float *got = test_read(&ts);
        EXPECT_CLOSE("cosine s", got, want, (size_t)rows, FWD_TOL);
        if (rows > 2)
            EXPECT(got[2] == 0.0f, "zero row: cosine %g", (double)got[2]);
    }
}

typedef struct {
    double *a, *b, *w, *s;
    int rows, cols;
    double eps;
} cos_loss;

static double cos_loss_fn(void *u)
{
    cos_loss *l = u;
    ref_cosine_fwd(l->a, l->b, l->s, l->rows, l->cols, l->eps);
    return test_dot(l->w, l->s, (size_t)l->rows);
}

/* scale_a > 0: a uniform in [-scale_a, scale_a]. scale_a < 0: a = |scale_a| b / ||b|| plus
 * noise, so that ||a|| stays under eps while the cosine is large (the clamped branch). */
static void check_bwd(int rows, int cols, double eps, float scale_a)
{
    int n = rows * cols;
    float *a = test_floats((size_t)n), *b = test_floats((size_t)n), *ds = test_floats((size_t)rows);
    test_fill_uniform(a, (size_t)n, -fabsf(scale_a), fabsf(scale_a));
    test_fill_uniform(b, (size_t)n, -1, 1);
    if (scale_a < 0)
        for (int r = 0; r < rows; r++) {
            double nb = 0;
            for (int j = 0; j < cols; j++)
                nb += (double)b[r * cols + j] * b[r * cols + j];
            nb = sqrt(nb);
            EXPECT(nb > 1.2 * eps, "row %d: ||b|| %g too near eps", r, nb);
            for (int j = 0; j < cols; j++)
                a[r * cols + j] = (float)(-scale_a * b[r * cols + j] / nb) + 0.1f * a[r * cols + j];
        }
    scale_a = fabsf(scale_a);
    test_fill_uniform(ds, (size_t)rows, -1, 1);
    hvp_tensor ta = test_tensor(2, (int[]){rows, cols}, a), tb = test_tensor(2, (int[]){rows, cols}, b);
    hvp_tensor tds = test_tensor(1, &rows, ds);
    hvp_tensor tda = test_tensor(2, (int[]){rows, cols}, NULL), tdb = test_tensor(2, (int[]){rows, cols}, NULL);
    REQUIRE_OK(hvp_cosine_bwd(test_ctx(), &ta, &tb, &tds, &tda, &tdb, (float)eps));
    cos_loss l = {test_to_double(a, (size_t)n), test_to_double(b, (size_t)n),
                  test_to_double(ds, (size_t)rows), test_doubles((size_t)rows), rows, cols, eps};
    double *want_a = test_doubles((size_t)n), *want_b = test_doubles((size_t)n);
    test_fd_grad(l.a, (size_t)n, cos_loss_fn, &l, 1e-6 * scale_a, want_a);
    test_fd_grad(l.b, (size_t)n, cos_loss_fn, &l, 1e-6, want_b);
    EXPECT_CLOSE("cosine da", test_read(&tda), want_a, (size_t)n, GRAD_TOL);
    EXPECT_CLOSE("cosine db", test_read(&tdb), want_b, (size_t)n, GRAD_TOL);
    /* Each gradient alone (the other skipped, as for a stop-gradient target). */
    hvp_tensor tdb2 = test_tensor(2, (int[]){rows, cols}, NULL);
    REQUIRE_OK(hvp_cosine_bwd(test_ctx(), &ta, &tb, &tds, NULL, &tdb2, (float)eps));
    EXPECT_CLOSE("cosine db alone", test_read(&tdb2), want_b, (size_t)n, GRAD_TOL);
    hvp_tensor tda2 = test_tensor(2, (int[]){rows, cols}, NULL);
    REQUIRE_OK(hvp_cosine_bwd(test_ctx(), &ta, &tb, &tds, &tda2, NULL, (float)eps));
    EXPECT_CLOSE("cosine da alone", test_read(&tda2), want_a, (size_t)n, GRAD_TOL);
}

HVP_TEST(cosine_bwd)
{
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        check_bwd(3, 7, 1e-8, 1.0f);
        if (!test_tiny())
            check_bwd(5, 70, 1e-8, 1.0f);
        /* ||a|| under eps: a's norm is clamped and passes no gradient. */
        check_bwd(2, 5, 0.05, 1e-3f);
        check_bwd(3, 5, 0.5, -0.15f);
        if (!test_tiny())
            check_bwd(2, 40, 0.5, -0.15f); /* clamped, with whole vectors and a tail */
    }
}
