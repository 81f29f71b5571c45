#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

static int *read_i32(const hvp_tensor *t)
{
    int *h = test_alloc(hvp_numel(t) * sizeof *h);
    if (hvp_tensor_download(test_ctx(), t, h) != HVP_OK)
        TEST_FAIL("download: %s", hvp_last_error());
    return h;
}

static void check(int rows, int cols, const float *x)
{
    hvp_tensor tx = test_tensor(2, (int[]){rows, cols}, x), ti, tv = test_tensor(1, &rows, NULL);
    if (hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &rows, "argmax idx", &ti) != HVP_OK) {
        TEST_FAIL("alloc: %s", hvp_last_error());
        return;
    }
    REQUIRE_OK(hvp_argmax_fwd(test_ctx(), &tx, &ti, &tv));
    int *want = test_alloc((size_t)rows * sizeof *want), *got = read_i32(&ti);
    ref_argmax_fwd(test_to_double(x, (size_t)rows * cols), want, rows, cols);
    float *vals = test_read(&tv);
    for (int r = 0; r < rows; r++) {
        float wv = x[(size_t)r * cols + want[r]];
        EXPECT(got[r] == want[r], "%dx%d row %d: argmax %d, want %d", rows, cols, r, got[r],
               want[r]);
        EXPECT(memcmp(&vals[r], &wv, sizeof wv) == 0 || (isnan(vals[r]) && isnan(wv)),
               "row %d: value %g, want %g", r, (double)vals[r], (double)wv);
    }
    /* Without values. */
    REQUIRE_OK(hvp_argmax_fwd(test_ctx(), &tx, &ti, NULL));
    got = read_i32(&ti);
    for (int r = 0; r < rows; r++)
        EXPECT(got[r] == want[r], "no vals: row %d: %d, want %d", r, got[r], want[r]);
}

HVP_TEST(argmax_fwd)
{
    static const int shapes[][2] = {{1, 1}, {3, 6}, {7, 28}, {33, 45}, {257, 6}, {1000, 3}};
    for (int s = 0; s < (test_tiny() ? 3 : 6); s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        float *x = test_floats((size_t)rows * cols);
        /* Few distinct values, so ties are common. */
        for (int i = 0; i < rows * cols; i++)
            x[i] = (float)(int)test_uniform(0, 4);
        check(rows, cols, x);
    }
}

HVP_TEST(argmax_ties_and_nan)
{
    const float inf = INFINITY, nan = NAN;
    float x[] = {
        1, 1, 1, 1,       /* all tied: 0 */
        0, 2, 5, 5,       /* tie at the top: 2 */
        -inf, -inf, -3, -3, /* 2 */
        1, nan, 7, nan,   /* the first NaN: 1 */
        nan, 9, 9, 1,     /* 0 */
        -1, inf, 3, inf,  /* 1 */
    };
    int want[] = {0, 2, 2, 1, 0, 1};
    check(6, 4, x);
    int rows = 6;
    hvp_tensor tx = test_tensor(2, (int[]){6, 4}, x), ti;
    REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 1, &rows, "argmax idx", &ti));
    REQUIRE_OK(hvp_argmax_fwd(test_ctx(), &tx, &ti, NULL));
    int *got = read_i32(&ti);
    for (int r = 0; r < 6; r++)
        EXPECT(got[r] == want[r], "row %d: %d, want %d", r, got[r], want[r]);
}
