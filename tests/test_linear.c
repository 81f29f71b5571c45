#include <string.h>

#include "harness.h"
#include "ref/ref.h"

static void check_linear_fwd(int m, int k, int n, int bias)
{
    float *x = test_floats((size_t)m * k), *w = test_floats((size_t)n * k), *b = test_floats((size_t)n);
    test_fill_uniform(x, (size_t)m * k, -1, 1);
    test_fill_uniform(w, (size_t)n * k, -1, 1);
    test_fill_uniform(b, (size_t)n, -1, 1);
    hvp_tensor tx = test_tensor(2, (int[]){m, k}, x), tw = test_tensor(2, (int[]){n, k}, w),
               tb = test_tensor_at(1, 1, &n, b), /* odd offset */
               ty = test_tensor(2, (int[]){m, n}, NULL);
    REQUIRE_OK(hvp_linear_fwd(test_ctx(), &tx, &tw, bias ? &tb : NULL, &ty));
    double *want = test_doubles((size_t)m * n);
    ref_linear_fwd(test_to_double(x, (size_t)m * k), test_to_double(w, (size_t)n * k),
                   bias ? test_to_double(b, (size_t)n) : NULL, want, m, n, k);
    char what[80];
    snprintf(what, sizeof what, "linear y m=%d k=%d n=%d bias=%d", m, k, n, bias);
    EXPECT_CLOSE(what, test_read(&ty), want, (size_t)m * n, FWD_TOL);
}

HVP_TEST(linear_fwd)
{
    /* n = 37 and 65: rows of whole vectors and a tail in the bias kernel */
    static const int shapes[][3] = {{1, 3, 2},     {7, 5, 3},     {3, 4, 37},
                                    {33, 17, 9}, {7, 192, 384}, {33, 384, 65}};
    int ns = test_tiny() ? 3 : 6;
    for (int s = 0; s < ns; s++)
        for (int bias = 0; bias < 2; bias++)
            check_linear_fwd(shapes[s][0], shapes[s][1], shapes[s][2], bias);
}

typedef struct {
    double *x, *w, *b, *dy, *y;
    int m, n, k;
} linear_loss;

static double linear_loss_fn(void *u)
{
    linear_loss *l = u;
    ref_linear_fwd(l->x, l->w, l->b, l->y, l->m, l->n, l->k);
    return test_dot(l->dy, l->y, (size_t)l->m * l->n);
}

/* x is [2, m/2, k] (a batch of tokens), to check that any leading shape works. */
static void check_linear_bwd(int m, int k, int n)
{
    size_t nx = (size_t)m * k, nw = (size_t)n * k, ny = (size_t)m * n;
    float *x = test_floats(nx), *w = test_floats(nw), *b = test_floats((size_t)n),
          *dy = test_floats(ny), *dw0 = test_floats(nw), *db0 = test_floats((size_t)n);
    test_fill_uniform(x, nx, -1, 1);
    test_fill_uniform(w, nw, -1, 1);
    test_fill_uniform(b, (size_t)n, -1, 1);
    test_fill_uniform(dy, ny, -1, 1);
    test_fill_uniform(dw0, nw, -1, 1); /* parameter gradients accumulate onto these */
    test_fill_uniform(db0, (size_t)n, -1, 1);
    hvp_tensor tx = test_tensor(3, (int[]){2, m / 2, k}, x), tw = test_tensor(2, (int[]){n, k}, w),
               tdy = test_tensor(3, (int[]){2, m / 2, n}, dy),
               tdx = test_tensor(3, (int[]){2, m / 2, k}, NULL),
               tdw = test_tensor(2, (int[]){n, k}, dw0), tdb = test_tensor(1, &n, db0);
    REQUIRE_OK(hvp_linear_bwd(test_ctx(), &tx, &tw, &tdy, &tdx, &tdw, &tdb));
    linear_loss l = {test_to_double(x, nx), test_to_double(w, nw), test_to_double(b, (size_t)n),
                     test_to_double(dy, ny), test_doubles(ny), m, n, k};
    double *gx = test_doubles(nx), *gw = test_doubles(nw), *gb = test_doubles((size_t)n);
    test_fd_grad(l.x, nx, linear_loss_fn, &l, 1e-6, gx);
    test_fd_grad(l.w, nw, linear_loss_fn, &l, 1e-6, gw);
    test_fd_grad(l.b, (size_t)n, linear_loss_fn, &l, 1e-6, gb);
    for (size_t i = 0; i < nw; i++)
        gw[i] += dw0[i];
    for (int i = 0; i < n; i++)
        gb[i] += db0[i];
    EXPECT_CLOSE("linear dx", test_read(&tdx), gx, nx, GRAD_TOL);
    EXPECT_CLOSE("linear dw (accumulated)", test_read(&tdw), gw, nw, GRAD_TOL);
    EXPECT_CLOSE("linear db (accumulated)", test_read(&tdb), gb, (size_t)n, GRAD_TOL);

    /* No dx, no bias: dw accumulates a second time, dx is left alone. */
    REQUIRE_OK(hvp_linear_bwd(test_ctx(), &tx, &tw, &tdy, NULL, &tdw, NULL));
    for (size_t i = 0; i < nw; i++)
        gw[i] += gw[i] - dw0[i];
    EXPECT_CLOSE("linear dw (twice)", test_read(&tdw), gw, nw, GRAD_TOL);
}

