/* The online linear probe (src/train/online_probe.c): its SGD steps against a double
 * reference on features a stand-in method passes through unchanged, and a whole run that
 * logs its accuracy per epoch (and refuses unlabelled data, naming the key). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/online_probe.h"
#include "hvp/ssl.h"
#include "test_data_util.h"
#include "test_train_util.h"

/* A method whose features are its input rows, flattened (the probe sees x itself). */
static hvp_status identity_features(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x,
                                    hvp_tensor *f)
{
    (void)m;
    (void)ctx;
    *f = *x;
    f->ndim = 2;
    f->shape[1] = (int)(hvp_numel(x) / (size_t)x->shape[0]);
    return HVP_OK;
}

/* steps of SGD (momentum 0.9, dampening 0) on the mean cross-entropy of W f + b, from 0. */
static void ref_probe(const double *x, const int *y, int steps, int n, int d, int c, double lr,
                      double *w, double *b)
{
    double *mw = calloc((size_t)c * (d + 1), sizeof *mw);
    double *gw = calloc((size_t)c * (d + 1), sizeof *gw), *gb = gw + (size_t)c * d;
    double z[8];
    memset(w, 0, (size_t)c * d * sizeof *w);
    memset(b, 0, (size_t)c * sizeof *b);
    for (int s = 0; s < steps; s++) {
        const double *xs = x + (size_t)s * n * d;
        const int *ys = y + (size_t)s * n;
        memset(gw, 0, (size_t)c * (d + 1) * sizeof *gw);
        for (int i = 0; i < n; i++) {
            double top = -1e300, sum = 0;
            for (int k = 0; k < c; k++) {
                z[k] = b[k];
                for (int j = 0; j < d; j++)
                    z[k] += w[(size_t)k * d + j] * xs[(size_t)i * d + j];
                top = fmax(top, z[k]);
            }
            for (int k = 0; k < c; k++)
                sum += exp(z[k] - top);
            for (int k = 0; k < c; k++) {
                double g = (exp(z[k] - top) / sum - (k == ys[i])) / n;
                gb[k] += g;
                for (int j = 0; j < d; j++)
                    gw[(size_t)k * d + j] += g * xs[(size_t)i * d + j];
            }
        }
        for (size_t k = 0; k < (size_t)c * (d + 1); k++) {
            mw[k] = s == 0 ? gw[k] : 0.9 * mw[k] + gw[k];
            double *v = k < (size_t)c * d ? &w[k] : &b[k - (size_t)c * d];
            *v -= lr * mw[k];
        }
    }
    free(mw);
    free(gw);
}

