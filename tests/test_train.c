/* Whole runs of the hvp program on a tiny ImageFolder: the same config twice gives
 * identical weights; a run killed with SIGKILL mid-epoch and resumed ends with the weights
 * of an uninterrupted run; configs/simsiam_r50.ini trains on any ImageFolder. */
#include <math.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "hvp/logs.h"
#include "hvp/safetensors.h"
#include "hvp/ssl.h"
#include "hvp/train.h"
#include "test_data_util.h"
#include "test_train_util.h"

#ifndef HVP_SRCDIR
#define HVP_SRCDIR "."
#endif

/* extra: config lines appended; tensor: a name the checkpoint must hold (the method ran). */
static void deterministic_and_resumes(const char *extra, const char *tensor)
{
    if (test_tiny()) {
        test_skip("whole runs; their kernels are checked by the op tests");
        return;
    }
    const char *root = td_dir();
    tr_make_folder(root, 12); /* 24 training images: 3 steps of 8 per epoch */
    char cfg[1024], log[1024], dir_a[1024], dir_b[1024], dir_c[1024], over[3][1100];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", root);
    snprintf(log, sizeof log, "%s/log.txt", root);
    tr_write_config(cfg, root, 4, extra);
    snprintf(dir_a, sizeof dir_a, "%s/run_a", root);
    snprintf(dir_b, sizeof dir_b, "%s/run_b", root);
    snprintf(dir_c, sizeof dir_c, "%s/run_c", root);

    snprintf(over[0], sizeof over[0], "run.dir=%s", dir_a);
    int rc = tr_run(log, (const char *[]){cfg, over[0], NULL});
    if (rc != 0) {
        tr_show_log(log);
        TEST_FAIL("hvp exited with %d", rc);
        return;
    }
    snprintf(over[1], sizeof over[1], "run.dir=%s", dir_b);
    rc = tr_run(log, (const char *[]){cfg, over[1], NULL});
    EXPECT(rc == 0, "second run exited with %d", rc);

    /* Kill the third run with SIGKILL in its third epoch (steps.csv has a header line). */
    snprintf(over[2], sizeof over[2], "run.dir=%s", dir_c);
    char steps[1200];
    snprintf(steps, sizeof steps, "%s/steps.csv", dir_c);
    pid_t pid = tr_spawn(log, (const char *[]){cfg, over[2], "log.every=1", NULL});
    tr_wait_for_lines(pid, steps, 1 + 7, 120);
    tr_signal(pid, SIGKILL);
    rc = tr_finish(pid);
    EXPECT(rc == 128 + SIGKILL, "the run to kill ended by itself (%d) before its third epoch",
           rc);
    int64_t killed_at = 0;
    size_t size_k;
    EXPECT(tr_final_weights(dir_c, &size_k, &killed_at) && killed_at < 12,
           "the killed run should have left a checkpoint before its end (latest: step %lld)",
           (long long)killed_at);
    rc = tr_run(log, (const char *[]){cfg, over[2], "log.every=1", NULL}); /* resume = auto */
    EXPECT(rc == 0, "the resumed run exited with %d", rc);

    size_t size_a = 0, size_b = 0, size_c = 0;
    int64_t step_a = 0, step_b = 0, step_c = 0;
    unsigned char *a = tr_final_weights(dir_a, &size_a, &step_a);
    unsigned char *b = tr_final_weights(dir_b, &size_b, &step_b);
    unsigned char *c = tr_final_weights(dir_c, &size_c, &step_c);
    if (!a || !b || !c) {
        TEST_FAIL("a run left no final checkpoint");
        return;
    }
    EXPECT(step_a == 12 && step_b == 12 && step_c == 12, "final steps %lld %lld %lld, want 12",
           (long long)step_a, (long long)step_b, (long long)step_c);
    EXPECT(tr_contains(a, size_a, tensor), "the checkpoint holds no %s", tensor);
    EXPECT(size_a == size_b && memcmp(a, b, size_a) == 0,
           "the same config twice gave different weights");
    EXPECT(size_a == size_c && memcmp(a, c, size_a) == 0,
           "killed at step %lld and resumed: weights differ from the uninterrupted run",
           (long long)killed_at);
    td_cleanup();
}

HVP_TEST(train_deterministic_and_resumes_after_sigkill)
{
    deterministic_and_resumes("", "\"encoder.conv1.weight\"");
}

/* DINO with two local crops: the teacher (buffers), the center, the schedules by step and
 * the frozen last layer of the first epoch all resume exactly. */
HVP_TEST(train_dino_deterministic_and_resumes_after_sigkill)
{
    deterministic_and_resumes("[method]\nname = dino\nout_dim = 64\nbottleneck_dim = 8\n"
                              "warmup_teacher_temp_epochs = 2\nteacher_temp = 0.07\n"
                              "[optim]\nname = adamw\nlr = 0.001\nweight_decay = 0.04\n"
                              "weight_decay_end = 0.4\nclip_grad = 3.0\nwarmup_epochs = 1\n"
                              "[data]\nlocal_crops = 2\nlocal_image_size = 8\n"
                            "odd_solarize_prob = 0.2\nlocal_blur_prob = 0.5\n",
                              "\"teacher.head.last_layer.weight_g\"");
}

/* iBOT on a ViT-Tiny (patch 8) with a separate patch head and two 8-px local crops (their
 * pos_embed interpolated): the masks drawn per step, sample and view, drop path, the
 * teacher, both centers and the schedules all resume exactly. */
