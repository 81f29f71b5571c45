#include "harness.h"
#include "ref/ref.h"

static const int sizes[] = {1, 7, 256, 1000, 4099};

HVP_TEST(relu_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 5); s++) {
        int n = sizes[s];
        float *x = test_floats((size_t)n);
        test_fill_uniform(x, (size_t)n, -1, 1);
        hvp_tensor tx = test_tensor(1, &n, x), ty = test_tensor(1, &n, NULL);
        REQUIRE_OK(hvp_relu_fwd(test_ctx(), &tx, &ty));
        double *want = test_doubles((size_t)n);
        ref_relu_fwd(test_to_double(x, (size_t)n), want, (size_t)n);
        EXPECT_CLOSE("relu y", test_read(&ty), want, (size_t)n, FWD_TOL);
        hvp_tensor ux = test_tensor_at(1, 1, &n, x), uy = test_tensor_at(3, 1, &n, NULL);
        REQUIRE_OK(hvp_relu_fwd(test_ctx(), &ux, &uy)); /* odd offsets: no vector alignment */
        EXPECT_CLOSE("relu y at odd offsets", test_read(&uy), want, (size_t)n, FWD_TOL);
        REQUIRE_OK(hvp_relu_fwd(test_ctx(), &tx, &tx)); /* in place */
        EXPECT_CLOSE("relu y = x", test_read(&tx), want, (size_t)n, FWD_TOL);
    }
}

typedef struct {
    double *x, *w, *y;
    size_t n;
} relu_loss;

static double relu_loss_fn(void *u)
{
    relu_loss *l = u;
    ref_relu_fwd(l->x, l->y, l->n);
    return test_dot(l->w, l->y, l->n);
}

HVP_TEST(relu_bwd)
{
    int n = test_tiny() ? 9 : 300;
    float *x = test_floats((size_t)n), *dy = test_floats((size_t)n);
    /* Keep inputs away from the kink at 0, where finite differences are meaningless. */
    for (int i = 0; i < n; i++) {
        float m = test_uniform(0.1f, 1.0f);
        x[i] = i % 2 ? m : -m;
    }
    test_fill_uniform(dy, (size_t)n, -1, 1);
    hvp_tensor tx = test_tensor(1, &n, x), ty = test_tensor(1, &n, NULL),
               tdy = test_tensor(1, &n, dy), tdx = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_relu_fwd(test_ctx(), &tx, &ty));
    REQUIRE_OK(hvp_relu_bwd(test_ctx(), &ty, &tdy, &tdx));
    relu_loss l = {test_to_double(x, (size_t)n), test_to_double(dy, (size_t)n),
                   test_doubles((size_t)n), (size_t)n};
    double *want = test_doubles((size_t)n);
    test_fd_grad(l.x, (size_t)n, relu_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("relu dx", test_read(&tdx), want, (size_t)n, GRAD_TOL);
    hvp_tensor uy = test_tensor_at(1, 1, &n, test_read(&ty)), udy = test_tensor_at(2, 1, &n, dy),
               udx = test_tensor_at(3, 1, &n, NULL);
    REQUIRE_OK(hvp_relu_bwd(test_ctx(), &uy, &udy, &udx)); /* odd offsets */
    EXPECT_CLOSE("relu dx at odd offsets", test_read(&udx), want, (size_t)n, GRAD_TOL);
}
