/* The supervised evaluations (src/train/classifier.c, supervised.c): the CIFAR variant of
 * their training views against torchvision, one linear-probe step and one fine-tuning step
 * against PyTorch in double (tools/make_eval_golden.py made tests/data/eval_golden.safetensors
 * once), the recipes, and `hvp linear eval.augment=true` / `hvp finetune` end to end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/augment.h"
#include "hvp/classify.h"
#include "hvp/config.h"
#include "hvp/model_io.h"
#include "hvp/checkpoint.h"
#include "test_data_util.h"
#include "test_train_util.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif
#define GOLDEN HVP_TEST_DATA "/eval_golden.safetensors"

static const float *golden(const hvp_st_file *f, const char *name)
{
    const hvp_st_tensor *t = hvp_st_find(f, name);
    if (!t)
        TEST_FAIL("%s missing from " GOLDEN, name);
    return t ? t->data : NULL;
}

HVP_TEST(supervised_cifar_views_match_torchvision)
{
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(GOLDEN, &f));
    int b = test_meta_int(f, "B"), s = test_meta_int(f, "S");
    const int *img = (const int *)golden(f, "images"), *top = (const int *)golden(f, "crop_top");
    const int *left = (const int *)golden(f, "crop_left"), *flip = (const int *)golden(f, "flip");
    static const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.247f, 0.243f, 0.261f};
    uint8_t *pixels = test_alloc((size_t)b * s * s * 3);
    size_t *offsets = test_alloc((size_t)b * sizeof *offsets);
    int *h = test_alloc((size_t)b * sizeof *h), *w = test_alloc((size_t)b * sizeof *w);
    int *labels = test_alloc((size_t)b * sizeof *labels);
    int64_t *indices = test_alloc((size_t)b * sizeof *indices);
    hvp_view_params *p = test_alloc((size_t)b * sizeof *p);
    for (size_t i = 0; i < (size_t)b * s * s * 3; i++)
        pixels[i] = (uint8_t)img[i];
    for (int i = 0; i < b; i++) {
        offsets[i] = (size_t)i * s * s * 3;
        h[i] = w[i] = s;
        labels[i] = 0;
        indices[i] = i;
        memset(&p[i], 0, sizeof p[i]);
        p[i].crop_top = top[i];
        p[i].crop_left = left[i];
        p[i].crop_h = p[i].crop_w = s;
        p[i].flip = flip[i];
        p[i].brightness = p[i].contrast = p[i].saturation = 1.0f;
    }
    hvp_image_batch batch = {b, 3, pixels, (size_t)b * s * s * 3, offsets, h, w, labels, indices};
    hvp_view_config vc;
    hvp_views_preset_default(&vc, 1, s);
    for (int c = 0; c < 3; c++) {
        vc.slot[0].mean[c] = mean[c];
        vc.slot[0].std[c] = std[c];
    }
    hvp_augment *a = NULL;
    hvp_tensor views, unused;
    REQUIRE_OK(hvp_augment_create(ctx, &vc, &a));
    hvp_status st = hvp_augment_apply(a, &batch, p, &views, &unused);
    if (st == HVP_OK) {
        size_t n = (size_t)b * 3 * s * s;
        EXPECT_CLOSE("padded crop + flip + normalize", test_read(&views),
                     test_to_double(golden(f, "views"), n), n, 1e-5);
    } else {
        TEST_FAIL("augment: %s", hvp_last_error());
    }
    /* a box entirely off the image is still refused */
    p[0].crop_top = -s;
    st = hvp_augment_apply(a, &batch, p, &views, &unused);
    EXPECT(st == HVP_ERR_ARG && strstr(hvp_last_error(), "outside"),
           "a crop outside the image should be refused: %s", hvp_last_error());
    hvp_augment_destroy(a);
    hvp_st_close(f);
}

