#include "harness.h"
#include "ref/ref.h"

static void check_softmax_fwd(int m, int n, float scale, float range)
{
    size_t t = (size_t)m * n;
    float *x = test_floats(t);
    test_fill_uniform(x, t, -range, range);
    /* y at an odd offset: no vector alignment (x's rows are aligned when n is a multiple of
     * 16, and the in-place run below writes there) */
    hvp_tensor tx = test_tensor(2, (int[]){m, n}, x),
               ty = test_tensor_at(3, 2, (int[]){m, n}, NULL);
    REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &ty));
    double *want = test_doubles(t);
    ref_softmax_fwd(test_to_double(x, t), scale, want, m, n);
    char what[80];
    snprintf(what, sizeof what, "softmax y m=%d n=%d scale=%g range=%g", m, n, scale, range);
    EXPECT_CLOSE(what, test_read(&ty), want, t, FWD_TOL);
    REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &tx));
    EXPECT_CLOSE("softmax in place", test_read(&tx), want, t, FWD_TOL);
}

HVP_TEST(softmax_fwd)
{
    /* Rows of whole vectors and with tails; long rows get several work-items each, short
     * ones share work-groups, 300 rows more than one (see src/ops/softmax.c). */
    static const int shapes[][2] = {{1, 1},     {2, 37},  {3, 32}, {7, 5},     {1, 7},
                                    {33, 197}, {5, 1000}, {3, 257}, {300, 16}, {300, 37}};
    int ns = test_tiny() ? 3 : 10;
    for (int s = 0; s < ns; s++) {
        check_softmax_fwd(shapes[s][0], shapes[s][1], 1.0f, 3.0f);
        check_softmax_fwd(shapes[s][0], shapes[s][1], 0.125f, 3.0f);
    }
    /* Large logits: stable only when the row maximum is subtracted. */
    check_softmax_fwd(3, 17, 1.0f, 200.0f);
}

typedef struct {
    double *x, *dy, *y, scale;
    int m, n;
} softmax_loss;

static double softmax_loss_fn(void *u)
{
    softmax_loss *l = u;
    ref_softmax_fwd(l->x, l->scale, l->y, l->m, l->n);
    return test_dot(l->dy, l->y, (size_t)l->m * l->n);
}

static void check_softmax_bwd(int m, int n, float scale)
{
    size_t t = (size_t)m * n;
    float *x = test_floats(t), *dy = test_floats(t);
    test_fill_uniform(x, t, -2, 2);
    test_fill_uniform(dy, t, -1, 1);
    hvp_tensor tx = test_tensor(2, (int[]){m, n}, x), ty = test_tensor(2, (int[]){m, n}, NULL),
               tdy = test_tensor(2, (int[]){m, n}, dy),
               tdx = test_tensor_at(1, 2, (int[]){m, n}, NULL); /* odd offset */
    REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &ty));
    REQUIRE_OK(hvp_softmax_bwd(test_ctx(), &ty, &tdy, scale, &tdx));
    softmax_loss l = {test_to_double(x, t), test_to_double(dy, t), test_doubles(t), scale, m, n};
    double *want = test_doubles(t);
    test_fd_grad(l.x, t, softmax_loss_fn, &l, 1e-6, want);
    char what[80];
    snprintf(what, sizeof what, "softmax dx m=%d n=%d scale=%g", m, n, scale);
    EXPECT_CLOSE(what, test_read(&tdx), want, t, GRAD_TOL);
    REQUIRE_OK(hvp_softmax_bwd(test_ctx(), &ty, &tdy, scale, &tdy));
    EXPECT_CLOSE("softmax dx in place", test_read(&tdy), want, t, GRAD_TOL);
}

HVP_TEST(softmax_bwd)
{
    if (test_tiny()) {
        check_softmax_bwd(2, 3, 0.5f);
        check_softmax_bwd(2, 37, 0.5f);
        check_softmax_bwd(2, 32, 0.5f);
        return;
    }
    check_softmax_bwd(3, 7, 1.0f);
    check_softmax_bwd(5, 17, 0.5f);
    check_softmax_bwd(2, 300, 0.125f);
    check_softmax_bwd(300, 16, 0.5f); /* several work-groups of rows */
}
