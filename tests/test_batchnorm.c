#include <math.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

/* n, c, hw: 1-d (hw = 1) and 2-d, sizes that divide no work-group size. */
static const int shapes[][3] = {{2, 1, 1}, {1, 3, 7}, {33, 5, 1}, {4, 7, 13}, {8, 13, 49},
                                {3, 2, 257}, {2, 33, 1}};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

typedef struct {
    hvp_batchnorm_desc d;
    size_t total;
    float *x, *g, *b, *rm, *rv;
    hvp_tensor tx, tg, tb, trm, trv, ty, tmean, tinv;
} bn_case;

static void make_case(bn_case *t, int n, int c, int hw, int relu, float x_scale, float x_shift)
{
    t->d = HVP_BATCHNORM_DESC(n, c, hw);
    t->d.relu = relu;
    t->total = (size_t)n * c * hw;
    int total = (int)t->total;
    t->x = test_floats(t->total);
    for (size_t i = 0; i < t->total; i++)
        t->x[i] = x_shift + x_scale * test_uniform(-1, 1);
    t->g = test_floats((size_t)c);
    t->b = test_floats((size_t)c);
    t->rm = test_floats((size_t)c);
    t->rv = test_floats((size_t)c);
    test_fill_uniform(t->g, (size_t)c, 0.5f, 1.5f);
    test_fill_uniform(t->b, (size_t)c, -1, 1);
    test_fill_uniform(t->rm, (size_t)c, -1, 1);
    test_fill_uniform(t->rv, (size_t)c, 0.5f, 2);
    t->tx = test_tensor(1, &total, t->x);
    t->tg = test_tensor(1, &c, t->g);
    t->tb = test_tensor(1, &c, t->b);
    t->trm = test_tensor(1, &c, t->rm);
    t->trv = test_tensor(1, &c, t->rv);
    t->ty = test_tensor(1, &total, NULL);
    t->tmean = test_tensor(1, &c, NULL);
    t->tinv = test_tensor(1, &c, NULL);
}

/* Train forward: y (through the ReLU when fused), saved statistics, and the
 * running-statistics update. */
static void check_train(int n, int c, int hw, int affine, int relu, float x_scale,
                        float x_shift)
{
    bn_case t;
    make_case(&t, n, c, hw, relu, x_scale, x_shift);
    REQUIRE_OK(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, affine ? &t.tg : NULL,
                                       affine ? &t.tb : NULL, &t.trm, &t.trv, &t.ty, &t.tmean,
                                       &t.tinv));
    double *y = test_doubles(t.total), *mean = test_doubles((size_t)c),
           *var = test_doubles((size_t)c), *inv = test_doubles((size_t)c),
           *rm = test_doubles((size_t)c), *rv = test_doubles((size_t)c);
    ref_batchnorm_fwd_train(test_to_double(t.x, t.total),
                            affine ? test_to_double(t.g, (size_t)c) : NULL,
                            affine ? test_to_double(t.b, (size_t)c) : NULL, y, mean, var, n, c,
                            hw, 1e-5);
    if (relu)
        ref_relu_fwd(y, y, t.total);
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        inv[ch] = 1.0 / sqrt(var[ch] + 1e-5);
        rm[ch] = 0.9 * t.rm[ch] + 0.1 * mean[ch];
        rv[ch] = 0.9 * t.rv[ch] + 0.1 * var[ch] * m / (m - 1);
    }
    char what[96];
    snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d affine=%d relu=%d: y", n, c, hw,
             affine, relu);
    EXPECT_CLOSE(what, test_read(&t.ty), y, t.total, FWD_TOL);
    snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d: mean", n, c, hw);
    EXPECT_CLOSE(what, test_read(&t.tmean), mean, (size_t)c, FWD_TOL);
    snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d: invstd", n, c, hw);
    EXPECT_CLOSE(what, test_read(&t.tinv), inv, (size_t)c, FWD_TOL);
    snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d: running_mean", n, c, hw);
    EXPECT_CLOSE(what, test_read(&t.trm), rm, (size_t)c, FWD_TOL);
    snprintf(what, sizeof what, "bn train n=%d c=%d hw=%d: running_var", n, c, hw);
    EXPECT_CLOSE(what, test_read(&t.trv), rv, (size_t)c, FWD_TOL);
}