HVP_TEST(supervised_train_view_params_follow_the_protocol)
{
    /* 32-px images: RandomCrop(32, padding 4) + flip: every offset in [-4, 4] and both
     * flips appear over many images, and nothing else */
    int seen_top[9] = {0}, seen_left[9] = {0}, flips = 0, bad = 0;
    for (int i = 0; i < 2000; i++) {
        hvp_view_params p;
        hvp_eval_train_view_params(5, 1, i, 32, 32, 32, &p);
        bad += p.crop_h != 32 || p.crop_w != 32 || p.crop_top < -4 || p.crop_top > 4 ||
               p.crop_left < -4 || p.crop_left > 4 || p.jitter || p.gray || p.blur ||
               p.solarize;
        if (!bad) {
            seen_top[p.crop_top + 4]++;
            seen_left[p.crop_left + 4]++;
        }
        flips += p.flip;
    }
    EXPECT(bad == 0, "%d views left the CIFAR protocol", bad);
    for (int k = 0; k < 9; k++)
        EXPECT(seen_top[k] > 100 && seen_left[k] > 100, "offset %d drawn %d / %d times of 2000",
               k - 4, seen_top[k], seen_left[k]);
    EXPECT(flips > 850 && flips < 1150, "%d flips of 2000", flips);
    /* larger images: RandomResizedCrop(24) with scale (0.08, 1) inside the image */
    double min_area = 1, max_area = 0;
    for (int i = 0; i < 2000; i++) {
        hvp_view_params p;
        hvp_eval_train_view_params(5, 0, i, 60, 80, 24, &p);
        double area = (double)p.crop_h * p.crop_w / (60.0 * 80.0);
        min_area = fmin(min_area, area);
        max_area = fmax(max_area, area);
        EXPECT(p.crop_top >= 0 && p.crop_left >= 0 && p.crop_top + p.crop_h <= 60 &&
                   p.crop_left + p.crop_w <= 80, "view %d crops outside the image", i);
        if (p.crop_top < 0 || p.crop_left < 0)
            break;
    }
    EXPECT(min_area < 0.1 && max_area > 0.9, "crop areas from %.3f to %.3f, want (0.08, 1)",
           min_area, max_area);
    /* the same (seed, epoch, index) gives the same view; another epoch another one */
    hvp_view_params a, b, c;
    hvp_eval_train_view_params(5, 0, 7, 60, 80, 24, &a);
    hvp_eval_train_view_params(5, 0, 7, 60, 80, 24, &b);
    hvp_eval_train_view_params(5, 1, 7, 60, 80, 24, &c);
    EXPECT(memcmp(&a, &b, sizeof a) == 0, "a view should depend on (seed, epoch, index) only");
    EXPECT(memcmp(&a, &c, sizeof a) != 0, "epochs should draw different views");
}

/* A classifier on the golden file's ResNet-18 with its initial weights and head. */
static int golden_classifier(hvp_ctx *ctx, const hvp_st_file *f, int finetune, hvp_classifier *c)
{
    hvp_backbone_config bc = hvp_resnet_backbone_config(
        &(hvp_resnet_config){18, 3, 1, (float)test_meta_double(f, "width"), 0});
    int b = test_meta_int(f, "B"), k = test_meta_int(f, "K");
    hvp_status st = hvp_classifier_create(ctx, &bc, k, finetune, 1, b, 1, c);
    if (st == HVP_OK)
        st = hvp_state_read(ctx, &c->state, f, "init.", 0);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &c->head[0].value, golden(f, "head_init.weight"));
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &c->head[1].value, golden(f, "head_init.bias"));
    if (st != HVP_OK)
        TEST_FAIL("setup: %s", hvp_last_error());
    return st == HVP_OK;
}

/* One SGD step (momentum 0.9, decay on weights only) of c on the golden views. */
static int golden_step(hvp_ctx *ctx, const hvp_st_file *f, hvp_classifier *c, double lr,
                       double wd, hvp_tensor *loss)
{
    int b = test_meta_int(f, "B"), s = test_meta_int(f, "S");
    hvp_tensor x = test_tensor(4, (int[]){b, 3, s, s}, golden(f, "views"));
    hvp_optim_config oc = hvp_optim_defaults(HVP_OPTIM_SGD);
    oc.momentum = 0.9f;
    hvp_optim *opt = NULL;
    hvp_status st = hvp_optim_create(ctx, &oc, c->params, c->nparams, &opt);
    if (st == HVP_OK) {
        opt->groups[0].lr = (float)lr;
        opt->groups[0].weight_decay = (float)wd;
        st = hvp_alloc_f32(ctx->acts, "loss", loss, 1, (int[]){1});
    }
    if (st == HVP_OK)
        st = hvp_classifier_train_step(c, ctx, &x, (const int *)golden(f, "labels"), loss);
    if (st == HVP_OK)
        st = hvp_optim_step(ctx, opt);
    if (st == HVP_OK)
        st = hvp_ctx_finish(ctx);
    hvp_optim_destroy(opt);
    if (st != HVP_OK)
        TEST_FAIL("step: %s", hvp_last_error());
    return st == HVP_OK;
}