HVP_TEST(train_ibot_deterministic_and_resumes_after_sigkill)
{
    deterministic_and_resumes("[model]\narch = vit_tiny\npatch_size = 8\ndrop_path = 0.1\n"
                              "[method]\nname = ibot\nout_dim = 32\npatch_out_dim = 24\n"
                              "shared_head = false\nshared_head_teacher = false\n"
                              "bottleneck_dim = 8\nmask_prob = 0.8\n"
                              "warmup_teacher_temp_epochs = 2\nteacher_temp = 0.07\n"
                              "[optim]\nname = adamw\nlr = 0.001\nweight_decay = 0.04\n"
                              "weight_decay_end = 0.4\nclip_grad = 3.0\nwarmup_epochs = 1\n"
                              "[data]\nlocal_crops = 2\nlocal_image_size = 8\n",
                              "\"teacher.head.last_layer2.weight_v\"");
}

/* BYOL with solo-learn's LARS and hard views: the momentum network (buffers), its tau
 * schedule by step and the LARS momentum buffers all resume exactly. */
#define BYOL_TINY "[method]\nname = byol\npred_hidden_dim = 16\nteacher_momentum = 0.9\n"     \
                  "final_tau = 1.0\n[optim]\nname = lars\nlr = 1.0\nweight_decay = 1e-5\n"  \
                  "lars_eta = 0.02\nlars_clip_lr = true\nwarmup_epochs = 1\n"
HVP_TEST(train_byol_deterministic_and_resumes_after_sigkill)
{
    deterministic_and_resumes(BYOL_TINY, "\"momentum_projector.3.weight\"");
}

/* BYOL without hard views (two random views): a run trains, and its checkpoint holds the
 * online network and the momentum network, which has left its start (a copy of the online
 * initialisation, rebuilt here in process) by the EMA without becoming the online one. */
HVP_TEST(train_byol_without_hvp_moves_the_momentum_network)
{
    tr_files t;
    if (!tr_begin(&t, 12, 1, BYOL_TINY))
        return;
    hvp_config c;
    hvp_ctx *ctx = NULL;
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_config_load(t.cfg, &c));
    REQUIRE_OK(hvp_train_open_device(&c, &ctx));
    REQUIRE_OK(hvp_train_make_method(ctx, &c, 3, &m));
    hvp_buffer *start = hvp_state_find_buffer(&m->state, "momentum_backbone.conv1.weight");
    REQUIRE_OK(start ? HVP_OK : HVP_FAIL(HVP_ERR_ARG, "no momentum_backbone.conv1.weight"));
    size_t n = hvp_numel(&start->value);
    float *init = test_floats(n);
    REQUIRE_OK(hvp_tensor_download(ctx, &start->value, init));
    hvp_method_destroy(m);
    hvp_ctx_destroy(ctx);

    int rc = tr_run(t.log, (const char *[]){t.cfg, t.over_dir, "hvp.enabled=false", NULL});
    if (rc != 0)
        tr_show_log(t.log);
    EXPECT(rc == 0, "hvp exited with %d", rc);
    char ckpt[1100], path[1200];
    int64_t step = 0;
    hvp_st_file *f = NULL;
    if (hvp_ckpt_find_latest(t.run_dir, ckpt, sizeof ckpt, &step) != HVP_OK) {
        TEST_FAIL("no checkpoint in %s", t.run_dir);
        td_cleanup();
        return;
    }
    snprintf(path, sizeof path, "%s/" HVP_CKPT_WEIGHTS, ckpt);
    REQUIRE_OK(hvp_st_open(path, &f));
    const hvp_st_tensor *online = hvp_st_find(f, "backbone.conv1.weight");
    const hvp_st_tensor *momentum = hvp_st_find(f, "momentum_backbone.conv1.weight");
    EXPECT(step == 3, "final step %lld, want 3", (long long)step);
    EXPECT(online && momentum && hvp_st_find(f, "predictor.3.bias") &&
               hvp_st_find(f, "momentum_projector.1.running_var"),
           "the checkpoint lacks a BYOL tensor");
    if (online && momentum) {
        EXPECT(memcmp(momentum->data, init, n * sizeof(float)) != 0,
               "the momentum network did not move");
        EXPECT(memcmp(momentum->data, online->data, n * sizeof(float)) != 0,
               "the momentum network equals the online one");
    }
    hvp_st_close(f);
    td_cleanup();
}

/* optim.fix_pred_lr is SimSiam's rule (its policy's fixed_lr_prefix): BYOL's predictor
 * follows the schedule (solo-learn) with the flag on or off, so both runs end bitwise
 * alike; SimSiam's runs differ. */
static void fix_pred_lr_runs(const char *extra, int want_same)
{
    tr_files t;
    if (!tr_begin(&t, 4, 2, extra))
        return;
    unsigned char *w[2];
    size_t n[2];
    for (int on = 0; on < 2; on++) {
        char over[64], dir[1100];
        snprintf(over, sizeof over, "optim.fix_pred_lr=%s", on ? "true" : "false");
        snprintf(dir, sizeof dir, "run.dir=%s/run_%d", t.root, on);
        int rc = tr_run(t.log, (const char *[]){t.cfg, dir, over, NULL});
        if (rc != 0)
            tr_show_log(t.log);
        snprintf(dir, sizeof dir, "%s/run_%d", t.root, on);
        int64_t step;
        w[on] = rc == 0 ? tr_final_weights(dir, &n[on], &step) : NULL;
        EXPECT(w[on], "%s: exit %d", over, rc);
    }
    if (w[0] && w[1])
        EXPECT((n[0] == n[1] && memcmp(w[0], w[1], n[0]) == 0) == want_same,
               "runs with optim.fix_pred_lr on and off should %s", want_same ? "match" : "differ");
    td_cleanup();
}