static void check_train_shapes(int relu)
{
    int ns = test_tiny() ? 2 : NSHAPES;
    for (int s = 0; s < ns; s++) {
        check_train(shapes[s][0], shapes[s][1], shapes[s][2], s % 2, relu, 1.0f, 0.0f);
        if (!test_tiny())
            check_train(shapes[s][0], shapes[s][1], shapes[s][2], !(s % 2), relu, 2.0f, 0.5f);
    }
}

HVP_TEST(batchnorm_fwd_train) { check_train_shapes(0); }

/* Many values per channel (several chunks of the two-level reductions; the tiny shape has
 * two), with a mean far from zero: the one-pass statistics must stay accurate. */
HVP_TEST(batchnorm_fwd_train_large)
{
    if (test_tiny()) {
        check_train(2, 2, 8200, 1, 0, 1.0f, 10.0f);
        return;
    }
    check_train(8, 3, 112 * 112, 1, 0, 1.0f, 10.0f);
    /* mean / std ~ 1700: a plain sum of squares would lose every digit */
    check_train(8, 3, 112 * 112, 1, 0, 1.0f, 1000.0f);
    check_train(3, 2, 2801, 0, 0, 1.0f, -10.0f); /* hw % 4 != 0: scalar units, 3 chunks */
}

/* The fused ReLU: y = max(bn(x), 0), which cuts about half of the values. */
HVP_TEST(batchnorm_relu_fwd_train)
{
    check_train_shapes(1);
    check_train(2, 2, 8200, 1, 1, 1.0f, 0.3f);
    if (!test_tiny())
        check_train(3, 2, 2801, 0, 1, 1.0f, 0.3f);
}

HVP_TEST(batchnorm_no_running_update)
{
    bn_case t;
    make_case(&t, 3, 4, 5, 0, 1.0f, 0.0f);
    REQUIRE_OK(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, &t.tg, &t.tb, NULL, NULL, &t.ty,
                                       &t.tmean, &t.tinv));
    double *rm = test_to_double(t.rm, 4), *rv = test_to_double(t.rv, 4);
    EXPECT_CLOSE("running_mean untouched", test_read(&t.trm), rm, 4, 0.0);
    EXPECT_CLOSE("running_var untouched", test_read(&t.trv), rv, 4, 0.0);
}

static void check_eval_shapes(int relu)
{
    int ns = test_tiny() ? 1 : NSHAPES;
    for (int s = 0; s < ns; s++) {
        int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2];
        for (int affine = 0; affine < 2; affine++) {
            bn_case t;
            make_case(&t, n, c, hw, relu, 1.0f, 0.0f);
            REQUIRE_OK(hvp_batchnorm_fwd_eval(test_ctx(), &t.d, &t.tx, affine ? &t.tg : NULL,
                                              affine ? &t.tb : NULL, &t.trm, &t.trv, &t.ty));
            double *y = test_doubles(t.total);
            ref_batchnorm_fwd_eval(test_to_double(t.x, t.total),
                                   affine ? test_to_double(t.g, (size_t)c) : NULL,
                                   affine ? test_to_double(t.b, (size_t)c) : NULL,
                                   test_to_double(t.rm, (size_t)c),
                                   test_to_double(t.rv, (size_t)c), y, n, c, hw, 1e-5);
            if (relu)
                ref_relu_fwd(y, y, t.total);
            char what[96];
            snprintf(what, sizeof what, "bn eval n=%d c=%d hw=%d affine=%d relu=%d", n, c, hw,
                     affine, relu);
            EXPECT_CLOSE(what, test_read(&t.ty), y, t.total, FWD_TOL);
        }
    }
}

HVP_TEST(batchnorm_fwd_eval) { check_eval_shapes(0); }
HVP_TEST(batchnorm_relu_fwd_eval) { check_eval_shapes(1); }

typedef struct {
    int n, c, hw, relu;
    double *x, *g, *b, *dy, *y;
} bn_loss;

static double bn_loss_fn(void *u)
{
    bn_loss *l = u;
    size_t total = (size_t)l->n * l->c * l->hw;
    ref_batchnorm_fwd_train(l->x, l->g, l->b, l->y, NULL, NULL, l->n, l->c, l->hw, 1e-5);
    if (l->relu)
        ref_relu_fwd(l->y, l->y, total);
    return test_dot(l->dy, l->y, total);
}