HVP_TEST(online_probe_steps_match_reference)
{
    hvp_ctx *ctx = test_ctx();
    int n = 12, d = 7, c = 3, steps = 4;
    hvp_config cfg;
    hvp_config_defaults(&cfg);
    cfg.eval.online_probe_lr = 2.0;
    hvp_method_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.features = identity_features;
    hvp_method m;
    memset(&m, 0, sizeof m);
    m.ops = &ops;
    m.feature_dim = d;
    hvp_online_probe *p = NULL;
    REQUIRE_OK(hvp_online_probe_create(ctx, &cfg, d, c, n, &p));
    float *x = test_floats((size_t)steps * n * d);
    int *y = test_alloc((size_t)steps * n * sizeof *y);
    test_fill_uniform(x, (size_t)steps * n * d, -1, 1);
    for (int i = 0; i < steps * n; i++) {
        y[i] = i % c;
        x[(size_t)i * d + y[i]] += 1.0f; /* a learnable signal */
    }
    for (int s = 0; s < steps; s++) {
        hvp_tensor xs = test_tensor(2, (int[]){n, d}, x + (size_t)s * n * d);
        REQUIRE_OK(hvp_online_probe_step(p, ctx, &m, &xs, y + (size_t)s * n));
    }
    double *w = test_doubles((size_t)c * d), *b = test_doubles((size_t)c);
    ref_probe(test_to_double(x, (size_t)steps * n * d), y, steps, n, d, c, 2.0 * n / 256.0, w,
              b);
    /* the weights, read as the logits of the unit vectors (W[:, j] + b) and of 0 (b) */
    float *probe_in = test_floats((size_t)(d + 1) * d);
    memset(probe_in, 0, (size_t)(d + 1) * d * sizeof *probe_in);
    for (int j = 0; j < d; j++)
        probe_in[(size_t)j * d + j] = 1.0f;
    double *want = test_doubles((size_t)(d + 1) * c);
    for (int j = 0; j <= d; j++)
        for (int k = 0; k < c; k++)
            want[(size_t)j * c + k] = b[k] + (j < d ? w[(size_t)k * d + j] : 0);
    hvp_tensor unit = test_tensor(2, (int[]){d + 1, d}, probe_in), logits;
    REQUIRE_OK(hvp_online_probe_logits(p, ctx, &unit, &logits));
    EXPECT_CLOSE("probe weights and bias after 4 SGD steps", test_read(&logits), want,
                 (size_t)(d + 1) * c, 1e-4);
    double most = 0;
    for (int k = 0; k < (d + 1) * c; k++)
        most = fmax(most, fabs(want[k]));
    EXPECT(most > 0.05, "the reference probe should have learnt something: max |logit| %g",
           most);
    /* a step with a label outside the classes is refused, naming it */
    hvp_tensor xs = test_tensor(2, (int[]){2, d}, x);
    int bad[2] = {0, 3};
    hvp_status st = hvp_online_probe_step(p, ctx, &m, &xs, bad);
    EXPECT(st == HVP_ERR_ARG && strstr(hvp_last_error(), "label 3 of image 1"),
           "a label outside [0, 3) should be named: %s", hvp_last_error());
    hvp_online_probe_destroy(p);
}

HVP_TEST(train_online_probe_logs_each_epoch)
{
    tr_files t;
    if (!tr_begin(&t, 8, 2, ""))
        return;
    int rc = tr_run(t.log, (const char *[]){t.cfg, t.over_dir, "eval.online_probe=true", NULL});
    const char *text = tr_log_text(t.log);
    EXPECT(rc == 0 && strstr(text, "epoch 1: online linear probe top-1") &&
               strstr(text, "epoch 2: online linear probe top-1"),
           "the run should report the probe each epoch (exit %d): %s", rc, text);
    char path[1200];
    snprintf(path, sizeof path, "%s/epochs.csv", t.run_dir);
    size_t size = 0;
    unsigned char *csv = test_read_file(path, &size);
    EXPECT(size > 0 && tr_contains(csv, size, "online_probe_top1,online_probe_top5"),
           "%s should have the probe's columns", path);
    EXPECT(tr_lines(path) == 3, "%s: %ld lines, want a header and 2 epochs", path,
           tr_lines(path));
    /* its numbers: the last row's two last columns, percentages of 16 test images */
    char *last = csv ? strrchr((char *)csv, '\n') : NULL;
    while (last && last > (char *)csv && last[-1] != '\n')
        last--;
    double top1 = -1, top5 = -1;
    const char *c1 = last ? strrchr(last, ',') : NULL;
    if (c1) {
        top5 = atof(c1 + 1);
        const char *c0 = c1 - 1;
        while (c0 > last && *c0 != ',')
            c0--;
        top1 = atof(c0 + 1);
    }
    EXPECT(top1 >= 0 && top1 <= 100 && fmod(top1 * 16 / 100.0 + 1e-6, 1.0) < 1e-4 &&
               top5 == 100.0,
           "online probe top-1 %g (a multiple of 1/16), top-5 %g (2 classes: 100)", top1, top5);
    /* unlabelled data: refused before training, naming the key */
    char flat[1100];
    snprintf(flat, sizeof flat, "data.root=%s/train/a", t.root); /* images without classes */
    rc = tr_run(t.log, (const char *[]){t.cfg, t.over_dir, "eval.online_probe=true", flat,
                                        "data.format=folder", "train.resume=none", NULL});
    text = tr_log_text(t.log);
    EXPECT(rc != 0 && strstr(text, "eval.online_probe") && strstr(text, "labelled"),
           "unlabelled data with the probe should be an error naming the key: %s", text);
    td_cleanup();
}
