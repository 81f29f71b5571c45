#include "harness.h"
#include "ref/ref.h"

static const int sizes[] = {1, 7, 33, 257, 4099};

HVP_TEST(add_fwd)
{
    for (int s = 0; s < (test_tiny() ? 3 : 5); s++) { /* 33: vectors and a tail */
        int n = sizes[s];
        float *a = test_floats((size_t)n), *b = test_floats((size_t)n);
        test_fill_uniform(a, (size_t)n, -1, 1);
        test_fill_uniform(b, (size_t)n, -1, 1);
        hvp_tensor ta = test_tensor(1, &n, a), tb = test_tensor(1, &n, b),
                   ty = test_tensor(1, &n, NULL);
        double *want = test_doubles((size_t)n);
        ref_add_fwd(test_to_double(a, (size_t)n), test_to_double(b, (size_t)n), want, (size_t)n);
        REQUIRE_OK(hvp_add_fwd(test_ctx(), &ta, &tb, &ty));
        EXPECT_CLOSE("add y", test_read(&ty), want, (size_t)n, FWD_TOL);
        REQUIRE_OK(hvp_add_fwd(test_ctx(), &ta, &tb, &ta)); /* y aliases a */
        EXPECT_CLOSE("add y = a", test_read(&ta), want, (size_t)n, FWD_TOL);
        REQUIRE_OK(hvp_add_acc(test_ctx(), &tb, &ty)); /* b += (a + b) */
        for (int i = 0; i < n; i++)
            want[i] += b[i];
        EXPECT_CLOSE("add_acc", test_read(&tb), want, (size_t)n, FWD_TOL);
        /* odd offsets: no vector alignment */
        hvp_tensor ua = test_tensor_at(1, 1, &n, a), ub = test_tensor_at(2, 1, &n, b),
                   uy = test_tensor_at(3, 1, &n, NULL);
        ref_add_fwd(test_to_double(a, (size_t)n), test_to_double(b, (size_t)n), want, (size_t)n);
        REQUIRE_OK(hvp_add_fwd(test_ctx(), &ua, &ub, &uy));
        EXPECT_CLOSE("add y at odd offsets", test_read(&uy), want, (size_t)n, FWD_TOL);
        REQUIRE_OK(hvp_add_acc(test_ctx(), &uy, &ua));
        for (int i = 0; i < n; i++)
            want[i] += a[i];
        EXPECT_CLOSE("add_acc at odd offsets", test_read(&uy), want, (size_t)n, FWD_TOL);
    }
}

/* y = max(a + b, 0) against the reference add and ReLU, at aligned and odd offsets and in
 * place. */
HVP_TEST(add_relu_fwd)
{
    for (int s = 0; s < (test_tiny() ? 3 : 5); s++) {
        int n = sizes[s];
        float *a = test_floats((size_t)n), *b = test_floats((size_t)n);
        test_fill_uniform(a, (size_t)n, -1, 1);
        test_fill_uniform(b, (size_t)n, -1, 1);
        double *sum = test_doubles((size_t)n), *want = test_doubles((size_t)n);
        ref_add_fwd(test_to_double(a, (size_t)n), test_to_double(b, (size_t)n), sum, (size_t)n);
        ref_relu_fwd(sum, want, (size_t)n);
        hvp_tensor ta = test_tensor(1, &n, a), tb = test_tensor(1, &n, b),
                   ty = test_tensor(1, &n, NULL);
        REQUIRE_OK(hvp_add_relu_fwd(test_ctx(), &ta, &tb, &ty));
        EXPECT_CLOSE("add_relu y", test_read(&ty), want, (size_t)n, FWD_TOL);
        hvp_tensor ua = test_tensor_at(1, 1, &n, a), ub = test_tensor_at(2, 1, &n, b),
                   uy = test_tensor_at(3, 1, &n, NULL);
        REQUIRE_OK(hvp_add_relu_fwd(test_ctx(), &ua, &ub, &uy));
        EXPECT_CLOSE("add_relu y at odd offsets", test_read(&uy), want, (size_t)n, FWD_TOL);
        REQUIRE_OK(hvp_add_relu_fwd(test_ctx(), &ta, &tb, &tb)); /* y aliases b */
        EXPECT_CLOSE("add_relu y = b", test_read(&tb), want, (size_t)n, FWD_TOL);
    }
}

