/* FLOPs counted from shapes: a step's count against PyTorch's FlopCounterMode
 * (tools/make_flop_reference.py made tests/data/flop_reference.txt once), the same count
 * whether the kernels run or not and whichever path a convolution takes, and the cheaper
 * selection's (hvp.score_fraction) share of it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hvp/select.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif

#define VIEWS 4 /* candidate views of the reference's selection pass */

/* The value of `name` in the reference file, or -1 (and a failure) when it is missing. */
static double reference(const char *name)
{
    FILE *f = fopen(HVP_TEST_DATA "/flop_reference.txt", "r");
    char line[512], key[128];
    double value = -1, v;
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%127s %lf", key, &v) == 2 && !strcmp(key, name))
            value = v;
    if (f)
        fclose(f);
    if (value < 0)
        TEST_FAIL("%s/flop_reference.txt has no line \"%s\"", HVP_TEST_DATA, name);
    return value;
}

typedef struct counted {
    double train, select; /* matrix-product FLOPs */
    double train_other;   /* the rest of the training step's */
} counted;

/* SimSiam as the reference's (projector 2048-2048-2048, predictor 512) on the backbone
 * the overrides give, for b images per view of side s: the matrix-product FLOPs of a
 * training step on [x1; x2] and of the selection pass over VIEWS views, counted without
 * computing (count_only) or computed. */
static int count_simsiam(const char *const *overrides, int b, int s, int count_only,
                         float score_fraction, counted *out)
{
    if (test_tiny()) { /* Oclgrind: gigabytes of simulated memory for what the host counts */
        test_skip("whole models; the count is the host's, the same on every device");
        return 0;
    }
    hvp_config c;
    hvp_config_defaults(&c);
    static const char *const head[] = {"method.name=simsiam", "method.proj_dim=2048",
                                       "method.proj_hidden_dim=2048", "method.pred_dim=512",
                                       "model.drop_path=0", NULL};
    for (int i = 0; head[i]; i++)
        if (hvp_config_override(&c, head[i]) != HVP_OK)
            return TEST_FAIL("%s: %s", head[i], hvp_last_error()), 0;
    for (int i = 0; overrides[i]; i++)
        if (hvp_config_override(&c, overrides[i]) != HVP_OK)
            return TEST_FAIL("%s: %s", overrides[i], hvp_last_error()), 0;
    /* the model lives in the test device's parameters until the rewind at the end */
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark params = hvp_arena_get_mark(ctx->params);
    hvp_method *m = NULL;
    hvp_selector *sel = NULL;
    hvp_select_config sc = {.views = VIEWS, .select_every = 1, .seed = 1,
                            .score_fraction = score_fraction};
    hvp_status st = hvp_train_make_method(ctx, &c, 3, &m);
    if (st == HVP_OK)
        st = hvp_selector_create(&sc, &sel);
    hvp_tensor views, x12, loss;
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "views", &views, 4, (int[]){VIEWS * b, 3, s, s});
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->acts, "loss", &loss, 1, (int[]){1});
    if (st == HVP_OK && !count_only) /* values the model can take without NaN */
        st = hvp_tensor_fill_f32(ctx, &views, 0.25f);
    int was = hvp_flops_count_only(ctx, count_only);
    uint64_t f0 = ctx->flops[HVP_FLOPS_MATMUL];
    if (st == HVP_OK)
        st = hvp_select(sel, ctx, m, &views, NULL, 0, &x12);
    uint64_t f1 = ctx->flops[HVP_FLOPS_MATMUL], o1 = ctx->flops[HVP_FLOPS_OTHER];
    if (st == HVP_OK)
        st = m->ops->train_step(m, ctx, &x12, &(hvp_step_input){.step = 0}, &loss);
    if (st == HVP_OK)
        st = hvp_ctx_finish(ctx);
    out->select = (double)(f1 - f0);
    out->train = (double)(ctx->flops[HVP_FLOPS_MATMUL] - f1);
    out->train_other = (double)(ctx->flops[HVP_FLOPS_OTHER] - o1);
    hvp_flops_count_only(ctx, was);
    if (st != HVP_OK)
        TEST_FAIL("SimSiam step: %s", hvp_last_error());
    hvp_selector_destroy(sel);
    hvp_method_destroy(m);
    hvp_arena_reset(ctx->acts);
    hvp_arena_release_to(ctx->params, params);
    return st == HVP_OK;
}

static void expect_near(const char *what, double got, double want, double tol)
{
    double rel = fabs(got - want) / want;
    printf("  %s: hvp %.6g, PyTorch %.6g FLOPs, relative difference %.2e\n", what, got, want,
           rel);
    EXPECT(rel <= tol, "%s: hvp counts %.6g FLOPs, PyTorch %.6g (%.2f%% apart, at most %.0f%%)",
           what, got, want, 100 * rel, 100 * tol);
}

/* Counted without computing: fast on every device, Oclgrind too. */
HVP_TEST(flops_resnet18_cifar_step_matches_pytorch)
{
    static const char *const r18[] = {"model.arch=resnet18", "model.cifar_stem=true",
                                       "data.image_size=32", NULL};
    counted n;
    if (!count_simsiam(r18, 2, 32, 1, 1.0f, &n))
        return;
    expect_near("ResNet-18 CIFAR training step", n.train, reference("resnet18_cifar_train"), 0.05);
    expect_near("ResNet-18 CIFAR selection", n.select, reference("resnet18_cifar_select"), 0.05);
    /* batch norm, ReLU, the loss and SGD: counted apart, a small share of the step */
    EXPECT(n.train_other > 0 && n.train_other < 0.1 * n.train,
           "the training step's other FLOPs: %.4g against %.4g of products", n.train_other,
           n.train);
}

