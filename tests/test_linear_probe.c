/* The linear probe against its double reference on Gaussian blobs: test logits, accuracy
 * and the last training loss. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "hvp/eval.h"
#include "ref/ref.h"

/* rows samples of d features around class centres 1.5 apart on the first axes. */
static void blobs(float *x, int *labels, int rows, int d, int c)
{
    for (int i = 0; i < rows; i++) {
        labels[i] = (int)test_uniform(0, (float)c) % c;
        for (int j = 0; j < d; j++) {
            float noise = test_uniform(-1, 1) + test_uniform(-1, 1);
            x[(size_t)i * d + j] = 3.0f + noise + (j % c == labels[i] ? 1.5f : 0.0f);
        }
    }
}

HVP_TEST(linear_probe_matches_reference)
{
    hvp_ctx *ctx = test_ctx();
    int tiny = test_tiny();
    int n = tiny ? 48 : 600, m = tiny ? 24 : 300, d = 6, c = 3;
    hvp_linear_probe_config pc = hvp_linear_probe_defaults();
    pc.epochs = tiny ? 2 : 5;
    pc.batch_size = tiny ? 16 : 64;
    pc.lr = 0.5f;
    pc.seed = 7;
    float *xtr = test_floats((size_t)n * d), *xte = test_floats((size_t)m * d);
    int *ytr = test_alloc((size_t)n * sizeof *ytr), *yte = test_alloc((size_t)m * sizeof *yte);
    blobs(xtr, ytr, n, d, c);
    blobs(xte, yte, m, d, c);
    hvp_tensor train = test_tensor(2, (int[]){n, d}, xtr), test = test_tensor(2, (int[]){m, d}, xte);
    hvp_linear_probe_result r;
    REQUIRE_OK(hvp_linear_probe(ctx, &train, ytr, &test, yte, c, &pc, &r));

    double *rtr = test_to_double(xtr, (size_t)n * d), *rte = test_to_double(xte, (size_t)m * d);
    double *want = test_doubles((size_t)m * c), want_loss = 0;
    ref_linear_probe(rtr, ytr, n, d, rte, m, c, pc.epochs, pc.batch_size, pc.lr, pc.seed, want,
                     &want_loss);
    /* The device's test features are standardised in place, as the reference's. */
    EXPECT_CLOSE("standardised test features", test_read(&test), rte, (size_t)m * d, FWD_TOL);
    long hits = 0;
    for (int i = 0; i < m; i++) {
        int best = 0;
        for (int k = 1; k < c; k++)
            best = want[(size_t)i * c + k] > want[(size_t)i * c + best] ? k : best;
        hits += best == yte[i];
    }
    double want_top1 = 100.0 * hits / m;
    EXPECT(fabs(r.top1 - want_top1) <= 100.0 / m + 1e-9, "top-1 %.2f%%, reference %.2f%%",
           r.top1, want_top1);
    EXPECT(r.count == m && r.top5 == 100.0, "count %ld, top-5 %.2f%% with 3 classes", r.count,
           r.top5);
    EXPECT(fabs(r.train_loss - want_loss) <= 1e-3 * fmax(1.0, fabs(want_loss)),
           "last training loss %g, reference %g", r.train_loss, want_loss);
    if (!tiny)
        EXPECT(want_top1 > 80.0, "the blobs should be separable: reference top-1 %.2f%%",
               want_top1);
}

HVP_TEST(linear_probe_rejects_bad_labels)
{
    hvp_ctx *ctx = test_ctx();
    float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    int labels[4] = {0, 1, 2, 1};
    hvp_tensor train = test_tensor(2, (int[]){4, 2}, x), test = test_tensor(2, (int[]){4, 2}, x);
    hvp_linear_probe_config pc = hvp_linear_probe_defaults();
    hvp_linear_probe_result r;
    hvp_status s = hvp_linear_probe(ctx, &train, labels, &test, labels, 2, &pc, &r);
    EXPECT(s == HVP_ERR_ARG && strstr(hvp_last_error(), "label 2 of sample 2"),
           "a label outside [0, 2) should be named: %s", hvp_last_error());
}
