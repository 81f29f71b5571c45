#include "harness.h"
#include "ref/ref.h"

static const int shapes[][2] = {{1, 1}, {3, 7}, {5, 33}, {4, 257}, {2, 1000}, {7, 4099}};

HVP_TEST(weight_norm_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 6); s++) {
        int rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
        float *v = test_floats((size_t)n), *g = test_floats((size_t)rows);
        test_fill_uniform(v, (size_t)n, -1, 1);
        test_fill_uniform(g, (size_t)rows, 0.5, 2);
        hvp_tensor tv = test_tensor(2, (int[]){rows, cols}, v);
        hvp_tensor tg = test_tensor(2, (int[]){rows, 1}, g);
        hvp_tensor tw = test_tensor(2, (int[]){rows, cols}, NULL);
        REQUIRE_OK(hvp_weight_norm_fwd(test_ctx(), &tv, &tg, &tw));
        double *want = test_doubles((size_t)n);
        ref_weight_norm_fwd(test_to_double(v, (size_t)n), test_to_double(g, (size_t)rows), want,
                            rows, cols);
        EXPECT_CLOSE("weight_norm w", test_read(&tw), want, (size_t)n, FWD_TOL);
    }
}

typedef struct {
    double *v, *g, *dw, *w;
    int rows, cols;
} wn_loss;

static double wn_loss_fn(void *u)
{
    wn_loss *l = u;
    ref_weight_norm_fwd(l->v, l->g, l->w, l->rows, l->cols);
    return test_dot(l->dw, l->w, (size_t)l->rows * l->cols);
}

/* dv and dg against central differences of sum(dw * w(v, g)); both accumulate onto what
 * the gradients held before (0.25 and -0.5 here). */
static void check_bwd(int rows, int cols, int with_dg)
{
    int n = rows * cols;
    float *v = test_floats((size_t)n), *g = test_floats((size_t)rows), *dw = test_floats((size_t)n);
    test_fill_uniform(v, (size_t)n, -1, 1);
    test_fill_uniform(g, (size_t)rows, 0.5, 2);
    test_fill_uniform(dw, (size_t)n, -1, 1);
    float *dv0 = test_floats((size_t)n), *dg0 = test_floats((size_t)rows);
    for (int i = 0; i < n; i++)
        dv0[i] = 0.25f;
    for (int i = 0; i < rows; i++)
        dg0[i] = -0.5f;
    hvp_tensor tv = test_tensor(2, (int[]){rows, cols}, v), tg = test_tensor(1, &rows, g);
    hvp_tensor tdw = test_tensor(2, (int[]){rows, cols}, dw);
    hvp_tensor tdv = test_tensor(2, (int[]){rows, cols}, dv0), tdg = test_tensor(1, &rows, dg0);
    REQUIRE_OK(hvp_weight_norm_bwd(test_ctx(), &tv, &tg, &tdw, &tdv, with_dg ? &tdg : NULL));
    wn_loss l = {test_to_double(v, (size_t)n), test_to_double(g, (size_t)rows),
                 test_to_double(dw, (size_t)n), test_doubles((size_t)n), rows, cols};
    double *want_v = test_doubles((size_t)n), *want_g = test_doubles((size_t)rows);
    test_fd_grad(l.v, (size_t)n, wn_loss_fn, &l, 1e-6, want_v);
    test_fd_grad(l.g, (size_t)rows, wn_loss_fn, &l, 1e-6, want_g);
    for (int i = 0; i < n; i++)
        want_v[i] += 0.25;
    for (int i = 0; i < rows; i++)
        want_g[i] = with_dg ? want_g[i] - 0.5 : -0.5;
    EXPECT_CLOSE("weight_norm dv", test_read(&tdv), want_v, (size_t)n, GRAD_TOL);
    EXPECT_CLOSE(with_dg ? "weight_norm dg" : "weight_norm dg untouched", test_read(&tdg), want_g,
                 (size_t)rows, GRAD_TOL);
}

HVP_TEST(weight_norm_bwd)
{
    check_bwd(3, 7, 1);
    check_bwd(2, 5, 0);
    if (!test_tiny()) {
        check_bwd(4, 65, 1);
        check_bwd(1, 300, 1);
    }
}