HVP_TEST(linear_bwd)
{
    if (test_tiny()) {
        check_linear_bwd(2, 3, 2);
        return;
    }
    check_linear_bwd(6, 5, 3);
    check_linear_bwd(14, 17, 33);
}

/* db += column sums of dy against double sums: rows >> cols (several chunks of partials),
 * cols >> rows, columns that fill no vector, odd offsets, the first level by columns and by
 * rows (ctx->row_per_item); bitwise the same when repeated. */
static void check_bias_grad(int rows, int cols, size_t dy_at, size_t db_at)
{
    size_t n = (size_t)rows * cols;
    float *dy = test_floats(n), *db0 = test_floats((size_t)cols);
    test_fill_uniform(dy, n, -1, 1);
    test_fill_uniform(db0, (size_t)cols, -1, 1);
    hvp_tensor tdy = test_tensor_at(dy_at, 2, (int[]){rows, cols}, dy),
               tdb = test_tensor_at(db_at, 1, &cols, db0),
               again = test_tensor_at(db_at, 1, &cols, db0);
    REQUIRE_OK(hvp_linear_bwd_bias(test_ctx(), &tdy, &tdb));
    REQUIRE_OK(hvp_linear_bwd_bias(test_ctx(), &tdy, &again));
    double *want = test_doubles((size_t)cols);
    for (int c = 0; c < cols; c++) {
        want[c] = db0[c];
        for (int r = 0; r < rows; r++)
            want[c] += dy[(size_t)r * cols + c];
    }
    char what[96];
    snprintf(what, sizeof what, "bias grad rows=%d cols=%d offsets %zu %zu row_per_item %d", rows,
             cols, dy_at, db_at, test_ctx()->row_per_item);
    float *got = test_read(&tdb);
    EXPECT_CLOSE(what, got, want, (size_t)cols, FWD_TOL);
    EXPECT(memcmp(got, test_read(&again), (size_t)cols * sizeof *got) == 0,
           "%s: a second run differs", what);
}

HVP_TEST(linear_bwd_bias_shapes)
{
    static const int shapes[][2] = {{3, 5},     {40, 37},   {1, 1000}, {16, 3001},
                                    {1000, 7}, {3152, 384}, {4099, 33}};
    int ns = test_tiny() ? 2 : 7;
    for (int item = 0; item < 2; item++)
        for (int s = 0; s < ns; s++) {
            test_ctx()->row_per_item = item;
            check_bias_grad(shapes[s][0], shapes[s][1], 0, 0);
            check_bias_grad(shapes[s][0], shapes[s][1], 3, 1);
        }
}