typedef struct {
    double *a, *b, *dy, *y;
    size_t n;
    int shared; /* a and b are the same tensor (a residual: y = x + x) */
} add_loss;

static double add_loss_fn(void *u)
{
    add_loss *l = u;
    ref_add_fwd(l->a, l->shared ? l->a : l->b, l->y, l->n);
    return test_dot(l->dy, l->y, l->n);
}

/* The documented backward (da = dy, db = dy; a tensor on both paths sums them with
 * hvp_add_acc) against finite differences of the reference. */
HVP_TEST(add_bwd_identity)
{
    int n = test_tiny() ? 9 : 257;
    size_t un = (size_t)n;
    float *a = test_floats(un), *b = test_floats(un), *dy = test_floats(un);
    test_fill_uniform(a, un, -1, 1);
    test_fill_uniform(b, un, -1, 1);
    test_fill_uniform(dy, un, -1, 1);
    add_loss l = {test_to_double(a, un), test_to_double(b, un), test_to_double(dy, un),
                  test_doubles(un), un, 0};
    double *ga = test_doubles(un), *gb = test_doubles(un);
    test_fd_grad(l.a, un, add_loss_fn, &l, 1e-6, ga);
    test_fd_grad(l.b, un, add_loss_fn, &l, 1e-6, gb);
    EXPECT_CLOSE("add da = dy", dy, ga, un, GRAD_TOL);
    EXPECT_CLOSE("add db = dy", dy, gb, un, GRAD_TOL);
    /* y = x + x: the gradient reaching x is dy from each path, summed by hvp_add_acc. */
    l.shared = 1;
    test_fd_grad(l.a, un, add_loss_fn, &l, 1e-6, ga);
    hvp_tensor tdy = test_tensor(1, &n, dy), tdx = test_tensor(1, &n, dy);
    REQUIRE_OK(hvp_add_acc(test_ctx(), &tdx, &tdy));
    EXPECT_CLOSE("residual dx = dy + dy", test_read(&tdx), ga, un, GRAD_TOL);
}

HVP_TEST(add_axpby)
{
    int sizes[] = {1, 7, 33, 1000};
    for (int s = 0; s < (test_tiny() ? 3 : 4); s++) {
        int n = sizes[s];
        float *a = test_floats((size_t)n), *b = test_floats((size_t)n);
        test_fill_uniform(a, (size_t)n, -1, 1);
        test_fill_uniform(b, (size_t)n, -1, 1);
        hvp_tensor ta = test_tensor_at(0, 1, &n, a), tb = test_tensor_at(s, 1, &n, b),
                   ty = test_tensor_at(2 * s, 1, &n, NULL); /* odd offsets for some */
        REQUIRE_OK(hvp_axpby(test_ctx(), -0.5f, &ta, 2.0f, &tb, &ty));
        double *want = test_doubles((size_t)n);
        for (int i = 0; i < n; i++)
            want[i] = -0.5 * a[i] + 2.0 * b[i];
        EXPECT_CLOSE("axpby", test_read(&ty), want, (size_t)n, FWD_TOL);
    }
}

HVP_TEST(add_diagonal)
{
    int shapes[][2] = {{1, 1}, {5, 3}, {3, 7}, {64, 64}};
    for (int s = 0; s < 4; s++) {
        int r = shapes[s][0], c = shapes[s][1], n = r * c;
        float *x = test_floats((size_t)n);
        test_fill_uniform(x, (size_t)n, -1, 1);
        hvp_tensor t = test_tensor(2, shapes[s], x);
        REQUIRE_OK(hvp_add_diagonal(test_ctx(), &t, -3.0f));
        double *want = test_to_double(x, (size_t)n);
        for (int i = 0; i < r && i < c; i++)
            want[(size_t)i * c + i] -= 3.0;
        EXPECT_CLOSE("add_diagonal", test_read(&t), want, (size_t)n, FWD_TOL);
    }
}