HVP_TEST(train_fix_pred_lr_is_simsiams_rule_only)
{
    fix_pred_lr_runs(BYOL_TINY, 1);
    fix_pred_lr_runs("", 0);
}

/* method.freeze_last_layer = 1: after one epoch the student's last layer is as initialised
 * (by run.seed, rebuilt here in process); with 0 it has moved. */
HVP_TEST(train_dino_freezes_the_last_layer_in_the_first_epoch)
{
    if (test_tiny()) {
        test_skip("whole runs; their kernels are checked by the op tests");
        return;
    }
    const char *root = td_dir();
    tr_make_folder(root, 12);
    char cfg[1024], log[1024], over_dir[1100];
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", root);
    snprintf(log, sizeof log, "%s/log.txt", root);
    tr_write_config(cfg, root, 1, "[method]\nname = dino\nout_dim = 32\nbottleneck_dim = 8\n"
                                    "norm_last_layer = false\n[optim]\nname = adamw\n"
                                    "lr = 0.01\nweight_decay = 0.04\n");
    hvp_config c;
    hvp_ctx *ctx = NULL;
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_config_load(cfg, &c));
    REQUIRE_OK(hvp_train_open_device(&c, &ctx));
    REQUIRE_OK(hvp_train_make_method(ctx, &c, 3, &m));
    static const char *const names[] = {"student.head.last_layer.weight_v",
                                        "student.head.last_layer.weight_g"};
    float *init[2];
    size_t n[2];
    for (int i = 0; i < 2; i++) {
        hvp_param *p = hvp_state_find_param(&m->state, names[i]);
        REQUIRE_OK(p ? HVP_OK : HVP_FAIL(HVP_ERR_ARG, "no %s", names[i]));
        n[i] = hvp_numel(&p->value);
        init[i] = test_floats(n[i]);
        REQUIRE_OK(hvp_tensor_download(ctx, &p->value, init[i]));
    }
    hvp_method_destroy(m);
    hvp_ctx_destroy(ctx);
    for (int freeze = 1; freeze >= 0; freeze--) {
        char over_freeze[64], dir[1024], ckpt[1100], path[1200];
        snprintf(dir, sizeof dir, "%s/run_%d", root, freeze);
        snprintf(over_dir, sizeof over_dir, "run.dir=%s", dir);
        snprintf(over_freeze, sizeof over_freeze, "method.freeze_last_layer=%d", freeze);
        int rc = tr_run(log, (const char *[]){cfg, over_dir, over_freeze, NULL});
        if (rc != 0)
            tr_show_log(log);
        EXPECT(rc == 0, "hvp exited with %d", rc);
        int64_t step = 0;
        hvp_st_file *f = NULL;
        if (hvp_ckpt_find_latest(dir, ckpt, sizeof ckpt, &step) != HVP_OK) {
            TEST_FAIL("no checkpoint in %s", dir);
            continue;
        }
        snprintf(path, sizeof path, "%s/" HVP_CKPT_WEIGHTS, ckpt);
        REQUIRE_OK(hvp_st_open(path, &f));
        for (int i = 0; i < 2; i++) {
            const hvp_st_tensor *t = hvp_st_find(f, names[i]);
            int same = t && memcmp(t->data, init[i], n[i] * sizeof(float)) == 0;
            EXPECT(same == freeze, "freeze_last_layer=%d: %s %s after the first epoch", freeze,
                   names[i], same ? "unchanged" : "changed");
        }
        hvp_st_close(f);
    }
    td_cleanup();
}

HVP_TEST(train_simsiam_r50_config_on_an_imagefolder)
{
    if (test_tiny()) {
        test_skip("a whole run; its kernels are checked by the op tests");
        return;
    }
    const char *root = td_dir();
    tr_make_folder(root, 4);
    char log[1024], over_root[1100], over_dir[1100];
    snprintf(log, sizeof log, "%s/log.txt", root);
    snprintf(over_root, sizeof over_root, "data.root=%s", root);
    snprintf(over_dir, sizeof over_dir, "run.dir=%s/r50", root);
    /* The paper's config, shrunk to one step of 4 images at 32 px for a CPU test. */
    int rc = tr_run(log, (const char *[]){HVP_SRCDIR "/configs/simsiam_r50.ini", over_root, over_dir,
                                       "data.batch_size=4", "data.image_size=32",
                                       "train.max_steps=1", "eval.every=0", "log.progress=off",
                                       "data.workers=1", NULL});
    if (rc != 0)
        tr_show_log(log);
    EXPECT(rc == 0, "hvp configs/simsiam_r50.ini data.root=DIR exited with %d", rc);
    size_t size;
    int64_t step;
    char run_dir[1100];
    snprintf(run_dir, sizeof run_dir, "%s/r50", root);
    EXPECT(tr_final_weights(run_dir, &size, &step) && step == 1, "no checkpoint after the step");

    /* Both evaluations of the run's checkpoint, from the command line. */
    static const char *const evals[] = {"knn", "linear"}, *const says[] = {"kNN", "linear probe"};
    for (int e = 0; e < 2; e++) {
        rc = tr_run(log, (const char *[]){evals[e], run_dir, "eval.linear_epochs=3", NULL});
        const char *text = tr_log_text(log);
        EXPECT(rc == 0 && strstr(text, says[e]) && strstr(text, "top-1"),
               "hvp %s RUN exited with %d: %s", evals[e], rc, text);
    }

    /* Without data.root the config says what to do. */
    rc = tr_run(log, (const char *[]){HVP_SRCDIR "/configs/simsiam_r50.ini", NULL});
    EXPECT(rc != 0, "simsiam_r50.ini without data.root should fail");
    const char *text = tr_log_text(log);
    EXPECT(strstr(text, "data.root") && strstr(text, "quickstart"),
           "the error should name data.root and the quick-start config: %s", text);
    td_cleanup();
}

