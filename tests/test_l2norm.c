#include <math.h>
#include <stdio.h>

#include "harness.h"
#include "ref/ref.h"

/* One item per row and several (ctx->row_per_item): widths under a vector, with tails, a
 * row longer than 256 items' 8 vectors (items take several), more rows than one
 * work-group. */
static const int shapes[][2] = {{1, 1},    {3, 7},    {5, 33},   {4, 257},
                                {2, 1000}, {3, 4099}, {300, 37}, {1, 40000}};

HVP_TEST(l2norm_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 8); s++) {
        int rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *x = test_floats((size_t)n);
        test_fill_uniform(x, (size_t)n, -1, 1);
        double *want = test_doubles((size_t)n);
        ref_l2norm_fwd(test_to_double(x, (size_t)n), want, rows, cols, 1e-12);
        for (int item = 0; item < 2; item++) {
            test_ctx()->row_per_item = item;
            hvp_tensor tx = test_tensor(2, (int[]){rows, cols}, x);
            hvp_tensor ty = test_tensor(2, (int[]){rows, cols}, NULL);
            REQUIRE_OK(hvp_l2norm_fwd(test_ctx(), &tx, &ty, 1e-12f));
            char what[80];
            snprintf(what, sizeof what, "l2norm y %dx%d row_per_item %d", rows, cols, item);
            EXPECT_CLOSE(what, test_read(&ty), want, (size_t)n, FWD_TOL);
            /* In place. */
            REQUIRE_OK(hvp_l2norm_fwd(test_ctx(), &tx, &tx, 1e-12f));
            EXPECT_CLOSE("l2norm y in place", test_read(&tx), want, (size_t)n, FWD_TOL);
        }
    }
}

/* A zero row stays zero; a row whose norm is under eps is divided by eps. */
HVP_TEST(l2norm_fwd_eps)
{
    int rows = 3, cols = 7, n = rows * cols;
    float *x = test_floats((size_t)n);
    for (int j = 0; j < cols; j++) {
        x[j] = 0.0f;
        x[cols + j] = (j % 2 ? 1.0f : -2.0f) * 1e-14f;
        x[2 * cols + j] = (float)j - 3.0f;
    }
    hvp_tensor tx = test_tensor(2, (int[]){rows, cols}, x), ty = test_tensor(2, (int[]){rows, cols}, NULL);
    double *want = test_doubles((size_t)n);
    ref_l2norm_fwd(test_to_double(x, (size_t)n), want, rows, cols, 1e-12);
    EXPECT(fabs(want[cols] - (-0.02)) < 1e-6, "reference clamps: %g", want[cols]);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        REQUIRE_OK(hvp_l2norm_fwd(test_ctx(), &tx, &ty, 1e-12f));
        float *got = test_read(&ty);
        EXPECT(got[0] == 0.0f && got[6] == 0.0f, "zero row: got %g, %g", (double)got[0],
               (double)got[6]);
        EXPECT_CLOSE("l2norm small row", got + cols, want + cols, (size_t)cols, FWD_TOL);
        EXPECT_CLOSE("l2norm rows", got, want, (size_t)n, FWD_TOL);
    }
}

typedef struct {
    double *x, *w, *y;
    int rows, cols;
    double eps;
} l2_loss;

static double l2_loss_fn(void *u)
{
    l2_loss *l = u;
    ref_l2norm_fwd(l->x, l->y, l->rows, l->cols, l->eps);
    return test_dot(l->w, l->y, (size_t)l->rows * l->cols);
}

static void check_bwd(int rows, int cols, float scale, double eps)
{
    int n = rows * cols;
    float *x = test_floats((size_t)n), *dy = test_floats((size_t)n);
    test_fill_uniform(x, (size_t)n, -scale, scale);
    test_fill_uniform(dy, (size_t)n, -1, 1);
    l2_loss l = {test_to_double(x, (size_t)n), test_to_double(dy, (size_t)n),
                 test_doubles((size_t)n), rows, cols, eps};
    double *want = test_doubles((size_t)n);
    test_fd_grad(l.x, (size_t)n, l2_loss_fn, &l, 1e-6 * scale, want);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        hvp_tensor tx = test_tensor(2, (int[]){rows, cols}, x),
                   tdy = test_tensor(2, (int[]){rows, cols}, dy),
                   tdx = test_tensor(2, (int[]){rows, cols}, NULL);
        REQUIRE_OK(hvp_l2norm_bwd(test_ctx(), &tx, &tdy, &tdx, (float)eps));
        char what[80];
        snprintf(what, sizeof what, "l2norm dx %dx%d row_per_item %d", rows, cols, item);
        EXPECT_CLOSE(what, test_read(&tdx), want, (size_t)n, GRAD_TOL);
        /* dx may be dy. */
        REQUIRE_OK(hvp_l2norm_bwd(test_ctx(), &tx, &tdy, &tdy, (float)eps));
        EXPECT_CLOSE("l2norm dx in place", test_read(&tdy), want, (size_t)n, GRAD_TOL);
    }
}

HVP_TEST(l2norm_bwd)
{
    check_bwd(3, 7, 1.0f, 1e-12);
    if (!test_tiny()) {
        check_bwd(4, 65, 1.0f, 1e-12);
        check_bwd(3, 600, 1.0f, 1e-12);  /* several items per row, a vector's tail */
        check_bwd(300, 37, 1.0f, 1e-12); /* more rows than one work-group takes */
        check_bwd(1, 4500, 1.0f, 1e-12);  /* several vectors per item of 64 */
    }
    /* Every norm under eps: the clamp's branch, dx = dy / eps. */
    check_bwd(2, 5, 1e-3f, 0.1);
}