HVP_TEST(flops_vit_small_step_matches_pytorch)
{
    static const char *const vit[] = {"model.arch=vit_small", "data.image_size=224",
                                       "model.patch_size=16", NULL};
    counted n;
    if (!count_simsiam(vit, 2, 224, 1, 1.0f, &n))
        return;
    expect_near("ViT-S/16 training step", n.train, reference("vit_small_train"), 0.05);
    expect_near("ViT-S/16 selection", n.select, reference("vit_small_select"), 0.05);
}

/* The count is the same whether the kernels run or are skipped, so a budget counted
 * without computing is what the run then spends. */
HVP_TEST(flops_count_only_equals_the_computed_count)
{
    static const char *const tiny[] = {"model.arch=resnet18", "model.cifar_stem=true",
                                       "model.width=0.0625", "data.image_size=16", NULL};
    counted dry, run;
    if (!count_simsiam(tiny, 2, 16, 1, 1.0f, &dry) || !count_simsiam(tiny, 2, 16, 0, 1.0f, &run))
        return;
    EXPECT(dry.train == run.train && dry.select == run.select &&
               dry.train_other == run.train_other,
           "counted %.0f + %.0f (+ %.0f), computed %.0f + %.0f (+ %.0f)", dry.train, dry.select,
           dry.train_other, run.train, run.select, run.train_other);
}

/* hvp.score_fraction = 0.5 scores half of the images: half the selection's products. */
HVP_TEST(flops_score_fraction_halves_the_selection)
{
    static const char *const tiny[] = {"model.arch=resnet18", "model.cifar_stem=true",
                                       "model.width=0.0625", "data.image_size=16", NULL};
    counted all, half;
    if (!count_simsiam(tiny, 4, 16, 1, 1.0f, &all) || !count_simsiam(tiny, 4, 16, 1, 0.5f, &half))
        return;
    EXPECT(half.select * 2 == all.select && half.train == all.train,
           "selection %.0f FLOPs at 0.5 against %.0f at 1 (training %.0f, %.0f)", half.select,
           all.select, half.train, all.train);
}

/* A convolution counts 2 n c_out ho wo c_in kh kw per product whichever kernels run:
 * implicit GEMM or im2col + GEMM, forward and both gradients (the input's only when
 * asked for). */
HVP_TEST(flops_conv2d_counts_its_shape_on_every_path)
{
    hvp_ctx *ctx = test_ctx();
    hvp_conv2d_desc d = {2, 3, 9, 7, 5, 3, 3, 2, 1};
    int ho = hvp_conv2d_out_h(&d), wo = hvp_conv2d_out_w(&d);
    double one = 2.0 * d.n * d.c_out * ho * wo * d.c_in * d.kh * d.kw;
    hvp_tensor x, w, y, dx, dw;
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "x", &x, 4, (int[]){d.n, d.c_in, d.h, d.w}));
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "w", &w, 4, (int[]){d.c_out, d.c_in, d.kh, d.kw}));
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "y", &y, 4, (int[]){d.n, d.c_out, ho, wo}));
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "dx", &dx, 4, (int[]){d.n, d.c_in, d.h, d.w}));
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "dw", &dw, 4, (int[]){d.c_out, d.c_in, d.kh, d.kw}));
    REQUIRE_OK(hvp_tensor_fill_f32(ctx, &x, 0.5f));
    REQUIRE_OK(hvp_tensor_fill_f32(ctx, &w, 0.25f));
    REQUIRE_OK(hvp_tensor_fill_f32(ctx, &dw, 0.0f));
    int mode = hvp_conv2d_igemm(ctx, 1);
    for (int igemm = 1; igemm >= 0; igemm--) {
        hvp_conv2d_igemm(ctx, igemm);
        uint64_t f0 = ctx->flops[HVP_FLOPS_MATMUL];
        hvp_status st = hvp_conv2d_fwd(ctx, &d, &x, &w, NULL, &y);
        uint64_t f1 = ctx->flops[HVP_FLOPS_MATMUL];
        if (st == HVP_OK)
            st = hvp_conv2d_bwd(ctx, &d, &x, &w, &y, &dx, &dw, NULL);
        uint64_t f2 = ctx->flops[HVP_FLOPS_MATMUL];
        if (st == HVP_OK)
            st = hvp_conv2d_bwd(ctx, &d, &x, &w, &y, NULL, &dw, NULL);
        uint64_t f3 = ctx->flops[HVP_FLOPS_MATMUL];
        EXPECT(st == HVP_OK, "igemm %d: %s", igemm, hvp_last_error());
        EXPECT((double)(f1 - f0) == one && (double)(f2 - f1) == 2 * one &&
                   (double)(f3 - f2) == one,
               "igemm %d: forward %.0f, backward %.0f and without dx %.0f FLOPs; expected %.0f, "
               "%.0f, %.0f", igemm, (double)(f1 - f0), (double)(f2 - f1), (double)(f3 - f2), one,
               2 * one, one);
    }
    hvp_conv2d_igemm(ctx, mode);
    REQUIRE_OK(hvp_ctx_finish(ctx));
}