HVP_TEST(train_nan_loss_stops_and_keeps_the_last_checkpoint)
{
    tr_files f;
    if (!tr_begin(&f, 12, 1, ""))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    int64_t step = 0;
    size_t size_good;
    if (rc != 0 || !tr_final_weights(f.run_dir, &size_good, &step) || step != 3) {
        tr_show_log(f.log);
        TEST_FAIL("the first epoch did not end in a checkpoint at step 3 (exit %d)", rc);
        return;
    }
    /* A huge weight (finite: NaN and Inf are refused when loading) makes the loss of the
     * next step not a number. */
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoints/step-0000000003/" HVP_CKPT_WEIGHTS, f.run_dir);
    tr_tamper(path, "predictor.3.bias", 3e38f, NULL, NULL);
    unsigned char *good = test_read_file(path, &size_good);

    rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "train.epochs=3", NULL});
    EXPECT(rc != 0, "a NaN loss should stop the run with an error");
    const char *text = tr_log_text(f.log);
    EXPECT(strstr(text, "nan at step 4") != NULL, /* "-nan" on some platforms */
           "the message should name the NaN loss and step 4: %s", text);
    EXPECT(tr_final_weights(f.run_dir, &size_good, &step) && step == 3,
           "a checkpoint after the NaN was written (latest step %lld)", (long long)step);
    size_t size_again;
    unsigned char *again = test_read_file(path, &size_again);
    EXPECT(size_again == size_good && memcmp(again, good, size_good) == 0,
           "the last good checkpoint changed");
    td_cleanup();
}

HVP_TEST(train_out_of_device_memory_names_the_allocation)
{
    tr_files f;
    if (!tr_begin(&f, 4, 1, ""))
        return;
    /* 256-px views need far more than the 8 MiB the limit leaves beyond the first blocks. */
    char limit[64];
    snprintf(limit, sizeof limit, "device.memory_limit_mb=%zu", (test_ctx()->memory_held >> 20) + 8);
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, limit, "data.image_size=256", NULL});
    const char *msg = tr_log_text(f.log);
    EXPECT(rc == 1, "running out of device memory should end the run with exit 1, not %d", rc);
    EXPECT(strstr(msg, "out of device memory") && strstr(msg, " MiB") &&
               strstr(msg, "smaller batch"),
           "the message should name the allocation, its size and the remedy: %s", msg);
    td_cleanup();
}

/* After its first step a training step creates no device buffer and waits for the device
 * once (its loss): uploads (views, masks, labels) go through the context's staging slots.
 * SimCLR, iBOT and DINO with hard view selection, 10 steps each, in this process. */
static void steady_steps_do_not_allocate_or_wait(const char *extra)
{
    tr_files f;
    if (!tr_begin(&f, 8, 5, extra)) /* 16 images, batch 8: 10 steps */
        return;
    hvp_config c;
    REQUIRE_OK(hvp_config_load(f.cfg, &c));
    REQUIRE_OK(hvp_config_override(&c, f.over_dir));
    hvp_train_result r;
    REQUIRE_OK(hvp_train(&c, NULL, &r));
    EXPECT(r.steps == 10 && r.steady_steps == 9, "%ld steps, %ld after the first", r.steps,
           r.steady_steps);
    EXPECT(r.steady_buffers == 0, "steps 2-10 created %ld device buffers", r.steady_buffers);
    EXPECT(r.steady_waits == r.steady_steps, "steps 2-10 waited %ld times for the device",
           r.steady_waits);
    td_cleanup();
}

HVP_TEST(train_simclr_steps_do_not_allocate_or_wait)
{
    steady_steps_do_not_allocate_or_wait("[method]\nname = simclr\n");
}

/* iBOT with local crops and views scored at 8 px: a ViT at three resolutions, pos_embed
 * interpolated for two of them. */
HVP_TEST(train_ibot_steps_do_not_allocate_or_wait)
{
    steady_steps_do_not_allocate_or_wait(
        "[model]\narch = vit_tiny\npatch_size = 8\n"
        "[method]\nname = ibot\nout_dim = 32\npatch_out_dim = 32\nbottleneck_dim = 8\n"
        "mask_prob = 0.8\n[optim]\nname = adamw\nlr = 0.001\n"
        "[data]\nlocal_crops = 2\nlocal_image_size = 8\n[hvp]\nselect_resolution = 8\n");
}

/* DINO with local-crop selection under a cap: the drawn combinations go up through the
 * staging slots, the kept locals come back without a wait. */
HVP_TEST(train_dino_local_selection_steps_do_not_allocate_or_wait)
{
    steady_steps_do_not_allocate_or_wait(
        "[method]\nname = dino\nout_dim = 32\nbottleneck_dim = 8\n"
        "[data]\nlocal_crops = 2\nlocal_image_size = 8\n"
        "[hvp]\nlocal_candidates = 4\nlimit_comparisons = 5\n");
}

