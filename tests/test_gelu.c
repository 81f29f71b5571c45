#include "harness.h"
#include "ref/ref.h"

static const int sizes[] = {1, 7, 33, 257, 4099};

HVP_TEST(gelu_fwd)
{
    for (int s = 0; s < (test_tiny() ? 3 : 5); s++) { /* 33: vectors and a tail */
        int n = sizes[s];
        float *x = test_floats((size_t)n);
        test_fill_uniform(x, (size_t)n, -4, 4);
        hvp_tensor tx = test_tensor(1, &n, x), ty = test_tensor(1, &n, NULL);
        REQUIRE_OK(hvp_gelu_fwd(test_ctx(), &tx, &ty));
        double *want = test_doubles((size_t)n);
        ref_gelu_fwd(test_to_double(x, (size_t)n), want, (size_t)n);
        EXPECT_CLOSE("gelu y", test_read(&ty), want, (size_t)n, FWD_TOL);
        /* in place */
        REQUIRE_OK(hvp_gelu_fwd(test_ctx(), &tx, &tx));
        EXPECT_CLOSE("gelu y in place", test_read(&tx), want, (size_t)n, FWD_TOL);
        /* odd offsets: no vector alignment */
        hvp_tensor ux = test_tensor_at(3, 1, &n, x), uy = test_tensor_at(5, 1, &n, NULL);
        REQUIRE_OK(hvp_gelu_fwd(test_ctx(), &ux, &uy));
        EXPECT_CLOSE("gelu y at odd offsets", test_read(&uy), want, (size_t)n, FWD_TOL);
    }
}

typedef struct {
    double *x, *w, *y;
    size_t n;
} gelu_loss;

static double gelu_loss_fn(void *u)
{
    gelu_loss *l = u;
    ref_gelu_fwd(l->x, l->y, l->n);
    return test_dot(l->w, l->y, l->n);
}

HVP_TEST(gelu_bwd)
{
    int n = test_tiny() ? 37 : 333;
    float *x = test_floats((size_t)n), *dy = test_floats((size_t)n);
    test_fill_uniform(x, (size_t)n, -4, 4);
    test_fill_uniform(dy, (size_t)n, -1, 1);
    hvp_tensor tx = test_tensor(1, &n, x), tdy = test_tensor(1, &n, dy),
               tdx = test_tensor(1, &n, NULL);
    REQUIRE_OK(hvp_gelu_bwd(test_ctx(), &tx, &tdy, &tdx));
    gelu_loss l = {test_to_double(x, (size_t)n), test_to_double(dy, (size_t)n),
                   test_doubles((size_t)n), (size_t)n};
    double *want = test_doubles((size_t)n);
    test_fd_grad(l.x, (size_t)n, gelu_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("gelu dx", test_read(&tdx), want, (size_t)n, GRAD_TOL);
    /* in place: dx overwrites dy */
    REQUIRE_OK(hvp_gelu_bwd(test_ctx(), &tx, &tdy, &tdy));
    EXPECT_CLOSE("gelu dx in place", test_read(&tdy), want, (size_t)n, GRAD_TOL);
    /* odd offsets: no vector alignment */
    hvp_tensor ux = test_tensor_at(1, 1, &n, x), udy = test_tensor_at(2, 1, &n, dy),
               udx = test_tensor_at(7, 1, &n, NULL);
    REQUIRE_OK(hvp_gelu_bwd(test_ctx(), &ux, &udy, &udx));
    EXPECT_CLOSE("gelu dx at odd offsets", test_read(&udx), want, (size_t)n, GRAD_TOL);
}
