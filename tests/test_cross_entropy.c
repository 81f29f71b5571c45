#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

/* One item per row and several (ctx->row_per_item): widths under a vector, with tails, a
 * row longer than 256 items' vectors (items take several), more rows than one work-group. */
static const int shapes[][2] = {{1, 1},    {3, 7},    {5, 33},   {4, 257},
                                {2, 1000}, {6, 4099}, {1, 9000}, {300, 37}};

static hvp_tensor i32_tensor(int n, const int *host)
{
    hvp_tensor t;
    memset(&t, 0, sizeof t);
    if (hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &n, "test labels", &t) != HVP_OK ||
        hvp_tensor_upload(test_ctx(), &t, host) != HVP_OK)
        TEST_FAIL("labels tensor: %s", hvp_last_error());
    return t;
}

/* Soft targets: a random distribution per row (softmax of random numbers). */
static void fill_targets(float *t, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int j = 0; j < cols; j++)
            s += (t[r * cols + j] = expf(test_uniform(-2, 2)));
        for (int j = 0; j < cols; j++)
            t[r * cols + j] = (float)(t[r * cols + j] / s);
    }
}

static void check_fwd(int rows, int cols, int soft, float tau, float range)
{
    int n = rows * cols;
    float *z = test_floats((size_t)n), *t = test_floats((size_t)n);
    int *y = test_alloc((size_t)rows * sizeof *y);
    test_fill_uniform(z, (size_t)n, -range, range);
    fill_targets(t, rows, cols);
    for (int r = 0; r < rows; r++)
        y[r] = (r * 7 + 3) % cols;
    hvp_tensor tz = test_tensor(2, (int[]){rows, cols}, z), tt = test_tensor(2, (int[]){rows, cols}, t);
    hvp_tensor ty = i32_tensor(rows, y);
    hvp_tensor tl = test_tensor(1, &rows, NULL), tm = test_tensor(1, (int[]){1}, NULL);
    double *want = test_doubles((size_t)rows), mean = 0;
    ref_cross_entropy_fwd(test_to_double(z, (size_t)n), soft ? NULL : y,
                          soft ? test_to_double(t, (size_t)n) : NULL, rows, cols, tau, want);
    for (int r = 0; r < rows; r++)
        mean += want[r] / rows;
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        REQUIRE_OK(hvp_cross_entropy_fwd(test_ctx(), &tz, soft ? NULL : &ty, soft ? &tt : NULL,
                                         tau, &tl, &tm));
        char what[128];
        snprintf(what, sizeof what, "cross_entropy %s %dx%d tau %g row_per_item %d losses",
                 soft ? "soft" : "hard", rows, cols, (double)tau, item);
        EXPECT_CLOSE(what, test_read(&tl), want, (size_t)rows, FWD_TOL);
        EXPECT_CLOSE("cross_entropy mean", test_read(&tm), &mean, 1, FWD_TOL);
        /* The mean alone (losses to scratch). */
        hvp_tensor tm2 = test_tensor(1, (int[]){1}, NULL);
        REQUIRE_OK(hvp_cross_entropy_fwd(test_ctx(), &tz, soft ? NULL : &ty, soft ? &tt : NULL,
                                         tau, NULL, &tm2));
        EXPECT_CLOSE("cross_entropy mean alone", test_read(&tm2), &mean, 1, FWD_TOL);
    }
}

HVP_TEST(cross_entropy_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 8); s++)
        for (int soft = 0; soft < 2; soft++) {
            check_fwd(shapes[s][0], shapes[s][1], soft, 1.0f, 3.0f);
            if (!test_tiny())
                check_fwd(shapes[s][0], shapes[s][1], soft, 0.1f, 3.0f);
        }
    /* Logits / tau near +-1000: exp overflows without the max subtraction. */
    check_fwd(3, 7, 0, 0.05f, 50.0f);
    check_fwd(3, 7, 1, 0.05f, 50.0f);
}

HVP_TEST(cross_entropy_bad_label)
{
    int rows = 2, cols = 5, y[2] = {1, 5};
    float z[10];
    test_fill_uniform(z, 10, -1, 1);
    hvp_tensor tz = test_tensor(2, (int[]){rows, cols}, z), ty = i32_tensor(rows, y);
    hvp_tensor tl = test_tensor(1, &rows, NULL), tdz = test_tensor(2, (int[]){rows, cols}, NULL);
    REQUIRE_OK(hvp_cross_entropy_fwd(test_ctx(), &tz, &ty, NULL, 1.0f, &tl, NULL));
    REQUIRE_OK(hvp_cross_entropy_bwd(test_ctx(), &tz, &ty, NULL, 1.0f, 1.0f, &tdz));
    float *l = test_read(&tl), *dz = test_read(&tdz);
    EXPECT(isfinite(l[0]) && isnan(l[1]), "losses %g %g: want finite, NaN", (double)l[0],
           (double)l[1]);
    EXPECT(isfinite(dz[0]) && isnan(dz[5]), "dz %g %g: want finite, NaN", (double)dz[0],
           (double)dz[5]);
    EXPECT(hvp_cross_entropy_fwd(test_ctx(), &tz, &ty, &tz, 1.0f, &tl, NULL) == HVP_ERR_ARG,
           "labels and targets together must be refused");
}