/* A checkpoint written by an earlier hvp (tests/data/checkpoint_v1/: weights and state of
 * step 1 of this test's run, SimSiam on a ResNet-18 at width 1/8 with SGD momentum,
 * written by this test with HVP_WRITE_CHECKPOINT_V1=DIR before parameters moved into flat
 * storage) resumes: the run continues at step 2. */
HVP_TEST(train_resumes_a_checkpoint_of_an_earlier_version)
{
    tr_files f;
    if (!tr_begin(&f, 4, 2, "")) /* 8 images, batch 8: one step per epoch */
        return;
    const char *write_to = getenv("HVP_WRITE_CHECKPOINT_V1");
    char step1[1200], cmd[3000];
    snprintf(step1, sizeof step1, "%s/checkpoints/step-%010d", f.run_dir, 1);
    if (write_to && *write_to) {
        int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "train.max_steps=1", NULL});
        snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/* '%s'/", write_to, step1, write_to);
        EXPECT(rc == 0 && system(cmd) == 0, "writing the checkpoint to %s", write_to);
        td_cleanup();
        return;
    }
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/checkpoint_v1/* '%s'/", step1,
             HVP_TEST_DATA, step1);
    REQUIRE_OK(system(cmd) == 0 ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "%s failed", cmd));
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    const char *text = tr_log_text(f.log);
    if (rc != 0)
        tr_show_log(f.log);
    EXPECT(rc == 0 && strstr(text, "resumed from") && strstr(text, "step 1)"),
           "the old checkpoint did not resume (exit %d)", rc);
    size_t n;
    int64_t step = 0;
    unsigned char *w = tr_final_weights(f.run_dir, &n, &step);
    EXPECT(w && step == 2, "the resumed run ended at step %lld", (long long)step);
    td_cleanup();
}

/* A run with kNN evaluation reports raw-pixel kNN on the same samples beside its own (the
 * result, epochs.jsonl), computed once per dataset: the cache file holds it, and a cached
 * value is what a later run reports. */
HVP_TEST(train_reports_the_raw_pixel_baseline)
{
    tr_files f;
    if (!tr_begin(&f, 8, 1, ""))
        return;
    char cache[1100], old_cache[4096] = "";
    snprintf(cache, sizeof cache, "%s/cache", f.root);
    const char *prev = getenv("HVP_CACHE_DIR");
    if (prev)
        snprintf(old_cache, sizeof old_cache, "%s", prev);
    setenv("HVP_CACHE_DIR", cache, 1);
    hvp_config c;
    REQUIRE_OK(hvp_config_load(f.cfg, &c));
    REQUIRE_OK(hvp_config_override(&c, f.over_dir));
    REQUIRE_OK(hvp_config_override(&c, "eval.every=1"));
    REQUIRE_OK(hvp_config_override(&c, "eval.at_start=true"));
    hvp_train_result r;
    hvp_status st = hvp_train(&c, NULL, &r);
    EXPECT(st == HVP_OK, "run: %s", hvp_last_error());
    EXPECT(r.knn_pixels_top1 >= 0 && r.knn_pixels_top1 <= 100 && r.knn_init_top1 >= 0,
           "pixels %.2f, init %.2f", r.knn_pixels_top1, r.knn_init_top1);
    char jsonl[1200];
    snprintf(jsonl, sizeof jsonl, "%s/epochs.jsonl", f.run_dir);
    size_t n;
    unsigned char *text = test_read_file(jsonl, &n);
    EXPECT(text && tr_contains(text, n, "\"knn_pixels_top1\"") &&
               tr_contains(text, n, "\"knn_init_top1\""),
           "epochs.jsonl lacks the baseline");
    /* the cached value is reported again: make it one the samples cannot give */
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "sed -i '2s/.*/12.5 50/' '%s'/knn-pixels-*.txt", cache);
    EXPECT(system(cmd) == 0, "%s", cmd);
    snprintf(f.over_dir, sizeof f.over_dir, "run.dir=%s/run2", f.root);
    REQUIRE_OK(hvp_config_override(&c, f.over_dir));
    st = hvp_train(&c, NULL, &r);
    EXPECT(st == HVP_OK && r.knn_pixels_top1 == 12.5, "second run: %s, pixels %.2f",
           st == HVP_OK ? "ok" : hvp_last_error(), r.knn_pixels_top1);
    if (old_cache[0])
        setenv("HVP_CACHE_DIR", old_cache, 1);
    else
        unsetenv("HVP_CACHE_DIR");
    td_cleanup();
}

/* Points of the polyline of data-series `name` in an SVG text (-1 when absent). */
static int polyline_points(const char *svg, const char *name)
{
    char tag[128];
    snprintf(tag, sizeof tag, "data-series=\"%s\"", name);
    const char *p = svg ? strstr(svg, tag) : NULL;
    if (!p || !(p = strstr(p, "points=\"")))
        return -1;
    int n = 0;
    for (p += 8; *p && *p != '"'; p++)
        n += *p == ',';
    return n;
}

/* `hvp report` after a run: the HTML page and its plots exist, each plot holds the logged
 * points (a point per step in the loss plot, per evaluated epoch in the kNN plot, a bar per
 * pair of views with the last epoch's wins), and the views grid is made. */
