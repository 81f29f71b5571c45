#include <string.h>

#include "harness.h"
#include "ref/ref.h"

static hvp_tensor i32_tensor(int n, const int *host)
{
    hvp_tensor t;
    memset(&t, 0, sizeof t);
    if (hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &n, "test indices", &t) != HVP_OK ||
        hvp_tensor_upload(test_ctx(), &t, host) != HVP_OK)
        TEST_FAIL("index tensor: %s", hvp_last_error());
    return t;
}

/* {source rows, picked rows, row length} */
static const int shapes[][3] = {{1, 1, 1}, {5, 3, 7}, {8, 12, 33}, {16, 4, 257}, {12, 6, 1000}};

HVP_TEST(gather_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 5); s++) {
        int m = shapes[s][0], n = shapes[s][1], cols = shapes[s][2];
        float *x = test_floats((size_t)m * cols);
        int *idx = test_alloc((size_t)n * sizeof *idx);
        test_fill_uniform(x, (size_t)m * cols, -1, 1);
        for (int i = 0; i < n; i++)
            idx[i] = (i * 5 + 2) % m; /* repeats when n > m */
        hvp_tensor tx = test_tensor(2, (int[]){m, cols}, x), ti = i32_tensor(n, idx);
        hvp_tensor ty = test_tensor(2, (int[]){n, cols}, NULL);
        REQUIRE_OK(hvp_gather_fwd(test_ctx(), &tx, &ti, &ty));
        double *want = test_doubles((size_t)n * cols);
        ref_gather_fwd(test_to_double(x, (size_t)m * cols), idx, want, n, cols);
        EXPECT_CLOSE("gather y", test_read(&ty), want, (size_t)n * cols, 0.0);
    }
}

typedef struct {
    double *x, *w, *y;
    int *idx;
    int n, cols;
} gather_loss;

static double gather_loss_fn(void *u)
{
    gather_loss *l = u;
    ref_gather_fwd(l->x, l->idx, l->y, l->n, l->cols);
    return test_dot(l->w, l->y, (size_t)l->n * l->cols);
}

static void check_bwd(int m, int n, int cols)
{
    float *x = test_floats((size_t)m * cols), *dy = test_floats((size_t)n * cols);
    int *idx = test_alloc((size_t)n * sizeof *idx);
    test_fill_uniform(x, (size_t)m * cols, -1, 1);
    test_fill_uniform(dy, (size_t)n * cols, -1, 1);
    /* Row 0 picked three times (sums in order), row m-1 never (its gradient is 0). */
    for (int i = 0; i < n; i++)
        idx[i] = i % 3 == 0 ? 0 : (i * 7) % (m - 1);
    hvp_tensor ti = i32_tensor(n, idx), tdy = test_tensor(2, (int[]){n, cols}, dy);
    hvp_tensor tdx = test_tensor(2, (int[]){m, cols}, NULL);
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdx, 123.0f)); /* overwritten, not added to */
    REQUIRE_OK(hvp_gather_bwd(test_ctx(), &ti, &tdy, &tdx));
    gather_loss l = {test_to_double(x, (size_t)m * cols), test_to_double(dy, (size_t)n * cols),
                     test_doubles((size_t)n * cols), idx, n, cols};
    double *want = test_doubles((size_t)m * cols);
    test_fd_grad(l.x, (size_t)m * cols, gather_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("gather dx", test_read(&tdx), want, (size_t)m * cols, GRAD_TOL);
}

HVP_TEST(gather_bwd)
{
    check_bwd(4, 7, 3);
    if (!test_tiny())
        check_bwd(9, 20, 65);
}