/* A row with -INFINITY logits (the first item's whole share in the work-group form: rows of
 * 64, four items of 16; and every 16th, one vector lane throughout) has its finite loss and
 * gradient; a NaN logit gives its row NaN. */
HVP_TEST(cross_entropy_infinite_logits)
{
    enum { ROWS = 2, COLS = 64 };
    float z[ROWS * COLS];
    int y[ROWS] = {40, 3};
    test_fill_uniform(z, ROWS * COLS, -2, 2);
    for (int j = 0; j < COLS; j++)
        if (j < 16 || j % 16 == 0)
            z[j] = -INFINITY;
    z[COLS + 50] = NAN;
    double want;
    ref_cross_entropy_fwd(test_to_double(z, COLS), y, NULL, 1, COLS, 0.5, &want);
    hvp_tensor tz = test_tensor(2, (int[]){ROWS, COLS}, z), ty = i32_tensor(ROWS, y);
    hvp_tensor tl = test_tensor(1, (int[]){ROWS}, NULL);
    hvp_tensor tdz = test_tensor(2, (int[]){ROWS, COLS}, NULL);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        REQUIRE_OK(hvp_cross_entropy_fwd(test_ctx(), &tz, &ty, NULL, 0.5f, &tl, NULL));
        REQUIRE_OK(hvp_cross_entropy_bwd(test_ctx(), &tz, &ty, NULL, 0.5f, 1.0f, &tdz));
        float *l = test_read(&tl), *dz = test_read(&tdz);
        EXPECT(fabs(l[0] - want) <= 1e-5 * fabs(want) && isnan(l[1]),
               "row_per_item %d: losses %.9g, %g: want %.9g, NaN", item, (double)l[0],
               (double)l[1], want);
        EXPECT(dz[0] == 0.0f && isfinite(dz[20]) && isnan(dz[COLS]),
               "row_per_item %d: dz %g, %g, %g: want 0, finite, NaN", item, (double)dz[0],
               (double)dz[20], (double)dz[COLS]);
    }
}

typedef struct {
    double *z, *t, *loss;
    int *y;
    int rows, cols;
    double tau, scale;
} ce_loss;

static double ce_loss_fn(void *u)
{
    ce_loss *l = u;
    ref_cross_entropy_fwd(l->z, l->y, l->t, l->rows, l->cols, l->tau, l->loss);
    double m = 0;
    for (int r = 0; r < l->rows; r++)
        m += l->loss[r];
    return l->scale * m / l->rows;
}

static void check_bwd(int rows, int cols, int soft, float tau, float scale)
{
    int n = rows * cols;
    float *z = test_floats((size_t)n), *t = test_floats((size_t)n);
    int *y = test_alloc((size_t)rows * sizeof *y);
    test_fill_uniform(z, (size_t)n, -2, 2);
    fill_targets(t, rows, cols);
    if (soft && rows > 1) /* DINO sums a student row against several teachers: mass 2 */
        for (int j = 0; j < cols; j++)
            t[j] *= 2.0f;
    for (int r = 0; r < rows; r++)
        y[r] = (r * 5 + 1) % cols;
    hvp_tensor tz = test_tensor(2, (int[]){rows, cols}, z), tt = test_tensor(2, (int[]){rows, cols}, t);
    hvp_tensor ty = i32_tensor(rows, y), tdz = test_tensor(2, (int[]){rows, cols}, NULL);
    ce_loss l = {test_to_double(z, (size_t)n), soft ? test_to_double(t, (size_t)n) : NULL,
                 test_doubles((size_t)rows), soft ? NULL : y, rows, cols, tau, scale};
    double *want = test_doubles((size_t)n);
    test_fd_grad(l.z, (size_t)n, ce_loss_fn, &l, 1e-6, want);
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        REQUIRE_OK(hvp_cross_entropy_bwd(test_ctx(), &tz, soft ? NULL : &ty, soft ? &tt : NULL,
                                         tau, scale, &tdz));
        char what[128];
        snprintf(what, sizeof what, "cross_entropy %s dz %dx%d row_per_item %d",
                 soft ? "soft" : "hard", rows, cols, item);
        EXPECT_CLOSE(what, test_read(&tdz), want, (size_t)n, GRAD_TOL);
        /* dlogits may be the logits. */
        hvp_tensor tz2 = test_tensor(2, (int[]){rows, cols}, z);
        REQUIRE_OK(hvp_cross_entropy_bwd(test_ctx(), &tz2, soft ? NULL : &ty, soft ? &tt : NULL,
                                         tau, scale, &tz2));
        EXPECT_CLOSE("cross_entropy dz in place", test_read(&tz2), want, (size_t)n, GRAD_TOL);
    }
}

HVP_TEST(cross_entropy_bwd)
{
    for (int soft = 0; soft < 2; soft++) {
        check_bwd(3, 7, soft, 1.0f, 1.0f);
        check_bwd(2, 5, soft, 0.3f, 1.7f);
        if (!test_tiny()) {
            check_bwd(4, 130, soft, 0.1f, 0.5f);
            check_bwd(3, 600, soft, 0.5f, 1.0f);  /* several items per row, a vector's tail */
            check_bwd(300, 37, soft, 1.0f, 1.0f); /* more rows than one work-group takes */
            check_bwd(1, 4500, soft, 0.5f, 1.0f); /* several vectors per item of 256 */
        }
    }
}