static void expect_golden(const hvp_st_file *f, const char *what, const hvp_tensor *t,
                          const char *name, double tol)
{
    const float *want = golden(f, name);
    size_t n = hvp_numel(t);
    if (want)
        EXPECT_CLOSE_FLOOR(what, test_read(t), test_to_double(want, n), n, tol, 1.0);
}

/* The step's change of a parameter (after - init) against PyTorch's, on the scale of the
 * change: the values alone would hide an error in a small update. floor: the largest
 * change of the step, scaled (a parameter whose gradient is zero in exact arithmetic moves
 * by float noise). */
static void expect_update(const hvp_st_file *f, const char *what, const hvp_tensor *t,
                          const char *init, const char *after, double floor)
{
    const float *a = golden(f, after), *i0 = golden(f, init);
    size_t n = hvp_numel(t);
    if (!a || !i0)
        return;
    float *got = test_read(t), *dgot = test_floats(n);
    double *dwant = test_doubles(n);
    for (size_t j = 0; j < n; j++) {
        dgot[j] = got[j] - i0[j];
        dwant[j] = (double)a[j] - i0[j];
    }
    char name[240];
    snprintf(name, sizeof name, "update of %s", what);
    EXPECT_CLOSE_FLOOR(name, dgot, dwant, n, 2e-3, floor);
}

/* The largest change of any parameter in the golden step. */
static double largest_update(const hvp_st_file *f, const hvp_param *p, int n, const char *init,
                             const char *after)
{
    double m = 0;
    char a[200], b[200];
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "%s%s", after, p[i].name);
        snprintf(b, sizeof b, "%s%s", init, p[i].name);
        const hvp_st_tensor *ta = hvp_st_find(f, a), *tb = hvp_st_find(f, b);
        for (size_t j = 0; ta && tb && j < hvp_numel(&p[i].value); j++)
            m = fmax(m, fabs((double)((const float *)ta->data)[j] -
                             ((const float *)tb->data)[j]));
    }
    return m;
}