HVP_TEST(train_report_plots_the_logged_points)
{
    tr_files f;
    if (!tr_begin(&f, 8, 2, "")) /* 16 images, batch 8: 4 steps */
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "eval.every=1", "log.every=1",
                                            NULL});
    EXPECT(rc == 0, "the run failed (exit %d)", rc);
    rc = tr_run(f.log, (const char *[]){"report", f.run_dir, NULL});
    const char *text = tr_log_text(f.log);
    EXPECT(rc == 0 && strstr(text, "report/index.html"), "hvp report: exit %d: %s", rc, text);
    char path[1300];
    size_t n;
    static const char *const files[] = {"index.html", "loss.svg", "lr.svg", "knn.svg",
                                        "hvp_loss.svg", "pair_wins.svg", "views.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/report/%s", f.run_dir, files[i]);
        EXPECT(test_read_file(path, &n) && n > 0, "no %s", path);
    }
    snprintf(path, sizeof path, "%s/report/loss.svg", f.run_dir);
    const char *loss = (const char *)test_read_file(path, &n);
    snprintf(path, sizeof path, "%s/steps.csv", f.run_dir);
    long steps = tr_lines(path) - 1;
    EXPECT(steps == 4 && polyline_points(loss, "loss") == 4, "loss.svg: %d points for %ld steps",
           polyline_points(loss, "loss"), steps);
    snprintf(path, sizeof path, "%s/report/knn.svg", f.run_dir);
    const char *knn = (const char *)test_read_file(path, &n);
    EXPECT(polyline_points(knn, "knn_top1") == 2 && polyline_points(knn, "knn_pixels_top1") == 2,
           "knn.svg: %d and %d points for 2 evaluated epochs", polyline_points(knn, "knn_top1"),
           polyline_points(knn, "knn_pixels_top1"));
    snprintf(path, sizeof path, "%s/report/pair_wins.svg", f.run_dir);
    const char *wins = (const char *)test_read_file(path, &n);
    int bars = 0;
    long total = 0;
    for (const char *p = wins; p && (p = strstr(p, "data-wins=\"")); p++, bars++)
        total += atol(p + 11);
    /* 3 views: 3 pairs; each of the epoch's 16 images chose one */
    EXPECT(bars == 3 && total == 16, "pair_wins.svg: %d bars, %ld wins", bars, total);
    td_cleanup();
}

/* `hvp export` of a run writes the backbone alone under exactly torchvision's resnet18
 * names with fc = nn.Identity() (tests/data/resnet18_torchvision_names.txt, made by
 * tools/make_export_names.py with PyTorch), batch-norm counts as I64; a format that does
 * not fit the architecture is refused. */
HVP_TEST(train_export_writes_torchvision_names)
{
    tr_files f;
    if (!tr_begin(&f, 4, 1, ""))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    EXPECT(rc == 0, "the run failed (exit %d)", rc);
    char out[1200];
    snprintf(out, sizeof out, "%s/backbone.safetensors", f.root);
    rc = tr_run(f.log, (const char *[]){"export", f.run_dir, "--out", out, "--format",
                                        "torchvision", NULL});
    EXPECT(rc == 0, "hvp export: exit %d: %s", rc, tr_log_text(f.log));
    rc = tr_run(f.log, (const char *[]){"export", f.run_dir, "--out", out, "--format", "timm",
                                        NULL});
    EXPECT(rc == 2 && strstr(tr_log_text(f.log), "torchvision names"),
           "--format timm for a ResNet: exit %d: %s", rc, tr_log_text(f.log));
    hvp_st_file *st = NULL;
    REQUIRE_OK(hvp_st_open(out, &st));
    size_t n;
    char *want = (char *)test_read_file(HVP_TEST_DATA "/resnet18_torchvision_names.txt", &n);
    int lines = 0;
    for (char *name = strtok(want, "\n"); name; name = strtok(NULL, "\n"), lines++) {
        const hvp_st_tensor *t = hvp_st_find(st, name);
        EXPECT(t, "the export lacks %s", name);
        if (t && strstr(name, "num_batches_tracked"))
            EXPECT(t->dtype == HVP_ST_I64, "%s is %s, not I64", name,
                   hvp_st_dtype_name(t->dtype));
    }
    EXPECT(lines == 120 && hvp_st_count(st) == lines, "%d tensors exported, %d expected",
           hvp_st_count(st), lines);
    hvp_st_close(st);
    td_cleanup();
}

/* A copy of the safetensors file src at dst with tensor `bad` (NULL: none) given one more
 * row, and, when extra, torchvision's classifier fc.weight [10, 64] added. */