/* Central differences at up to ~200 evenly spread indices of v[0..n) (all of a small v, and
 * always the last), each against got[index]: large shapes stay cheap to check. */
static void expect_fd(const char *what, double *v, size_t n, bn_loss *l, const float *got)
{
    size_t step = n > 200 ? n / 200 : 1, k = 0;
    float *got_at = test_floats(n / step + 2);
    double *want = test_doubles(n / step + 2);
    for (size_t i = 0;; i += step) {
        if (i > n - 1)
            i = n - 1;
        test_fd_grad(v + i, 1, bn_loss_fn, l, 1e-6, want + k);
        got_at[k++] = got[i];
        if (i == n - 1)
            break;
    }
    EXPECT_CLOSE(what, got_at, want, k, GRAD_TOL);
}

static void check_bwd(int n, int c, int hw, int affine, int in_place, int relu)
{
    bn_case t;
    make_case(&t, n, c, hw, relu, 1.0f, 0.3f);
    int total = (int)t.total;
    float *dy = test_floats(t.total), *dg0 = test_floats((size_t)c), *db0 = test_floats((size_t)c);
    test_fill_uniform(dy, t.total, -1, 1);
    test_fill_uniform(dg0, (size_t)c, -1, 1);
    test_fill_uniform(db0, (size_t)c, -1, 1);
    hvp_tensor tdy = test_tensor(1, &total, dy), tdx = test_tensor(1, &total, NULL),
               tdg = test_tensor(1, &c, dg0), tdb = test_tensor(1, &c, db0);
    const hvp_tensor *g = affine ? &t.tg : NULL, *b = affine ? &t.tb : NULL;
    REQUIRE_OK(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, g, b, NULL, NULL, &t.ty,
                                       &t.tmean, &t.tinv));
    const hvp_tensor *dx = in_place ? &tdy : &tdx;
    REQUIRE_OK(hvp_batchnorm_bwd(test_ctx(), &t.d, &t.tx, g, b, &t.tmean, &t.tinv, &tdy, dx,
                                 affine ? &tdg : NULL, affine ? &tdb : NULL));
    bn_loss l = {n,
                 c,
                 hw,
                 relu,
                 test_to_double(t.x, t.total),
                 affine ? test_to_double(t.g, (size_t)c) : NULL,
                 affine ? test_to_double(t.b, (size_t)c) : NULL,
                 test_to_double(dy, t.total),
                 test_doubles(t.total)};
    char what[112];
    snprintf(what, sizeof what, "bn dx n=%d c=%d hw=%d affine=%d in_place=%d relu=%d", n, c, hw,
             affine, in_place, relu);
    expect_fd(what, l.x, t.total, &l, test_read(dx));
    if (!affine)
        return;
    float *dg = test_read(&tdg), *db = test_read(&tdb);
    for (int i = 0; i < c; i++) { /* the accumulated part: dgamma += ..., dbeta += ... */
        dg[i] -= dg0[i];
        db[i] -= db0[i];
    }
    snprintf(what, sizeof what, "bn dgamma += n=%d c=%d hw=%d relu=%d", n, c, hw, relu);
    expect_fd(what, l.g, (size_t)c, &l, dg);
    snprintf(what, sizeof what, "bn dbeta += n=%d c=%d hw=%d relu=%d", n, c, hw, relu);
    expect_fd(what, l.b, (size_t)c, &l, db);
}

/* Shapes that divide no work-group size; the last two have several chunks per channel (with
 * float4 units, and scalar ones as hw % 4 != 0). */
static void check_bwd_shapes(int relu)
{
    check_bwd(2, 2, 3, 1, 0, relu);
    check_bwd(3, 2, 1, 0, 0, relu);
    if (test_tiny()) {
        check_bwd(2, 2, 8200, 1, 0, relu);
        return;
    }
    check_bwd(4, 3, 7, 1, 0, relu);
    check_bwd(4, 3, 7, 0, 1, relu);
    check_bwd(17, 5, 1, 1, 1, relu); /* 1-d */
    check_bwd(2, 7, 33, 1, 0, relu);
    check_bwd(5, 3, 12, 1, 1, relu);
    check_bwd(2, 3, 8200, 1, 1, relu);
    check_bwd(3, 2, 2801, 1, 0, relu);
}

