/* Runs that stop inside an epoch and resume there: checkpoints every N steps
 * (train.save_every_steps), and SIGTERM/SIGINT, which finish the step, save and exit with
 * 128 + the signal (a second signal exits at once). Each resumed run must end with the
 * weights of an uninterrupted one, byte for byte. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "hvp/safetensors.h"
#include "test_data_util.h"
#include "test_train_util.h"

/* A tiny folder (24 images: 3 steps of 8 per epoch), a 4-epoch config, and the final
 * weights of an uninterrupted run of it. */
typedef struct setup {
    const char *root;
    char cfg[1024], log[1024];
    unsigned char *weights;
    size_t size;
} setup;

static int prepare(setup *s)
{
    if (test_tiny()) {
        test_skip("whole runs; their kernels are checked by the op tests");
        return 0;
    }
    s->root = td_dir();
    tr_make_folder(s->root, 12);
    snprintf(s->cfg, sizeof s->cfg, "%s/tiny.ini", s->root);
    snprintf(s->log, sizeof s->log, "%s/log.txt", s->root);
    tr_write_config(s->cfg, s->root, 4, "");
    char over[1100], dir[1024];
    snprintf(dir, sizeof dir, "%s/whole", s->root);
    snprintf(over, sizeof over, "run.dir=%s", dir);
    int rc = tr_run(s->log, (const char *[]){s->cfg, over, NULL});
    int64_t step = 0;
    s->weights = tr_final_weights(dir, &s->size, &step);
    if (rc != 0 || !s->weights || step != 12) {
        tr_show_log(s->log);
        TEST_FAIL("the uninterrupted run exited with %d at step %lld", rc, (long long)step);
        return 0;
    }
    return 1;
}

/* Whether the run in dir ended at step 12 with the uninterrupted run's weights. */
static int same_end(const setup *s, const char *dir)
{
    size_t size = 0;
    int64_t step = 0;
    unsigned char *w = tr_final_weights(dir, &size, &step);
    return w && step == 12 && size == s->size && memcmp(w, s->weights, size) == 0;
}

static const char *checkpoint_dir(const char *run_dir, int step)
{
    static char dir[1200];
    snprintf(dir, sizeof dir, "%s/checkpoints/step-%010d", run_dir, step);
    return dir;
}

HVP_TEST(train_save_every_steps_resumes_inside_an_epoch)
{
    setup s;
    if (!prepare(&s))
        return;
    char run_dir[1024], over[1100];
    snprintf(run_dir, sizeof run_dir, "%s/steps", s.root);
    snprintf(over, sizeof over, "run.dir=%s", run_dir);
    const char *const args[] = {s.cfg, over, "train.save_every=0", "train.save_every_steps=5",
                                NULL};
    int rc = tr_run(s.log, args);
    EXPECT(rc == 0, "the run exited with %d", rc);
    EXPECT(same_end(&s, run_dir), "saving every 5 steps changed the final weights");
    char path[1300];
    for (int step = 1; step <= 12; step++) {
        snprintf(path, sizeof path, "%s/" HVP_CKPT_STATE, checkpoint_dir(run_dir, step));
        FILE *f = fopen(path, "rb");
        EXPECT((f != NULL) == (step == 5 || step == 10 || step == 12),
               "checkpoint of step %d %s", step, f ? "written" : "missing");
        if (f)
            fclose(f);
    }
    /* The checkpoint of step 5 is inside epoch 2 (after its 2nd step): 1 epoch done. */
    hvp_st_file *f;
    snprintf(path, sizeof path, "%s/" HVP_CKPT_STATE, checkpoint_dir(run_dir, 5));
    REQUIRE_OK(hvp_st_open(path, &f));
    const char *epoch = hvp_st_metadata(f, "epoch");
    EXPECT(epoch && strcmp(epoch, "1") == 0, "step 5: epoch '%s', want 1", epoch ? epoch : "");
    hvp_st_close(f);

    test_rmdir(checkpoint_dir(run_dir, 12));
    test_rmdir(checkpoint_dir(run_dir, 10));
    rc = tr_run(s.log, args); /* resumes from step 5 */
    const char *text = tr_log_text(s.log);
    EXPECT(rc == 0 && strstr(text, "(epoch 1, step 5)"), "the resume exited with %d: %s", rc,
           text);
    EXPECT(strstr(text, "epoch 2 (its steps 3-3 of 3): loss"),
           "the summary of epoch 2 should say it covers its last step only: %s", text);
    EXPECT(same_end(&s, run_dir), "resumed from step 5: the weights differ from the "
                                  "uninterrupted run");
    td_cleanup();
}