static void copy_backbone(const char *src, const char *dst, const char *bad, int extra)
{
    hvp_st_file *f = NULL;
    hvp_st_writer *w = NULL;
    REQUIRE_OK(hvp_st_open(src, &f));
    REQUIRE_OK(hvp_st_writer_new(&w));
    for (int i = 0; i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        int64_t shape[HVP_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        const void *data = t->data;
        if (bad && strcmp(t->name, bad) == 0) {
            shape[0]++;
            void *grown = test_alloc(t->nbytes / (size_t)t->shape[0] * (size_t)shape[0]);
            data = grown;
        }
        REQUIRE_OK(hvp_st_add(w, t->name, t->dtype, t->ndim, shape, data));
    }
    if (extra)
        REQUIRE_OK(hvp_st_add_f32(w, "fc.weight", 2, (int[]){10, 64}, test_floats(640)));
    REQUIRE_OK(hvp_st_save(w, dst));
    hvp_st_writer_free(w);
    hvp_st_close(f);
}

/* model.init: an exported backbone starts every copy of a method's backbone (SimSiam's
 * encoder; DINO's student and teacher); torchvision's classifier in the file is ignored; a
 * misshaped tensor or a file of another architecture is refused naming a tensor. */
HVP_TEST(train_model_init_from_an_exported_backbone)
{
    tr_files f;
    if (!tr_begin(&f, 4, 1, ""))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    char out[1200], with_fc[1200], bad[1200], init[1300];
    snprintf(out, sizeof out, "%s/backbone.safetensors", f.root);
    snprintf(with_fc, sizeof with_fc, "%s/with_fc.safetensors", f.root);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", f.root);
    if (rc == 0)
        rc = tr_run(f.log, (const char *[]){"export", f.run_dir, "--out", out, NULL});
    REQUIRE_OK(rc == 0 ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "run or export failed: %d", rc));
    copy_backbone(out, with_fc, NULL, 1);
    copy_backbone(out, bad, "layer2.0.conv1.weight", 0);
    hvp_st_file *want = NULL;
    REQUIRE_OK(hvp_st_open(out, &want));
    const hvp_st_tensor *wt = hvp_st_find(want, "layer3.1.bn2.running_var");
    REQUIRE_OK(wt ? HVP_OK : HVP_FAIL(HVP_ERR_NOTFOUND, "no layer3.1.bn2.running_var"));
    static const char *const methods[][3] = {
        {"method.name=simsiam", "encoder.", NULL},
        {"method.name=dino", "student.backbone.", "teacher.backbone."},
    };
    for (int m = 0; m < 2; m++) {
        hvp_config c;
        REQUIRE_OK(hvp_config_load(f.cfg, &c));
        REQUIRE_OK(hvp_config_override(&c, methods[m][0]));
        snprintf(init, sizeof init, "model.init=%s", with_fc);
        REQUIRE_OK(hvp_config_override(&c, init));
        hvp_ctx *ctx = test_ctx();
        hvp_method *method = NULL;
        hvp_status st = hvp_train_make_method(ctx, &c, 3, &method);
        EXPECT(st == HVP_OK, "%s with model.init: %s", methods[m][0], hvp_last_error());
        for (int r = 1; st == HVP_OK && r < 3 && methods[m][r]; r++) {
            char name[128];
            snprintf(name, sizeof name, "%slayer3.1.bn2.running_var", methods[m][r]);
            hvp_buffer *b = hvp_state_find_buffer(&method->state, name);
            float got[64];
            EXPECT(b && hvp_numel(&b->value) * 4 == wt->nbytes && wt->nbytes <= sizeof got,
                   "%s: no %s of the file's size", methods[m][0], name);
            if (b && hvp_numel(&b->value) * 4 == wt->nbytes && wt->nbytes <= sizeof got) {
                REQUIRE_OK(hvp_tensor_download(ctx, &b->value, got));
                EXPECT(memcmp(got, wt->data, wt->nbytes) == 0, "%s: %s differs from the file",
                       methods[m][0], name);
            }
        }
        hvp_method_destroy(method);
        snprintf(init, sizeof init, "model.init=%s", bad);
        REQUIRE_OK(hvp_config_override(&c, init));
        size_t used = hvp_arena_used(ctx->params), held = ctx->memory_held;
        st = hvp_train_make_method(ctx, &c, 3, &method);
        EXPECT(st == HVP_ERR_FORMAT && strstr(hvp_last_error(), "layer2.0.conv1.weight"),
               "a misshaped tensor: %s", st == HVP_OK ? "accepted" : hvp_last_error());
        EXPECT(hvp_arena_used(ctx->params) == used && ctx->memory_held <= held,
               "the failed build kept device memory: parameters %zu bytes (%zu before), "
               "held %zu (%zu before)", hvp_arena_used(ctx->params), used, ctx->memory_held, held);
        snprintf(init, sizeof init, "model.init=%s", out);
        REQUIRE_OK(hvp_config_override(&c, init));
        REQUIRE_OK(hvp_config_override(&c, "model.arch=resnet34"));
        st = hvp_train_make_method(ctx, &c, 3, &method);
        EXPECT(st == HVP_ERR_FORMAT && strstr(hvp_last_error(), "does not fit"),
               "a ResNet-18 file for a ResNet-34: %s", st == HVP_OK ? "accepted" : hvp_last_error());
    }
    hvp_st_close(want);
    td_cleanup();
}

/* hvp compare-devices: the same device twice agrees exactly (exit 0, every pair the same,
 * the report made); a second run with another learning rate is flagged (exit 1). */
HVP_TEST(train_compare_devices_flags_a_difference)
{
    tr_files f;
    if (!tr_begin(&f, 8, 2, ""))
        return;
    char out[1100], path[1300];
    snprintf(out, sizeof out, "%s/same", f.root);
    int rc = tr_run(f.log, (const char *[]){"compare-devices", f.cfg, "--devices", "0,0",
                                            "--steps", "3", "--out", out, NULL});
    const char *text = tr_log_text(f.log);
    EXPECT(rc == 0 && strstr(text, "devices agree") && strstr(text, "100%"),
           "the same device twice: exit %d: %s", rc, text);
    static const char *const files[] = {"report.md", "report.json", "loss.svg",
                                        "divergence.svg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out, files[i]);
        size_t n;
        EXPECT(test_read_file(path, &n) && n > 0, "no %s", path);
    }
    snprintf(path, sizeof path, "%s/report.json", out);
    size_t n;
    unsigned char *json = test_read_file(path, &n);
    EXPECT(json && tr_contains(json, n, "\"passed\": true"), "report.json does not pass");
    snprintf(out, sizeof out, "%s/perturbed", f.root);
    rc = tr_run(f.log, (const char *[]){"compare-devices", f.cfg, "--devices", "0,0", "--steps",
                                        "3", "--out", out, "--set", "1:optim.lr=0.5", NULL});
    text = tr_log_text(f.log);
    EXPECT(rc == 1 && strstr(text, "devices DIFFER") && strstr(text, "> tolerance"),
           "a perturbed learning rate: exit %d: %s", rc, text);
    td_cleanup();
}