HVP_TEST(batchnorm_bwd) { check_bwd_shapes(0); }

/* The fused ReLU's backward: the gradient of max(bn(x), 0). */
HVP_TEST(batchnorm_relu_bwd) { check_bwd_shapes(1); }

HVP_TEST(batchnorm_rejects_bad_args)
{
    bn_case t;
    make_case(&t, 1, 2, 1, 0, 1.0f, 0.0f); /* one value per channel */
    EXPECT(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, NULL, NULL, NULL, NULL, &t.ty,
                                   &t.tmean, &t.tinv) == HVP_ERR_ARG,
           "one value per channel in train mode");
    make_case(&t, 2, 2, 1, 0, 1.0f, 0.0f);
    EXPECT(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, &t.tg, NULL, NULL, NULL, &t.ty,
                                   &t.tmean, &t.tinv) == HVP_ERR_ARG,
           "gamma without beta");
    EXPECT(hvp_batchnorm_bwd(test_ctx(), &t.d, &t.tx, &t.tg, NULL, &t.tmean, &t.tinv, &t.ty,
                             &t.ty, &t.trm, &t.trv) == HVP_ERR_ARG,
           "backward: gamma without beta");
}

/* Two identical passes give bitwise identical statistics and gradients (no atomics). */
HVP_TEST(batchnorm_deterministic)
{
    int n = test_tiny() ? 2 : 8, c = 3, hw = test_tiny() ? 5 : 2100; /* 2 chunks */
    bn_case t;
    make_case(&t, n, c, hw, 1, 1.0f, 2.0f);
    int total = (int)t.total;
    float *dy = test_floats(t.total);
    test_fill_uniform(dy, t.total, -1, 1);
    hvp_tensor tdy = test_tensor(1, &total, dy);
    float *out[2][3];
    for (int r = 0; r < 2; r++) {
        hvp_tensor tdx = test_tensor(1, &total, NULL), tdg = test_tensor(1, &c, NULL),
                   tdb = test_tensor(1, &c, NULL);
        REQUIRE_OK(hvp_tensor_zero(test_ctx(), &tdg));
        REQUIRE_OK(hvp_tensor_zero(test_ctx(), &tdb));
        REQUIRE_OK(hvp_batchnorm_fwd_train(test_ctx(), &t.d, &t.tx, &t.tg, &t.tb, NULL, NULL,
                                           &t.ty, &t.tmean, &t.tinv));
        REQUIRE_OK(hvp_batchnorm_bwd(test_ctx(), &t.d, &t.tx, &t.tg, &t.tb, &t.tmean, &t.tinv,
                                     &tdy, &tdx, &tdg, &tdb));
        out[r][0] = test_read(&t.tinv);
        out[r][1] = test_read(&tdx);
        out[r][2] = test_read(&tdg);
    }
    EXPECT(memcmp(out[0][0], out[1][0], (size_t)c * sizeof(float)) == 0, "invstd differs");
    EXPECT(memcmp(out[0][1], out[1][1], t.total * sizeof(float)) == 0, "dx differs");
    EXPECT(memcmp(out[0][2], out[1][2], (size_t)c * sizeof(float)) == 0, "dgamma differs");
}

/* SyncBN's path (ctx->sync_bn: per-channel sums read back, merged on the host, written
 * back through batchnorm_fwd_set and batchnorm_bwd_set) on one process: the same results
 * as the reference, running statistics and finite differences included. The merge over
 * two ranks is checked by the two-rank runs (tests/test_train_mpi.c). */
HVP_TEST(batchnorm_sync_path_on_one_rank)
{
    hvp_ctx *ctx = test_ctx();
    ctx->sync_bn = 1;
    check_train(3, 4, 5, 1, 0, 1.0f, 0.0f);
    /* several chunks (the tiny shape two), a mean far from 0 */
    check_train(2, 2, test_tiny() ? 4100 : 8200, 0, 1, 2.0f, 10.0f);
    check_bwd(2, 2, 3, 1, 0, 0);
    check_bwd(17, 5, 1, 1, 1, 1); /* 1-d, fused ReLU */
    if (!test_tiny())
        check_bwd(3, 2, 2801, 1, 0, 0);
    ctx->sync_bn = 0;
}
