/* A checkpoint is checked, not trusted, when a run resumes from it: non-numeric, negative,
 * huge or inconsistent step and epoch in state.safetensors, and NaN or Inf in weights,
 * buffers or optimizer state, stop the run with a message naming the file and what was
 * expected, and leave the checkpoint as it was. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "test_data_util.h"
#include "test_train_util.h"

typedef struct damage {
    const char *file;   /* HVP_CKPT_WEIGHTS or HVP_CKPT_STATE */
    const char *tensor; /* element 0 set to value, or NULL */
    float value;
    const char *key; /* metadata set to text, or NULL */
    const char *text;
    const char *extra;  /* an override for the resumed run, or NULL */
    const char *says[2]; /* the message must hold both */
} damage;

/* Trains one epoch (a checkpoint at step 3), then for each damage: restores that
 * checkpoint, damages it, resumes, and checks the run fails with the message and leaves
 * the damaged checkpoint as it was and no other. */
static void resume_refuses(const damage *cases, int n)
{
    tr_files f;
    if (!tr_begin(&f, 12, 2, ""))
        return;
    const char *root = f.root, *cfg = f.cfg, *log = f.log, *run_dir = f.run_dir,
               *over = f.over_dir;
    char ckpt[1100], keep[1100];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoints/step-0000000003", run_dir);
    snprintf(keep, sizeof keep, "%s/good", root);
    int rc = tr_run(log, (const char *[]){cfg, over, "train.epochs=1", NULL});
    if (rc != 0) {
        tr_show_log(log);
        TEST_FAIL("the first epoch exited with %d", rc);
        return;
    }
    td_mkdir(keep);
    static const char *const files[] = {HVP_CKPT_WEIGHTS, HVP_CKPT_STATE};
    char path[2][1200], good[2][1200];
    for (int i = 0; i < 2; i++) {
        snprintf(path[i], sizeof path[i], "%s/%s", ckpt, files[i]);
        snprintf(good[i], sizeof good[i], "%s/%s", keep, files[i]);
        EXPECT(tr_copy_file(path[i], good[i]), "keeping %s", path[i]);
    }
    for (int c = 0; c < n; c++) {
        const damage *d = &cases[c];
        for (int i = 0; i < 2; i++)
            tr_copy_file(good[i], path[i]);
        int which = strcmp(d->file, HVP_CKPT_STATE) == 0;
        tr_tamper(path[which], d->tensor, d->value, d->key, d->text);
        size_t size[2];
        unsigned char *before[2] = {test_read_file(path[0], &size[0]),
                                    test_read_file(path[1], &size[1])};
        rc = tr_run(log, (const char *[]){cfg, over, d->extra, NULL});
        const char *text = tr_log_text(log);
        const char *what = d->key ? d->key : d->tensor ? d->tensor : d->extra;
        EXPECT(rc == 1, "%s damaged: exit %d, want 1", what, rc);
        for (int k = 0; k < 2; k++)
            EXPECT(strstr(text, d->says[k]), "%s damaged: the message lacks '%s': %s", what,
                   d->says[k], text);
        EXPECT(strstr(text, path[which]), "%s damaged: the message does not name %s: %s", what,
               path[which], text);
        for (int i = 0; i < 2; i++) {
            size_t now;
            unsigned char *after = test_read_file(path[i], &now);
            EXPECT(now == size[i] && memcmp(after, before[i], now) == 0,
                   "%s damaged: the resume changed %s", what, path[i]);
        }
        int64_t latest = 0;
        char dir[1100];
        EXPECT(hvp_ckpt_find_latest(run_dir, dir, sizeof dir, &latest) == HVP_OK && latest == 3,
               "%s damaged: the latest checkpoint is of step %lld, not 3", what,
               (long long)latest);
    }
    td_cleanup();
}

HVP_TEST(train_resume_refuses_bad_step_and_epoch)
{
    static const damage cases[] = {
        {HVP_CKPT_STATE, NULL, 0, "step", "-3", NULL,
         {"metadata \"step\" is \"-3\"", "expected a whole number in [0, "}},
        {HVP_CKPT_STATE, NULL, 0, "step", "3 steps", NULL,
         {"metadata \"step\" is \"3 steps\"", "expected a whole number"}},
        {HVP_CKPT_STATE, NULL, 0, "step", "99999999999999999999", NULL,
         {"metadata \"step\" is \"99999999999999999999\"", "expected a whole number"}},
        {HVP_CKPT_STATE, NULL, 0, "epoch", "", NULL,
         {"metadata \"epoch\" is \"\"", "expected a whole number in [0, 2147483647]"}},
        {HVP_CKPT_STATE, NULL, 0, "epoch", "7", NULL,
         {"metadata \"epoch\" is 7, expected 1 for step 3 at 3 steps per epoch",
          "data.batch_size"}},
        {HVP_CKPT_STATE, NULL, 0, "step", "4", NULL,
         {"metadata \"step\" is 4, expected 3", "folder's name"}},
        {HVP_CKPT_STATE, NULL, 0, NULL, NULL, "train.max_steps=2",
         {"step 3 is past this run's last step 2 (train.epochs = 2, train.max_steps = 2)",
          "train.resume = none"}},
    };
    resume_refuses(cases, sizeof cases / sizeof cases[0]);
}

HVP_TEST(train_resume_refuses_nan_and_inf)
{
    static const damage cases[] = {
        {HVP_CKPT_WEIGHTS, "predictor.3.bias", NAN, NULL, NULL, NULL,
         {"tensor 'predictor.3.bias' holds NaN at element 0", "earlier checkpoint"}},
        {HVP_CKPT_WEIGHTS, "encoder.bn1.running_var", INFINITY, NULL, NULL, NULL,
         {"tensor 'encoder.bn1.running_var' holds +Inf", "earlier checkpoint"}},
        {HVP_CKPT_STATE, "encoder.conv1.weight.momentum_buffer", -INFINITY, NULL, NULL, NULL,
         {"tensor 'encoder.conv1.weight.momentum_buffer' holds -Inf", "earlier checkpoint"}},
    };
    resume_refuses(cases, sizeof cases / sizeof cases[0]);
}
