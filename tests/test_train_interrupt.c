/* Runs that stop inside an epoch and resume there: checkpoints every N steps
 * (train.save_every_steps), and SIGTERM/SIGINT, which finish the step, save and exit with
 * 128 + the signal (a second signal exits at once). Each resumed run must end with the
 * weights of an uninterrupted one, byte for byte. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "hvp/safetensors.h"
#include "test_data_util.h"
#include "test_train_util.h"

/* Every run here: 24 images in batches of 4, so 6 steps per epoch and 24 in 4 epochs; a
 * signal sent after step 7 has 5 steps to go before the epoch ends and 17 before the run
 * does. */
#define BATCH "data.batch_size=4"
#define STEPS 24

/* A tiny folder, a 4-epoch config, and the final weights of an uninterrupted run of it. */
typedef struct setup {
    tr_files f; /* the uninterrupted run's run.dir is root/run */
    unsigned char *weights;
    size_t size;
} setup;

static int prepare(setup *s)
{
    if (!tr_begin(&s->f, 12, 4, ""))
        return 0;
    int rc = tr_run(s->f.log, (const char *[]){s->f.cfg, s->f.over_dir, BATCH, NULL});
    int64_t step = 0;
    s->weights = tr_final_weights(s->f.run_dir, &s->size, &step);
    if (rc != 0 || !s->weights || step != STEPS) {
        tr_show_log(s->f.log);
        TEST_FAIL("the uninterrupted run exited with %d at step %lld", rc, (long long)step);
        return 0;
    }
    return 1;
}

/* Whether the run in dir ended at its last step with the uninterrupted run's weights. */
static int same_end(const setup *s, const char *dir)
{
    size_t size = 0;
    int64_t step = 0;
    unsigned char *w = tr_final_weights(dir, &size, &step);
    return w && step == STEPS && size == s->size && memcmp(w, s->weights, size) == 0;
}

/* Starts the run of run_dir and returns its pid once its step `step` is in steps.csv; -1
 * (the test failed, the run ended) when it ends or takes a minute before that. */
static pid_t start_and_wait_for_step(const setup *s, const char *run_dir, int step)
{
    char over[1100], steps[1200];
    snprintf(over, sizeof over, "run.dir=%s", run_dir);
    snprintf(steps, sizeof steps, "%s/steps.csv", run_dir);
    pid_t pid = tr_spawn(s->f.log, (const char *[]){s->f.cfg, over, BATCH, "log.every=1", NULL});
    if (pid > 0 && !tr_wait_for_lines(pid, steps, 1 + step, 60)) { /* + the header */
        tr_signal(pid, SIGKILL);
        int rc = tr_finish(pid);
        tr_show_log(s->f.log);
        TEST_FAIL("the run ended (%d) or took a minute before its step %d", rc, step);
        return -1;
    }
    return pid;
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
    snprintf(run_dir, sizeof run_dir, "%s/steps", s.f.root);
    snprintf(over, sizeof over, "run.dir=%s", run_dir);
    const char *const args[] = {s.f.cfg, over, BATCH, "train.save_every=0",
                                "train.save_every_steps=5", NULL};
    int rc = tr_run(s.f.log, args);
    EXPECT(rc == 0, "the run exited with %d", rc);
    EXPECT(same_end(&s, run_dir), "saving every 5 steps changed the final weights");
    char path[1300];
    for (int step = 1; step <= STEPS; step++) {
        snprintf(path, sizeof path, "%s/" HVP_CKPT_STATE, checkpoint_dir(run_dir, step));
        FILE *f = fopen(path, "rb");
        EXPECT((f != NULL) == (step % 5 == 0 || step == STEPS), "checkpoint of step %d %s",
               step, f ? "written" : "missing");
        if (f)
            fclose(f);
    }
    /* The checkpoint of step 10 is inside epoch 2 (after its 4th step): 1 epoch done. */
    hvp_st_file *f;
    snprintf(path, sizeof path, "%s/" HVP_CKPT_STATE, checkpoint_dir(run_dir, 10));
    REQUIRE_OK(hvp_st_open(path, &f));
    const char *epoch = hvp_st_metadata(f, "epoch");
    EXPECT(epoch && strcmp(epoch, "1") == 0, "step 10: epoch '%s', want 1",
           epoch ? epoch : "");
    hvp_st_close(f);

    static const int later[] = {15, 20, STEPS};
    for (int i = 0; i < 3; i++)
        test_rmdir(checkpoint_dir(run_dir, later[i]));
    rc = tr_run(s.f.log, args); /* resumes from step 10 */
    const char *text = tr_log_text(s.f.log);
    EXPECT(rc == 0 && strstr(text, "(epoch 1, step 10)"), "the resume exited with %d: %s", rc,
           text);
    EXPECT(strstr(text, "epoch 2 (its steps 5-6 of 6): loss"),
           "the summary of epoch 2 should say it covers its last 2 steps only: %s", text);
    EXPECT(same_end(&s, run_dir), "resumed from step 10: the weights differ from the "
                                  "uninterrupted run");
    td_cleanup();
}

