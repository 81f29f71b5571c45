/* One training step with hard view selection against PyTorch, per method
 * (tools/make_<method>_golden.py made tests/data/<method>_golden.safetensors once, in double
 * precision): the selection losses and winners, the loss, and every parameter and running
 * statistic after SGD or LARS (for DINO also the teacher after its EMA and the center, for
 * BYOL the momentum network after its EMA: buffers of the method's state). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/model_io.h"
#include "hvp/select.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif

/* Compares a device tensor with a float array of the golden file. Statistics that are
 * exactly zero (the running mean behind a BN without affine) are judged on the scale of
 * the activations they come from, O(1). */
static void expect_tensor(const char *what, const hvp_tensor *t, const float *want, double tol)
{
    size_t n = hvp_numel(t);
    EXPECT_CLOSE_FLOOR(what, test_read(t), test_to_double(want, n), n, tol, 1.0);
}

/* The method's local scores against every pair (score_pairs_locals), as the selection
 * computes them, against the golden file's "local_scores" [P, M, B]. */
static void expect_local_scores(hvp_ctx *ctx, hvp_method *m, const hvp_selector *sel,
                                const hvp_st_file *f, const hvp_tensor *views,
                                const hvp_tensor *cand)
{
    int n = sel->cfg.views, nc = sel->cfg.local_candidates, b = views->shape[0] / n;
    const hvp_st_tensor *want = hvp_st_find(f, "local_scores");
    if (!want || !m->ops->score_pairs_locals) {
        TEST_FAIL("local_scores missing from the golden file, or the method cannot score");
        return;
    }
    hvp_tensor scores, local_scores;
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "pair losses", &scores, 2, (int[]){sel->npairs, b}));
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "local losses", &local_scores, 3,
                             (int[]){sel->npairs, nc, b}));
    REQUIRE_OK(m->ops->score_pairs_locals(m, ctx, views, n, sel->npairs,
                                          (const int (*)[2])sel->pairs,
                                          &(hvp_step_input){0, cand, nc}, &scores,
                                          &local_scores));
    size_t k = hvp_numel(&local_scores);
    EXPECT_CLOSE("local losses", test_read(&local_scores), test_to_double(want->data, k), k, 1e-4);
}

/* The largest difference of got from want relative to max(floor, max|want|) (as the checks
 * judge them), kept in *worst with its name: the step's report. */
static void track(const char *what, const float *got, const float *want, size_t n, double floor,
                  double *worst, char *worst_name, size_t size)
{
    double scale = floor, d = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)got[i] - want[i]) / scale);
    if (d > *worst) {
        *worst = d;
        snprintf(worst_name, size, "%s", what);
    }
}

typedef hvp_status (*make_method_fn)(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m);

/* param_tol: the largest error of a parameter after the step, relative to the tensor's
 * largest value (1e-4 unless a method's step is known to round more). */
