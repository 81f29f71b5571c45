#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

static const int sizes[] = {1, 7, 257, 1000, 4097, 100003, 1 << 20};

static void check(int n, hvp_reduce_op op)
{
    float *x = test_floats((size_t)n);
    /* Sums of positive numbers are well conditioned; squares are positive anyway. */
    if (op == HVP_REDUCE_SUM || op == HVP_REDUCE_MEAN)
        test_fill_uniform(x, (size_t)n, 0.5f, 1.5f);
    else
        test_fill_uniform(x, (size_t)n, -1, 1);
    hvp_tensor tx = test_tensor(1, &n, x);
    /* The result lands in element 2 of a 4-element array (a view), the rest untouched. */
    hvp_tensor arr = test_tensor(1, (int[]){4}, (float[]){-1, -1, -1, -1});
    hvp_tensor out = hvp_tensor_view(&arr, 2, 1, (int[]){1});
    REQUIRE_OK(hvp_reduce(test_ctx(), op, &tx, &out));
    double *xd = test_to_double(x, (size_t)n), want;
    switch (op) {
    case HVP_REDUCE_SUM: want = ref_sum(xd, (size_t)n); break;
    case HVP_REDUCE_MEAN: want = ref_sum(xd, (size_t)n) / n; break;
    case HVP_REDUCE_SUMSQ: want = ref_sumsq(xd, (size_t)n); break;
    default: want = sqrt(ref_sumsq(xd, (size_t)n)); break;
    }
    float *got = test_read(&arr);
    char what[64];
    snprintf(what, sizeof what, "reduce op %d n %d", (int)op, n);
    EXPECT_CLOSE(what, got + 2, &want, 1, FWD_TOL);
    EXPECT(got[0] == -1 && got[1] == -1 && got[3] == -1, "%s: wrote outside its element", what);
    /* Bitwise identical on a second run. */
    hvp_tensor out2 = test_tensor(1, (int[]){1}, NULL);
    REQUIRE_OK(hvp_reduce(test_ctx(), op, &tx, &out2));
    float *again = test_read(&out2);
    EXPECT(memcmp(again, got + 2, sizeof(float)) == 0, "%s: %.9g then %.9g", what,
           (double)got[2], (double)again[0]);
}

HVP_TEST(reduce_fwd)
{
    for (int s = 0; s < (test_tiny() ? 3 : 7); s++)
        for (int op = HVP_REDUCE_SUM; op <= HVP_REDUCE_NORM2; op++)
            check(sizes[s], (hvp_reduce_op)op);
}

/* As torch: an empty sum is 0 and an empty mean NaN. */
HVP_TEST(reduce_empty)
{
    hvp_tensor x, out = test_tensor(1, (int[]){1}, (float[]){5});
    REQUIRE_OK(hvp_alloc_f32(test_ctx()->acts, "empty", &x, 1, (int[]){0}));
    REQUIRE_OK(hvp_sum(test_ctx(), &x, &out));
    float *got = test_read(&out);
    EXPECT(got[0] == 0.0f, "empty sum %g", (double)got[0]);
    REQUIRE_OK(hvp_mean(test_ctx(), &x, &out));
    got = test_read(&out);
    EXPECT(isnan(got[0]), "empty mean %g", (double)got[0]);
}
