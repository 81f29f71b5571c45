/* kNN's top-k per row (cl/knn.cl) against the reference: values and columns, ties in
 * column order, inputs at an odd offset. */
#include <string.h>

#include "harness.h"
#include "hvp/eval.h"
#include "ref/ref.h"

HVP_TEST(topk_rows)
{
    static const int shapes[][3] = {{1, 1, 1}, {3, 10, 10}, {5, 37, 7}, {33, 200, 20}};
    for (int s = 0; s < (test_tiny() ? 3 : 4); s++) {
        int rows = shapes[s][0], cols = shapes[s][1], k = shapes[s][2];
        float *x = test_floats((size_t)rows * cols);
        for (int i = 0; i < rows * cols; i++) /* few distinct values: ties are common */
            x[i] = (float)(int)test_uniform(-4, 4);
        hvp_tensor tx = test_tensor_at(3, 2, (int[]){rows, cols}, x);
        hvp_tensor tv = test_tensor_at(5, 2, (int[]){rows, k}, NULL), ti;
        REQUIRE_OK(hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 2, (int[]){rows, k}, "idx", &ti));
        REQUIRE_OK(hvp_topk_rows(test_ctx(), &tx, k, &tv, &ti));
        int *got = test_alloc((size_t)rows * k * sizeof *got);
        REQUIRE_OK(hvp_tensor_download(test_ctx(), &ti, got));
        float *vals = test_read(&tv);
        int *want = test_alloc((size_t)rows * k * sizeof *want);
        ref_topk_rows(test_to_double(x, (size_t)rows * cols), rows, cols, k, want);
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < k; i++) {
                size_t at = (size_t)r * k + (size_t)i;
                float wv = x[(size_t)r * cols + want[at]];
                EXPECT(got[at] == want[at] && memcmp(&vals[at], &wv, sizeof wv) == 0,
                       "%dx%d k=%d row %d place %d: column %d (%g), want %d (%g)", rows, cols, k,
                       r, i, got[at], (double)vals[at], want[at], (double)wv);
            }
    }
}
