#include "harness.h"
#include "ref/ref.h"

/* n, c, hw */
static const int shapes[][3] = {{1, 1, 1}, {2, 3, 7}, {3, 33, 49}, {2, 13, 257}, {4, 64, 1}};

HVP_TEST(avgpool_fwd)
{
    int ns = test_tiny() ? 2 : (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < ns; s++) {
        int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2];
        int nx = n * c * hw, ny = n * c;
        float *x = test_floats((size_t)nx);
        test_fill_uniform(x, (size_t)nx, -1, 1);
        hvp_tensor tx = test_tensor(1, &nx, x), ty = test_tensor(1, &ny, NULL);
        REQUIRE_OK(hvp_avgpool_fwd(test_ctx(), n, c, hw, &tx, &ty));
        double *want = test_doubles((size_t)ny);
        ref_avgpool_fwd(test_to_double(x, (size_t)nx), want, n, c, hw);
        char what[64];
        snprintf(what, sizeof what, "avgpool y n=%d c=%d hw=%d", n, c, hw);
        EXPECT_CLOSE(what, test_read(&ty), want, (size_t)ny, FWD_TOL);
    }
}

typedef struct {
    int n, c, hw;
    double *x, *dy, *y;
} pool_loss;

static double pool_loss_fn(void *u)
{
    pool_loss *l = u;
    ref_avgpool_fwd(l->x, l->y, l->n, l->c, l->hw);
    return test_dot(l->dy, l->y, (size_t)l->n * l->c);
}

HVP_TEST(avgpool_bwd)
{
    int n = 2, c = 3, hw = test_tiny() ? 4 : 49;
    int nx = n * c * hw, ny = n * c;
    float *x = test_floats((size_t)nx), *dy = test_floats((size_t)ny);
    test_fill_uniform(x, (size_t)nx, -1, 1);
    test_fill_uniform(dy, (size_t)ny, -1, 1);
    hvp_tensor tdy = test_tensor(1, &ny, dy), tdx = test_tensor(1, &nx, NULL);
    REQUIRE_OK(hvp_avgpool_bwd(test_ctx(), n, c, hw, &tdy, &tdx));
    pool_loss l = {n, c, hw, test_to_double(x, (size_t)nx), test_to_double(dy, (size_t)ny),
                   test_doubles((size_t)ny)};
    double *want = test_doubles((size_t)nx);
    test_fd_grad(l.x, (size_t)nx, pool_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("avgpool dx", test_read(&tdx), want, (size_t)nx, GRAD_TOL);
}