HVP_TEST(train_sigterm_inside_an_epoch_saves_and_resumes_exactly)
{
    setup s;
    if (!prepare(&s))
        return;
    char run_dir[1024], over[1100], steps[1100];
    snprintf(run_dir, sizeof run_dir, "%s/term", s.f.root);
    snprintf(over, sizeof over, "run.dir=%s", run_dir);
    snprintf(steps, sizeof steps, "%s/steps.csv", run_dir);
    pid_t pid = start_and_wait_for_step(&s, run_dir, 7); /* the 1st step of epoch 2 */
    if (!tr_signal(pid, SIGTERM))
        return;
    int rc = tr_finish(pid);
    const char *text = tr_log_text(s.f.log), *said = strstr(text, "interrupted at step ");
    long at = 0;
    int epoch = 0;
    char dir[1024] = "";
    if (rc != 128 + SIGTERM || !said ||
        sscanf(said, "interrupted at step %ld (epoch %d): checkpoint saved in %1023[^;]", &at,
               &epoch, dir) != 3) {
        tr_show_log(s.f.log);
        TEST_FAIL("SIGTERM: exit %d (want %d) and no 'interrupted at step N (epoch E): "
                  "checkpoint saved in DIR' message", rc, 128 + SIGTERM);
        return;
    }
    EXPECT(strstr(said, "; run the same command again to resume\n"),
           "the message should say how to resume: %s", said);
    EXPECT(at % 6 != 0 && epoch == (at + 5) / 6,
           "stopped at step %ld (epoch %d): not inside an epoch, as this test needs", at, epoch);
    EXPECT(strcmp(dir, checkpoint_dir(run_dir, (int)at)) == 0, "the message names %s", dir);
    int64_t latest = 0;
    size_t size;
    EXPECT(tr_final_weights(run_dir, &size, &latest) && latest == at,
           "the latest checkpoint is of step %lld, not %ld", (long long)latest, at);

    rc = tr_run(s.f.log, (const char *[]){s.f.cfg, over, BATCH, "log.every=1", NULL});
    text = tr_log_text(s.f.log);
    char resumed[64];
    snprintf(resumed, sizeof resumed, "(epoch %ld, step %ld)", at / 6, at);
    EXPECT(rc == 0 && strstr(text, resumed), "the resume exited with %d: %s", rc, text);
    EXPECT(same_end(&s, run_dir), "stopped by SIGTERM at step %ld and resumed: the weights "
                                  "differ from the uninterrupted run", at);
    /* The stop lost no step and repeated none: steps.csv has each step once. */
    EXPECT(tr_lines(steps) == 1 + STEPS, "steps.csv has %ld lines, want %d", tr_lines(steps),
           1 + STEPS);
    td_cleanup();
}

/* SIGINT and SIGTERM delivered together (queued while the process is stopped): whichever
 * handler runs second exits at once, long before the step could finish, with 128 + its
 * signal. The checkpoints already written are complete and the run resumes from them. */
HVP_TEST(train_second_signal_exits_at_once)
{
    setup s;
    if (!prepare(&s))
        return;
    char run_dir[1024], over[1100];
    snprintf(run_dir, sizeof run_dir, "%s/twice", s.f.root);
    snprintf(over, sizeof over, "run.dir=%s", run_dir);
    pid_t pid = start_and_wait_for_step(&s, run_dir, 7);
    int status = 0;
    if (!tr_signal(pid, SIGSTOP))
        return;
    EXPECT(waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status),
           "the run did not stop for SIGSTOP");
    tr_signal(pid, SIGINT);
    tr_signal(pid, SIGTERM);
    tr_signal(pid, SIGCONT);
    int rc = tr_finish(pid);
    const char *text = tr_log_text(s.f.log);
    EXPECT(rc == 128 + SIGINT || rc == 128 + SIGTERM, "exit %d, want %d or %d", rc,
           128 + SIGINT, 128 + SIGTERM);
    EXPECT(strstr(text, "hvp: second signal: exiting now") && !strstr(text, "interrupted at"),
           "the second signal should end the run at once: %s", text);
    int rc2 = tr_run(s.f.log, (const char *[]){s.f.cfg, over, BATCH, NULL});
    EXPECT(rc2 == 0 && same_end(&s, run_dir), "the resume after the second signal exited with "
                                              "%d or ended with other weights", rc2);
    td_cleanup();
}
