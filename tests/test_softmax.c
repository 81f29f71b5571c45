#include <math.h>

#include "harness.h"
#include "ref/ref.h"

static void check_softmax_fwd(int m, int n, float scale, float range)
{
    size_t t = (size_t)m * n;
    float *x = test_floats(t);
    test_fill_uniform(x, t, -range, range);
    /* y at an odd offset: no vector alignment (x's rows are aligned when n is a multiple of
     * 16, and the in-place run below writes there) */
    hvp_tensor ty = test_tensor_at(3, 2, (int[]){m, n}, NULL);
    double *want = test_doubles(t);
    ref_softmax_fwd(test_to_double(x, t), scale, want, m, n);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        hvp_tensor tx = test_tensor(2, (int[]){m, n}, x);
        REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &ty));
        char what[96];
        snprintf(what, sizeof what, "softmax y m=%d n=%d scale=%g range=%g row_per_item %d", m,
                 n, scale, range, item);
        EXPECT_CLOSE(what, test_read(&ty), want, t, FWD_TOL);
        REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &tx));
        EXPECT_CLOSE("softmax in place", test_read(&tx), want, t, FWD_TOL);
    }
}

HVP_TEST(softmax_fwd)
{
    /* Rows of whole vectors and with tails; long rows get several work-items each, short
     * ones share work-groups, 300 rows more than one (see src/ops/softmax.c). */
    static const int shapes[][2] = {{1, 1},   {2, 37},  {3, 32},   {7, 5},    {1, 7},    {33, 197},
                                    {5, 1000}, {3, 257}, {300, 16}, {300, 37}, {1, 9000}};
    int ns = test_tiny() ? 3 : 11;
    for (int s = 0; s < ns; s++) {
        check_softmax_fwd(shapes[s][0], shapes[s][1], 1.0f, 3.0f);
        check_softmax_fwd(shapes[s][0], shapes[s][1], 0.125f, 3.0f);
    }
    /* Large logits: stable only when the row maximum is subtracted. */
    check_softmax_fwd(3, 17, 1.0f, 200.0f);
}

/* Each probability down to e^-87 (exp_nonpos in cl/common.cl and the items' rescaling)
 * within a few float roundings of its own size, not only of the row's largest: the error of
 * exp of a rounded argument, 2^-24 |x - max| relative, and 1e-6. -INFINITY gives 0, NaN a
 * NaN row. Rows of 64: four items of 16 in the work-group form, the first item's share in
 * row 1 only -INFINITY. */
HVP_TEST(softmax_fwd_small_probabilities)
{
    enum { M = 3, N = 64 };
    float x[M * N];
    for (int i = 0; i < M * N; i++)
        x[i] = -87.0f * (float)((i * 37) % (M * N)) / (M * N);
    for (int j = 0; j < 16; j++)
        x[N + j] = -INFINITY;
    x[2 * N + 40] = NAN;
    double want[M * N];
    ref_softmax_fwd(test_to_double(x, M * N), 1.0, want, 2, N);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        hvp_tensor tx = test_tensor(2, (int[]){M, N}, x), ty = test_tensor(2, (int[]){M, N}, NULL);
        REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, 1.0f, &ty));
        float *y = test_read(&ty);
        for (int i = 0; i < 2 * N; i++) {
            double max = -INFINITY;
            for (int j = i / N * N; j < i / N * N + N; j++)
                max = fmax(max, x[j]);
            double tol = 1e-6 + 3 * 0x1p-24 * (isinf(x[i]) ? 0 : max - x[i]);
            EXPECT(fabs(y[i] - want[i]) <= tol * want[i],
                   "row_per_item %d: y[%d] = %.9g, want %.9g", item, i, (double)y[i], want[i]);
        }
        for (int j = 0; j < N; j++)
            EXPECT(isnan(y[2 * N + j]), "row_per_item %d: NaN row: y[%d] = %g", item, j,
                   (double)y[2 * N + j]);
    }
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
    softmax_loss l = {test_to_double(x, t), test_to_double(dy, t), test_doubles(t), scale, m, n};
    double *want = test_doubles(t);
    test_fd_grad(l.x, t, softmax_loss_fn, &l, 1e-6, want);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        hvp_tensor tx = test_tensor(2, (int[]){m, n}, x), ty = test_tensor(2, (int[]){m, n}, NULL),
                   tdy = test_tensor(2, (int[]){m, n}, dy),
                   tdx = test_tensor_at(1, 2, (int[]){m, n}, NULL); /* odd offset */
        REQUIRE_OK(hvp_softmax_fwd(test_ctx(), &tx, scale, &ty));
        REQUIRE_OK(hvp_softmax_bwd(test_ctx(), &ty, &tdy, scale, &tdx));
        char what[96];
        snprintf(what, sizeof what, "softmax dx m=%d n=%d scale=%g row_per_item %d", m, n, scale,
                 item);
        EXPECT_CLOSE(what, test_read(&tdx), want, t, GRAD_TOL);
        REQUIRE_OK(hvp_softmax_bwd(test_ctx(), &ty, &tdy, scale, &tdy));
        EXPECT_CLOSE("softmax dx in place", test_read(&tdy), want, t, GRAD_TOL);
    }
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
    check_softmax_bwd(1, 4500, 0.5f); /* several vectors per item of 256 */
}