static void golden_step(const char *file, make_method_fn make, double param_tol)
{
    if (test_tiny()) {
        test_skip("a whole training step; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(file, &f));
    int b = test_meta_int(f, "B"), n = test_meta_int(f, "N"), c = test_meta_int(f, "C"), s = test_meta_int(f, "S");
    hvp_method *m = NULL;
    hvp_selector *sel = NULL;
    hvp_optim *opt = NULL;
    hvp_status st = make(ctx, f, &m);
    if (st == HVP_OK)
        st = hvp_state_read(ctx, &m->state, f, "init.", 0);
    /* DINO as the paper's code: (even, odd) pairs, M local candidates of which L are kept */
    const hvp_st_tensor *cand_st = hvp_st_find(f, "local_candidates");
    int nl = test_meta_int(f, "L"), ls = test_meta_int(f, "local_S"), nc = test_meta_int(f, "M");
    hvp_select_config selc = {.views = n, .select_every = 1, .seed = 1,
                              .asymmetric = test_meta_int(f, "asymmetric") == 1,
                              .local_candidates = cand_st ? nc : 0,
                              .local_keep = cand_st ? nl : 0};
    if (st == HVP_OK)
        st = hvp_selector_create(&selc, &sel);
    /* SGD, or solo-learn's LARS where the file says optim = lars */
    const char *optim = hvp_st_metadata(f, "optim");
    int lars = optim && strcmp(optim, "lars") == 0;
    hvp_optim_config oc = hvp_optim_defaults(lars ? HVP_OPTIM_LARS : HVP_OPTIM_SGD);
    oc.momentum = (float)test_meta_double(f, "momentum");
    oc.decay_all = 1;
    if (lars) {
        oc.lars_eta = (float)test_meta_double(f, "lars_eta");
        oc.lars_clip_lr = test_meta_int(f, "lars_clip_lr");
        oc.lars_exclude_bias_n_norm = test_meta_int(f, "lars_exclude_bias_n_norm");
    }
    if (st == HVP_OK)
        st = hvp_optim_create(ctx, &oc, m->state.params, m->state.nparams, &opt);
    if (st != HVP_OK) {
        TEST_FAIL("setup: %s", hvp_last_error());
        goto done;
    }
    opt->groups[0].lr = (float)test_meta_double(f, "lr");
    opt->groups[0].weight_decay = (float)test_meta_double(f, "weight_decay");

    const hvp_st_tensor *views_st = hvp_st_find(f, "views");
    hvp_tensor views = test_tensor(4, (int[]){n * b, c, s, s}, views_st->data);
    hvp_tensor x12, loss;
    REQUIRE_OK(hvp_alloc_f32(ctx->acts, "loss", &loss, 1, (int[]){1}));
    REQUIRE_OK(hvp_params_zero_grad(ctx, m->state.params, m->state.nparams));
    const hvp_st_tensor *local_st = hvp_st_find(f, "local_views");
    hvp_tensor locals;
    hvp_step_input in = {.step = 0};
    if (cand_st) {
        hvp_tensor cand = test_tensor(4, (int[]){nc * b, c, ls, ls}, cand_st->data);
        expect_local_scores(ctx, m, sel, f, &views, &cand);
        REQUIRE_OK(hvp_select_views(sel, ctx, m, &views, NULL, &cand, 0, &x12, &locals));
        in.local = &locals;
        in.nlocal = nl;
    } else {
        REQUIRE_OK(hvp_select(sel, ctx, m, &views, NULL, 0, &x12));
    }
    if (local_st) { /* multi-crop: nlocal views per image besides the chosen pair */
        locals = test_tensor(4, (int[]){nl * b, c, ls, ls}, local_st->data);
        in.local = &locals;
        in.nlocal = nl;
    }
    REQUIRE_OK(m->ops->train_step(m, ctx, &x12, &in, &loss));
    REQUIRE_OK(hvp_optim_step(ctx, opt));
    if (m->ops->after_step) { /* the teacher EMA with the momentum of step ema_step, else 0 */
        int ema_step = hvp_st_metadata(f, "ema_step") ? test_meta_int(f, "ema_step") : 0;
        REQUIRE_OK(m->ops->after_step(m, ctx, ema_step));
    }
    REQUIRE_OK(hvp_ctx_finish(ctx));
    hvp_selector_collect(sel);

    const float *scores = hvp_st_find(f, "scores")->data;
    const int *chosen = hvp_st_find(f, "chosen")->data;
    EXPECT_CLOSE("pair losses", sel->scores_host, test_to_double(scores, (size_t)sel->npairs * b),
                 (size_t)sel->npairs * b, 1e-4);
    for (int i = 0; i < b; i++)
        EXPECT(sel->chosen_host[i] == chosen[i], "sample %d chose pair %d, PyTorch %d", i,
               sel->chosen_host[i], chosen[i]);
    const hvp_st_tensor *chosen_locals = hvp_st_find(f, "chosen_locals");
    for (int j = 0; cand_st && chosen_locals && j < nl * b; j++)
        EXPECT(sel->local_host[j] == ((const int *)chosen_locals->data)[j],
               "sample %d kept local candidate %d in slot %d, PyTorch %d", j % b,
               sel->local_host[j], j / b, ((const int *)chosen_locals->data)[j]);
    EXPECT(!cand_st || chosen_locals, "chosen_locals missing from the golden file");
    expect_tensor("loss", &loss, hvp_st_find(f, "loss")->data, 1e-4);
    double worst = 0;
    char worst_name[200] = "";
    float loss_got;
    REQUIRE_OK(hvp_tensor_download(ctx, &loss, &loss_got));
    double loss_want = *(const float *)hvp_st_find(f, "loss")->data;
    track("scores", sel->scores_host, scores, (size_t)sel->npairs * b, 1e-6, &worst, worst_name,
          sizeof worst_name);

    /* Parameters after the step, and their change (the step is small against the values,
     * so the change is checked on its own scale too, with the largest change of the step
     * as the floor: a parameter whose gradient is zero in exact arithmetic, like the bias
     * before SimSiam's last BN, moves by float noise of the gradients' scale). */
    char name[200];
    double max_update = 0;
    for (int i = 0; i < m->state.nparams; i++) {
        const char *pn = m->state.params[i].name;
        snprintf(name, sizeof name, "after.%s", pn);
        const hvp_st_tensor *after = hvp_st_find(f, name);
        snprintf(name, sizeof name, "init.%s", pn);
        const hvp_st_tensor *before = hvp_st_find(f, name);
        for (size_t j = 0; after && before && j < hvp_numel(&m->state.params[i].value); j++) {
            double d = fabs((double)((const float *)after->data)[j] -
                            ((const float *)before->data)[j]);
            max_update = d > max_update ? d : max_update;
        }
    }
    for (int i = 0; i < m->state.nparams; i++) {
        const hvp_param *p = &m->state.params[i];
        size_t k = hvp_numel(&p->value);
        snprintf(name, sizeof name, "after.%s", p->name);
        const hvp_st_tensor *after = hvp_st_find(f, name);
        snprintf(name, sizeof name, "init.%s", p->name);
        const hvp_st_tensor *before = hvp_st_find(f, name);
        if (!after || !before) {
            TEST_FAIL("%s missing from the golden file", p->name);
            continue;
        }
        float *got = test_read(&p->value);
        EXPECT_CLOSE(p->name, got, test_to_double(after->data, k), k, param_tol);
        track(p->name, got, after->data, k, 1e-6, &worst, worst_name, sizeof worst_name);
        float *dgot = test_floats(k);
        double *dwant = test_doubles(k);
        for (size_t j = 0; j < k; j++) {
            dgot[j] = got[j] - ((const float *)before->data)[j];
            dwant[j] = (double)((const float *)after->data)[j] - ((const float *)before->data)[j];
        }
        snprintf(name, sizeof name, "update of %s", p->name);
        EXPECT_CLOSE_FLOOR(name, dgot, dwant, k, 2e-3, 0.1 * max_update);
    }
    for (int i = 0; i < m->state.nbuffers; i++) {
        const hvp_buffer *bf = &m->state.buffers[i];
        snprintf(name, sizeof name, "after.%s", bf->name);
        const hvp_st_tensor *after = hvp_st_find(f, name);
        if (!after) {
            TEST_FAIL("%s missing from the golden file", bf->name);
            continue;
        }
        if (bf->is_count) {
            int64_t count; /* safetensors data need not be 8-byte aligned */
            memcpy(&count, after->data, sizeof count);
            EXPECT(bf->count == count, "%s = %lld, PyTorch %lld", bf->name,
                   (long long)bf->count, (long long)count);
        } else {
            expect_tensor(bf->name, &bf->value, after->data, 1e-4);
            track(bf->name, test_read(&bf->value), after->data, hvp_numel(&bf->value), 1.0,
                  &worst, worst_name, sizeof worst_name);
        }
    }
    printf("    against PyTorch: loss %.7g (PyTorch %.7g); largest relative difference of the "
           "scores, parameters and buffers %.2g (%s)\n", (double)loss_got, loss_want, worst,
           worst_name);
done:
    hvp_optim_destroy(opt);
    hvp_selector_destroy(sel);
    hvp_method_destroy(m);
    hvp_st_close(f);
}

/* The golden file's ViT (drop path 0). */
static hvp_backbone_config golden_vit(const hvp_st_file *f)
{
    return hvp_vit_backbone_config(&(hvp_vit_config){
        test_meta_int(f, "S"), test_meta_int(f, "patch"), test_meta_int(f, "C"),
        test_meta_int(f, "dim"), test_meta_int(f, "depth"), test_meta_int(f, "heads"),
        (float)test_meta_int(f, "mlp_ratio"), 0.0f, 0});
}

/* ResNet-18 with the CIFAR stem at the golden file's width and input channels, or where the
 * file says arch = vit its ViT. */
static hvp_backbone_config golden_backbone(const hvp_st_file *f)
{
    const char *arch = hvp_st_metadata(f, "arch");
    if (arch && strcmp(arch, "vit") == 0)
        return golden_vit(f);
    return hvp_resnet_backbone_config(&(hvp_resnet_config){
        18, test_meta_int(f, "C"), 1, (float)test_meta_double(f, "width"), 0});
}

static hvp_status make_simsiam(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m)
{
    hvp_simsiam_config sc = {golden_backbone(f), test_meta_int(f, "proj_dim"), 0,
                             test_meta_int(f, "pred_dim"), 0};
    return hvp_simsiam_create(ctx, &sc, m);
}

static hvp_status make_simclr(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m)
{
    hvp_simclr_config sc = {golden_backbone(f), test_meta_int(f, "proj_dim"),
                            test_meta_int(f, "proj_hidden_dim"), (float)test_meta_double(f, "temperature"), 0};
    return hvp_simclr_create(ctx, &sc, m);
}

/* SimSiam's loss is near zero (-0.0086: nearly orthogonal p and z), so its gradients are
 * differences of close numbers: PyTorch itself in float32 ends 5e-5 from the double
 * reference on encoder.layer2.0.conv2.weight, and hvp 2.6e-5 to 1.3e-4 depending on which
 * convolution paths sum (all implicit, all column matrices, the default mix). */
HVP_TEST(simsiam_golden_step)
{
    golden_step(HVP_TEST_DATA "/simsiam_golden.safetensors", make_simsiam, 3e-4);
}

HVP_TEST(simclr_golden_step)
{
    golden_step(HVP_TEST_DATA "/simclr_golden.safetensors", make_simclr, 1e-4);
}

/* norm_last_layer false in the golden file, so weight_g is trained; the schedules put step 0
 * in the teacher temperature's warm-up (epoch 0 of 10 steps each) at momentum m0. */
static hvp_status make_dino(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m)
{
    hvp_dino_config dc;
    memset(&dc, 0, sizeof dc);
    dc.backbone = golden_backbone(f);
    dc.out_dim = test_meta_int(f, "out_dim");
    dc.hidden_dim = test_meta_int(f, "hidden_dim");
    dc.bottleneck_dim = test_meta_int(f, "bottleneck_dim");
    dc.norm_last_layer = test_meta_int(f, "norm_last_layer");
    dc.student_temp = (float)test_meta_double(f, "student_temp");
    dc.teacher_temp = (float)test_meta_double(f, "teacher_temp");
    dc.warmup_teacher_temp = (float)test_meta_double(f, "warmup_teacher_temp");
    dc.warmup_teacher_temp_epochs = test_meta_int(f, "warmup_teacher_temp_epochs");
    dc.teacher_momentum = (float)test_meta_double(f, "teacher_momentum");
    dc.center_momentum = (float)test_meta_double(f, "center_momentum");
    HVP_TRY(hvp_dino_create(ctx, &dc, m));
    hvp_dino_set_schedule(*m, 10, 100);
    return HVP_OK;
}

HVP_TEST(dino_golden_step)
{
    golden_step(HVP_TEST_DATA "/dino_golden.safetensors", make_dino, 1e-4);
}

/* The same with two local views of 8 px per image in the student's loss. */
HVP_TEST(dino_multicrop_golden_step)
{
    golden_step(HVP_TEST_DATA "/dino_multicrop_golden.safetensors", make_dino, 1e-4);
}

/* The paper's DINO hard views: (even, odd) pairs, 2 of 4 local candidates kept jointly
 * with the pair by the multi-crop loss (tools/make_dino_golden.py --local 2 --candidates 4). */
HVP_TEST(dino_local_select_golden_step)
{
    golden_step(HVP_TEST_DATA "/dino_local_select_golden.safetensors", make_dino, 1e-4);
}

/* DINO on a two-block ViT (16 px globals, patch 4) with two local views of 8 px per image:
 * the locals' position embedding is interpolated from the 4 x 4 grid to 2 x 2. */
HVP_TEST(dino_vit_multicrop_golden_step)
{
    golden_step(HVP_TEST_DATA "/dino_vit_multicrop_golden.safetensors", make_dino, 1e-4);
}

/* iBOT on a two-block ViT (img 32, patch 8), norm_last_layer false, drop path 0, with the
 * golden file's masks replayed (the selection pass's and the step's); the schedules put
 * step 0 in the temperatures' warm-up (epoch 0 of 10 steps each) at momentum m0. */
static hvp_status make_ibot(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m)
{
    hvp_ibot_config ic;
    memset(&ic, 0, sizeof ic);
    ic.backbone = golden_vit(f);
    ic.out_dim = test_meta_int(f, "out_dim");
    ic.patch_out_dim = test_meta_int(f, "patch_out_dim");
    ic.hidden_dim = test_meta_int(f, "hidden_dim");
    ic.bottleneck_dim = test_meta_int(f, "bottleneck_dim");
    ic.norm_last_layer = test_meta_int(f, "norm_last_layer");
    ic.student_temp = (float)test_meta_double(f, "student_temp");
    ic.teacher_temp = (float)test_meta_double(f, "teacher_temp");
    ic.warmup_teacher_temp = (float)test_meta_double(f, "warmup_teacher_temp");
    ic.teacher_patch_temp = (float)test_meta_double(f, "teacher_patch_temp");
    ic.warmup_teacher_patch_temp = (float)test_meta_double(f, "warmup_teacher_patch_temp");
    ic.warmup_teacher_temp_epochs = test_meta_int(f, "warmup_teacher_temp_epochs");
    ic.teacher_momentum = (float)test_meta_double(f, "teacher_momentum");
    ic.center_momentum = (float)test_meta_double(f, "center_momentum");
    /* shared_head 0 in the file: the student's and the teacher's own last_layer2 */
    ic.separate_head = ic.separate_head_teacher = test_meta_int(f, "shared_head") == 0;
    ic.lambda1 = (float)test_meta_double(f, "lambda1");
    ic.lambda2 = (float)test_meta_double(f, "lambda2");
    ic.mask_prob = 0.5f;
    ic.mask_ratio_min = 0.1f;
    ic.mask_ratio_max = 0.5f;
    HVP_TRY(hvp_ibot_create(ctx, &ic, m));
    hvp_ibot_set_schedule(*m, 10, 100);
    int b = test_meta_int(f, "B"), n = test_meta_int(f, "N");
    return hvp_ibot_set_masks(*m, hvp_st_find(f, "score_masks")->data, n * b,
                              hvp_st_find(f, "train_masks")->data, 2 * b);
}

HVP_TEST(ibot_golden_step)
{
    golden_step(HVP_TEST_DATA "/ibot_golden.safetensors", make_ibot, 1e-4);
}

/* The same with a separate patch head (shared_head false for both networks, patch_out_dim 24
 * against out_dim 32) and two local views of 16 px per image: their 2 x 2 patch grid gets
 * pos_embed interpolated, their class outputs join the class term, unmasked. */
HVP_TEST(ibot_multicrop_golden_step)
{
    golden_step(HVP_TEST_DATA "/ibot_multicrop_golden.safetensors", make_ibot, 1e-4);
}

/* BYOL through the registry (method.name = byol) with the golden file's sizes and tau
 * schedule; one LARS step (clip_lr, exclude_bias_n_norm), then the EMA of the step the
 * file names (ema_step of max_steps, between base_tau and final_tau). */
static hvp_status make_byol(hvp_ctx *ctx, const hvp_st_file *f, hvp_method **m)
{
    hvp_config c;
    hvp_config_defaults(&c);
    HVP_TRY(hvp_config_set(&c, "method", "name", "byol", "test", 0));
    c.optim.fix_pred_lr = 0; /* SimSiam's rule (no effect on BYOL) */
    c.method.proj_hidden_dim = test_meta_int(f, "proj_hidden_dim");
    c.method.proj_dim = test_meta_int(f, "proj_dim");
    c.method.pred_hidden_dim = test_meta_int(f, "pred_hidden_dim");
    c.method.teacher_momentum = test_meta_double(f, "base_tau");
    c.method.final_tau = test_meta_double(f, "final_tau");
    hvp_backbone_config bc = golden_backbone(f);
    HVP_TRY(hvp_method_from_config(ctx, &c, &bc, m));
    (*m)->ops->set_schedule(*m, test_meta_int(f, "steps_per_epoch"),
                            test_meta_int(f, "max_steps"));
    return HVP_OK;
}

HVP_TEST(byol_golden_step)
{
    golden_step(HVP_TEST_DATA "/byol_golden.safetensors", make_byol, 1e-4);
}