/* DINO with the paper's hard views in a whole run: (even, odd) pairs of 4 candidates, 2 of
 * 4 local candidates kept, at most 5 combinations scored per step; the chosen pair and
 * locals per image in chosen_pairs.csv, how often each local candidate was kept in
 * local_wins.csv. Fewer local candidates than data.local_crops is an error naming the key. */
HVP_TEST(train_dino_selects_local_crops_and_logs_them)
{
    tr_files f;
    if (!tr_begin(&f, 8, 1, "[method]\nname = dino\nout_dim = 32\nbottleneck_dim = 8\n"
                            "[data]\nlocal_crops = 2\nlocal_image_size = 8\n"
                            "[hvp]\nlocal_candidates = 4\nlimit_comparisons = 5\n"
                            "[log]\nchosen_pairs = true\n"))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "hvp.views=4", NULL});
    if (rc != 0)
        tr_show_log(f.log);
    EXPECT(rc == 0, "hvp exited with %d", rc);
    char path[1200];
    hvp_csv chosen, wins, pairs;
    snprintf(path, sizeof path, "%s/chosen_pairs.csv", f.run_dir);
    REQUIRE_OK(hvp_csv_read(path, &chosen));
    snprintf(path, sizeof path, "%s/local_wins.csv", f.run_dir);
    REQUIRE_OK(hvp_csv_read(path, &wins));
    snprintf(path, sizeof path, "%s/pair_wins.csv", f.run_dir);
    REQUIRE_OK(hvp_csv_read(path, &pairs));
    int cp = hvp_csv_column(&chosen, "pair"), c0 = hvp_csv_column(&chosen, "local_0"),
        c1 = hvp_csv_column(&chosen, "local_1");
    EXPECT(chosen.ncols == 5 && hvp_csv_column(&chosen, "step") == 0 &&
               hvp_csv_column(&chosen, "image") == 1 && cp == 2 && c0 == 3 && c1 == 4,
           "chosen_pairs.csv: step, image, pair, local_0, local_1 (%d columns)", chosen.ncols);
    EXPECT(chosen.nrows == 16, "chosen_pairs.csv: %d rows, want 2 steps x 8 images",
           chosen.nrows);
    for (int r = 0; cp == 2 && c1 == 4 && r < chosen.nrows; r++) {
        const double *row = chosen.v + (size_t)r * chosen.ncols;
        EXPECT(row[cp] >= 0 && row[cp] < 4, "row %d: pair %g of 4 (even, odd) pairs", r,
               row[cp]);
        EXPECT(row[c0] >= 0 && row[c0] < row[c1] && row[c1] < 4,
               "row %d: locals %g, %g: two of 4 candidates, ascending", r, row[c0], row[c1]);
    }
    int cw = hvp_csv_column(&wins, "wins"), cl = hvp_csv_column(&wins, "local_view");
    double kept = 0;
    for (int r = 0; cw >= 0 && cl >= 0 && r < wins.nrows; r++)
        kept += wins.v[(size_t)r * wins.ncols + cw];
    EXPECT(wins.nrows == 4 && kept == 2 * 16, "local_wins.csv: %d rows, %g kept, want 4 and 32",
           wins.nrows, kept);
    int ci = hvp_csv_column(&pairs, "first_view"), cj = hvp_csv_column(&pairs, "second_view");
    EXPECT(pairs.nrows == 4, "pair_wins.csv: %d pairs, want 4 (even, odd)", pairs.nrows);
    for (int r = 0; ci >= 0 && cj >= 0 && r < pairs.nrows; r++) {
        int i = (int)pairs.v[(size_t)r * pairs.ncols + ci];
        int j = (int)pairs.v[(size_t)r * pairs.ncols + cj];
        EXPECT(i % 2 == 0 && j % 2 == 1, "pair_wins.csv row %d: (%d, %d) is not (even, odd)", r,
               i, j);
    }
    EXPECT(strstr(tr_log_text(f.log), "local candidates kept"), "the epoch line of local wins");
    rc = tr_run(f.log, (const char *[]){"report", f.run_dir, NULL});
    snprintf(path, sizeof path, "%s/report/local_wins.svg", f.run_dir);
    size_t n;
    const char *svg = (const char *)test_read_file(path, &n);
    int bars = 0;
    long total = 0;
    for (const char *p = svg; p && (p = strstr(p, "data-wins=\"")); p++, bars++)
        total += atol(p + 11);
    EXPECT(rc == 0 && bars == 4 && total == 32, "hvp report: exit %d, local_wins.svg: %d bars, "
           "%ld kept", rc, bars, total);
    hvp_csv_free(&chosen);
    hvp_csv_free(&wins);
    hvp_csv_free(&pairs);

    rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "hvp.views=4",
                                         "hvp.local_candidates=1", NULL});
    EXPECT(rc != 0 && strstr(tr_log_text(f.log), "hvp.local_candidates = 1: at least "
                                                 "data.local_crops = 2"),
           "1 local candidate for 2 local crops: exit %d", rc);
}