HVP_TEST(supervised_linear_probe_golden_step)
{
    if (test_tiny()) {
        test_skip("a whole ResNet step; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(GOLDEN, &f));
    hvp_classifier c;
    hvp_tensor loss;
    if (golden_classifier(ctx, f, 0, &c)) {
        int b = test_meta_int(f, "B"), s = test_meta_int(f, "S");
        /* the frozen features: the backbone in eval mode (running statistics) */
        hvp_pass p = {ctx, 0, 0, 1, 0};
        hvp_tensor x = test_tensor(4, (int[]){b, 3, s, s}, golden(f, "views")), feats;
        REQUIRE_OK(hvp_backbone_forward(&c.backbone, &p, &x, &feats));
        expect_golden(f, "eval-mode features", &feats, "linear.features", 1e-4);
        EXPECT(c.nparams == 2, "the probe should train the head alone, not %d tensors",
               c.nparams);
        if (golden_step(ctx, f, &c, test_meta_double(f, "linear_lr"),
                        test_meta_double(f, "linear_weight_decay"), &loss)) {
            expect_golden(f, "loss", &loss, "linear.loss", 1e-4);
            expect_golden(f, "head.weight after SGD", &c.head[0].value,
                          "linear.after.head.weight", 1e-4);
            expect_golden(f, "head.bias after SGD", &c.head[1].value, "linear.after.head.bias",
                          1e-4);
            expect_update(f, "head.weight", &c.head[0].value, "head_init.weight",
                          "linear.after.head.weight", 0);
            expect_update(f, "head.bias", &c.head[1].value, "head_init.bias",
                          "linear.after.head.bias", 0);
            /* the frozen backbone is untouched: its running statistics too */
            const hvp_buffer *rm = hvp_state_find_buffer(&c.state, "bn1.running_mean");
            expect_golden(f, "bn1.running_mean (frozen)", &rm->value, "init.bn1.running_mean",
                          0);
        }
    }
    hvp_classifier_free(&c);
    hvp_st_close(f);
}

HVP_TEST(supervised_finetune_golden_step)
{
    if (test_tiny()) {
        test_skip("a whole ResNet step; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(GOLDEN, &f));
    hvp_classifier c;
    hvp_tensor loss;
    char name[200];
    if (golden_classifier(ctx, f, 1, &c)) {
        c.label_smoothing = (float)test_meta_double(f, "label_smoothing");
        if (golden_step(ctx, f, &c, test_meta_double(f, "finetune_lr"),
                        test_meta_double(f, "finetune_weight_decay"), &loss)) {
            expect_golden(f, "loss (label smoothing)", &loss, "finetune.loss", 1e-4);
            EXPECT(c.nparams == c.state.nparams + 2, "fine-tuning trains %d of %d tensors",
                   c.nparams, c.state.nparams + 2);
            /* the backbone's initial values are init.*, the head's head_init.* */
            double most = fmax(largest_update(f, c.params, c.nparams - 2, "init.",
                                              "finetune.after."),
                               largest_update(f, c.params + c.nparams - 2, 2, "head_init.",
                                              "finetune.after."));
            char init[200];
            for (int i = 0; i < c.nparams; i++) {
                const char *pn = c.params[i].name;
                snprintf(name, sizeof name, "finetune.after.%s", pn);
                expect_golden(f, pn, &c.params[i].value, name, 1e-4);
                snprintf(init, sizeof init, "%s%s", i < c.nparams - 2 ? "init." : "head_init.",
                         strncmp(pn, "head.", 5) == 0 ? pn + 5 : pn);
                expect_update(f, pn, &c.params[i].value, init, name, 0.1 * most);
            }
            for (int i = 0; i < c.state.nbuffers; i++) {
                const hvp_buffer *bf = &c.state.buffers[i];
                snprintf(name, sizeof name, "finetune.after.%s", bf->name);
                const hvp_st_tensor *want = hvp_st_find(f, name);
                if (!want)
                    TEST_FAIL("%s missing from the golden file", name);
                else if (bf->is_count) {
                    int64_t count; /* safetensors data need not be 8-byte aligned */
                    memcpy(&count, want->data, sizeof count);
                    EXPECT(bf->count == count, "%s = %lld, PyTorch %lld", bf->name,
                           (long long)bf->count, (long long)count);
                } else
                    expect_golden(f, bf->name, &bf->value, name, 1e-4);
            }
        }
    }
    hvp_classifier_free(&c);
    hvp_st_close(f);
}

HVP_TEST(supervised_recipes_and_explicit_keys)
{
    hvp_config cfg;
    hvp_supervised_opts o;
    char *simsiam[] = {"eval.recipe=simsiam", "eval.augment=true"};
    REQUIRE_OK(hvp_config_from_cli(&cfg, NULL, 2, simsiam));
    REQUIRE_OK(hvp_supervised_opts_from_config(&cfg, 0, &o));
    EXPECT(o.optim == HVP_OPTIM_LARS && o.batch_size == 4096 && o.epochs == 90 &&
               fabs(o.lr - 0.1) < 1e-12 && o.weight_decay == 0,
           "simsiam recipe: optim %d, batch %d, epochs %d, lr %g", o.optim, o.batch_size,
           o.epochs, o.lr);
    char *plain[] = {"eval.recipe=simsiam", "eval.augment=false"};
    hvp_status st = hvp_config_from_cli(&cfg, NULL, 2, plain);
    EXPECT(st == HVP_ERR_ARG && strstr(hvp_last_error(), "eval.augment = true"),
           "a recipe without augmentations should be refused: %s", hvp_last_error());
    char *resnet_blocks[] = {"eval.augment=true", "eval.last_blocks=4"};
    st = hvp_config_from_cli(&cfg, NULL, 2, resnet_blocks);
    EXPECT(st == HVP_ERR_ARG && strstr(hvp_last_error(), "eval.last_blocks = 4"),
           "last blocks of a ResNet should be refused: %s", hvp_last_error());
    char *vit_dino[] = {"eval.augment=true", "eval.recipe=dino", "model.arch=vit_tiny"};
    REQUIRE_OK(hvp_config_from_cli(&cfg, NULL, 3, vit_dino));
    REQUIRE_OK(hvp_supervised_opts_from_config(&cfg, 0, &o));
    EXPECT(o.last_blocks == 4, "DINO's recipe on a ViT: the last %d blocks, want 4",
           o.last_blocks);
    char *dino[] = {"eval.augment=true", "eval.recipe=dino", "eval.linear_epochs=3"};
    REQUIRE_OK(hvp_config_from_cli(&cfg, NULL, 3, dino));
    REQUIRE_OK(hvp_supervised_opts_from_config(&cfg, 0, &o));
    EXPECT(o.optim == HVP_OPTIM_SGD && o.batch_size == 1024 && o.epochs == 3 &&
               fabs(o.lr - 0.001) < 1e-12,
           "dino recipe with linear_epochs=3: optim %d, batch %d, epochs %d, lr %g", o.optim,
           o.batch_size, o.epochs, o.lr);
    EXPECT(o.last_blocks == 1, "DINO's recipe on a ResNet: its pooled features, not %d blocks",
           o.last_blocks);
    char *ft[] = {"eval.finetune_optim=adamw", "eval.finetune_label_smoothing=0.1"};
    REQUIRE_OK(hvp_config_from_cli(&cfg, NULL, 2, ft));
    REQUIRE_OK(hvp_supervised_opts_from_config(&cfg, 1, &o));
    EXPECT(o.optim == HVP_OPTIM_ADAMW && o.augment && fabs(o.label_smoothing - 0.1) < 1e-12 &&
               o.warmup_epochs == 5,
           "fine-tuning: optim %d, augment %d, smoothing %g, warm-up %d", o.optim, o.augment,
           o.label_smoothing, o.warmup_epochs);
}

HVP_TEST(train_linear_augmented_and_finetune_end_to_end)
{
    tr_files t;
    if (!tr_begin(&t, 8, 1, ""))
        return;
    int rc = tr_run(t.log, (const char *[]){t.cfg, t.over_dir, NULL});
    if (rc != 0) {
        tr_show_log(t.log);
        TEST_FAIL("pretraining exited with %d", rc);
        return;
    }
    rc = tr_run(t.log, (const char *[]){"linear", t.run_dir, "eval.augment=true",
                                        "eval.linear_epochs=2", "eval.linear_batch_size=8",
                                        NULL});
    const char *text = tr_log_text(t.log);
    EXPECT(rc == 0 && strstr(text, "linear probe epoch 2/2") &&
               strstr(text, "linear probe (augmented) of") && strstr(text, "(16 images)"),
           "hvp linear RUN eval.augment=true exited with %d: %s", rc, text);
    rc = tr_run(t.log, (const char *[]){"finetune", t.run_dir, "eval.finetune_epochs=2",
                                        "eval.finetune_batch_size=8",
                                        "eval.finetune_warmup_epochs=1",
                                        "eval.finetune_label_smoothing=0.1", NULL});
    text = tr_log_text(t.log);
    EXPECT(rc == 0 && strstr(text, "fine-tuning epoch 2/2") && strstr(text, "top-5"),
           "hvp finetune RUN exited with %d: %s", rc, text);
    /* per epoch a line of epochs.csv and a checkpoint of backbone and head */
    char path[1400];
    snprintf(path, sizeof path, "%s/finetune/epochs.csv", t.run_dir);
    EXPECT(tr_lines(path) == 3, "%s: %ld lines, want a header and 2 epochs", path,
           tr_lines(path));
    snprintf(path, sizeof path, "%s/finetune/checkpoints/step-0000000004/" HVP_CKPT_WEIGHTS,
             t.run_dir);
    size_t size = 0;
    unsigned char *w = test_read_file(path, &size);
    EXPECT(size > 0 && tr_contains(w, size, "\"head.weight\"") &&
               tr_contains(w, size, "\"layer4.1.bn2.running_var\"") &&
               !tr_contains(w, size, "encoder."),
           "%s should hold the backbone and head under torchvision names", path);
    /* eval.train_root: another dataset (5 images a class and split) than the pretraining's */
    char other[1100], over[1200];
    snprintf(other, sizeof other, "%s/other", t.root);
    td_mkdir(other);
    tr_make_folder(other, 5);
    snprintf(over, sizeof over, "eval.train_root=%s", other);
    rc = tr_run(t.log, (const char *[]){"linear", t.run_dir, "eval.augment=true", over,
                                        "eval.linear_epochs=1", "eval.linear_batch_size=4",
                                        NULL});
    text = tr_log_text(t.log);
    EXPECT(rc == 0 && strstr(text, "(10 images)"),
           "hvp linear with eval.train_root should test on its 10 images: exit %d, %s", rc, text);
    /* labels are required */
    rc = tr_run(t.log, (const char *[]){"finetune", t.run_dir, "eval.train_root=/nonexistent/x",
                                        NULL});
    text = tr_log_text(t.log);
    EXPECT(rc != 0 && strstr(text, "/nonexistent/x"),
           "a missing eval.train_root should be named: exit %d, %s", rc, text);
    td_cleanup();
}

/* DINO's n_last_blocks features: the class token of each of the last n blocks through the
 * final norm, earliest first. A ViT of depth d - 1 built from the same seed has the same
 * first d - 1 blocks (initialisation draws from (seed, parameter index), LayerNorms start
 * at 1 / 0), so its output is the second-to-last block's part. */
HVP_TEST(supervised_vit_last_blocks_features)
{
    if (test_tiny()) {
        test_skip("whole ViT forwards; their kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    int n = 3, d = 16, deep = 3;
    hvp_vit_config vc = {16, 8, 3, d, deep, 2, 2.0f, 0.0f, 0};
    hvp_vit a, b;
    hvp_state sa, sb;
    hvp_state_init(&sa, 11);
    hvp_state_init(&sb, 11);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    REQUIRE_OK(hvp_vit_init(&a, &sa, ctx, "", &vc));
    vc.depth = deep - 1;
    REQUIRE_OK(hvp_vit_init(&b, &sb, ctx, "", &vc));
    float *x = test_floats((size_t)n * 3 * 16 * 16);
    test_fill_uniform(x, (size_t)n * 3 * 16 * 16, -1, 1);
    hvp_tensor in = test_tensor(4, (int[]){n, 3, 16, 16}, x), two, last, earlier;
    hvp_pass p = {ctx, 0, 0, 1, 0};
    REQUIRE_OK(hvp_vit_forward_last_blocks(&a, &p, &in, 2, &two));
    REQUIRE_OK(hvp_vit_forward(&a, &p, &in, &last));
    REQUIRE_OK(hvp_vit_forward(&b, &p, &in, &earlier));
    float *got = test_read(&two), *l = test_read(&last), *e = test_read(&earlier);
    double *want = test_doubles((size_t)n * 2 * d);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            want[(size_t)i * 2 * d + j] = e[(size_t)i * d + j];
            want[(size_t)i * 2 * d + d + j] = l[(size_t)i * d + j];
        }
    EXPECT(two.ndim == 2 && two.shape[0] == n && two.shape[1] == 2 * d,
           "features of 2 blocks should be [%d, %d]", n, 2 * d);
    EXPECT_CLOSE("last 2 blocks' class tokens, concatenated", got, want, (size_t)n * 2 * d,
                 1e-6);
    hvp_status st = hvp_vit_forward_last_blocks(&a, &p, &in, deep + 1, &two);
    EXPECT(st == HVP_ERR_ARG, "more blocks than the ViT has should be refused");
    hvp_vit_free(&a);
    hvp_vit_free(&b);
    hvp_state_free(&sa);
    hvp_state_free(&sb);
}
