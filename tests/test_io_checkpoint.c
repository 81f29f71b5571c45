/* Atomic files and checkpoint directories: commit, abort, crashes mid-write, latest,
 * resume resolution, pruning. Host only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/safetensors.h"

#define EXPECT_MSG(needle)                                                               \
    EXPECT(strstr(hvp_last_error(), needle), "message lacks '%s': %s", needle, hvp_last_error())

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Number of entries in dir whose name contains `part`. */
static int count_named(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *de; (de = readdir(d));)
        n += strstr(de->d_name, part) != NULL;
    closedir(d);
    return n;
}

static const char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *b = test_alloc(4096);
    if (f) {
        size_t n = fread(b, 1, 4095, f);
        b[n] = 0;
        fclose(f);
    }
    return b;
}

HVP_TEST(io_atomic_write_commit_and_abort)
{
    char *dir = test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/file.txt", dir);
    REQUIRE_OK(hvp_atomic_write(path, "first", 5));
    EXPECT(strcmp(slurp(path), "first") == 0, "content '%s'", slurp(path));
    REQUIRE_OK(hvp_atomic_write(path, "second!", 7));
    EXPECT(strcmp(slurp(path), "second!") == 0, "content '%s'", slurp(path));

    /* an aborted write leaves the old file and no temporary */
    hvp_atomic_file af;
    REQUIRE_OK(hvp_atomic_open(path, &af));
    fputs("partial", af.f);
    fflush(af.f);
    EXPECT(strcmp(slurp(path), "second!") == 0, "visible before commit");
    EXPECT(exists(af.tmp), "temporary %s missing", af.tmp);
    hvp_atomic_abort(&af);
    EXPECT(strcmp(slurp(path), "second!") == 0, "abort changed the file");
    EXPECT(count_named(dir, ".tmp.") == 0, "temporary left after abort");

    /* a write into a missing directory fails and names the path */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    EXPECT(hvp_atomic_write(bad, "x", 1) == HVP_ERR_IO, "write into a missing dir");
    EXPECT_MSG("no/such/dir/x.tmp.");

    char deep[300];
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    REQUIRE_OK(hvp_mkdirs(deep));
    REQUIRE_OK(hvp_mkdirs(deep)); /* again: fine */
    EXPECT(exists(deep), "mkdirs");
    EXPECT(hvp_mkdirs(path) == HVP_ERR_IO, "mkdirs over a file");
    test_rmdir(dir);
}

/* Writes a checkpoint of `step` whose weights hold one value. */
static hvp_status save_ckpt(const char *run, int64_t step, float value, int with_state, int commit)
{
    hvp_ckpt_tx tx;
    HVP_TRY(hvp_ckpt_begin(run, step, &tx));
    char p[1200];
    hvp_st_writer *w;
    HVP_TRY(hvp_st_writer_new(&w));
    hvp_status st = hvp_st_add_f32(w, "fc.weight", 1, (int[]){1}, &value);
    if (st == HVP_OK)
        st = hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_WEIGHTS, p, sizeof p));
    hvp_st_writer_free(w);
    if (st == HVP_OK && with_state) {
        HVP_TRY(hvp_st_writer_new(&w));
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)step);
        st = hvp_st_set_metadata(w, "step", s);
        int64_t rng[2] = {step, 42};
        if (st == HVP_OK)
            st = hvp_st_add(w, "rng", HVP_ST_I64, 1, (int64_t[]){2}, rng);
        if (st == HVP_OK)
            st = hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_STATE, p, sizeof p));
        hvp_st_writer_free(w);
    }
    if (st != HVP_OK) {
        hvp_ckpt_abort(&tx);
        return st;
    }
    return commit ? hvp_ckpt_commit(&tx) : HVP_OK; /* no commit: a crash mid-save */
}

static float weight_of(const char *ckdir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", ckdir, HVP_CKPT_WEIGHTS);
    hvp_st_file *f;
    float v = -1;
    if (hvp_st_open(p, &f) == HVP_OK) {
        if (hvp_st_get_f32(f, "fc.weight", 1, (int[]){1}, &v) != HVP_OK)
            v = -2;
        hvp_st_close(f);
    }
    return v;
}

HVP_TEST(io_checkpoint_latest_resume_and_crashes)
{
    char *run = test_tmpdir();
    char dir[1024], ckdir[1100];
    int64_t step = -1;
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", run);

    /* nothing yet: auto resumes from nothing, find_latest says not found */
    EXPECT(hvp_ckpt_find_latest(run, dir, sizeof dir, &step) == HVP_ERR_NOTFOUND, "found in empty run");
    REQUIRE_OK(hvp_ckpt_resolve("auto", run, dir, sizeof dir));
    EXPECT(dir[0] == 0, "auto in an empty run gave '%s'", dir);

    REQUIRE_OK(save_ckpt(run, 10, 1.0f, 1, 1));
    REQUIRE_OK(save_ckpt(run, 9, 0.9f, 1, 1));
    REQUIRE_OK(hvp_ckpt_find_latest(run, dir, sizeof dir, &step));
    EXPECT(step == 10 && strstr(dir, "checkpoints/step-0000000010"), "latest %lld %s", (long long)step, dir);
    EXPECT(weight_of(dir) == 1.0f, "weights of latest");

    /* a commit without the state file fails and leaves nothing */
    EXPECT(save_ckpt(run, 20, 2.0f, 0, 1) == HVP_ERR_ARG, "commit without state accepted");
    EXPECT_MSG(HVP_CKPT_STATE);
    EXPECT(count_named(ckdir, "step-0000000020") == 0, "incomplete checkpoint left");

    /* a crash mid-save (no commit) leaves a temporary that find_latest ignores */
    REQUIRE_OK(save_ckpt(run, 30, 3.0f, 1, 0));
    EXPECT(count_named(ckdir, ".tmp.") == 1, "temporary dir expected");
    REQUIRE_OK(hvp_ckpt_find_latest(run, dir, sizeof dir, &step));
    EXPECT(step == 10, "latest after a crash: %lld", (long long)step);
    /* a half-deleted checkpoint (one file) is ignored too */
    char half[1200];
    snprintf(half, sizeof half, "%s/step-0000000040", ckdir);
    REQUIRE_OK(hvp_mkdirs(half));
    char hw[1300];
    snprintf(hw, sizeof hw, "%s/%s", half, HVP_CKPT_WEIGHTS);
    REQUIRE_OK(hvp_atomic_write(hw, "x", 1));
    REQUIRE_OK(hvp_ckpt_find_latest(run, dir, sizeof dir, &step));
    EXPECT(step == 10, "latest with a half checkpoint: %lld", (long long)step);

    /* a stale temporary of a dead process is cleaned at the next begin */
    char stale[1200];
    snprintf(stale, sizeof stale, "%s/step-0000000050.tmp.999999999", ckdir);
    REQUIRE_OK(hvp_mkdirs(stale));
    REQUIRE_OK(save_ckpt(run, 11, 1.1f, 1, 1));
    EXPECT(!exists(stale), "stale temporary of a dead process kept");

    /* saving the same step again replaces it */
    REQUIRE_OK(save_ckpt(run, 11, 1.5f, 1, 1));
    REQUIRE_OK(hvp_ckpt_find_latest(run, dir, sizeof dir, &step));
    EXPECT(step == 11 && weight_of(dir) == 1.5f, "replaced checkpoint: step %lld weight %g",
           (long long)step, weight_of(dir));
    EXPECT(count_named(ckdir, ".old.") == 0, "moved-aside checkpoint left");

    /* resolve: none, auto, a checkpoint dir, a run dir, nonsense */
    REQUIRE_OK(hvp_ckpt_resolve("none", run, dir, sizeof dir));
    EXPECT(dir[0] == 0, "none gave '%s'", dir);
    REQUIRE_OK(hvp_ckpt_resolve("auto", run, dir, sizeof dir));
    EXPECT(strstr(dir, "step-0000000011"), "auto gave '%s'", dir);
    char nine[1200];
    snprintf(nine, sizeof nine, "%s/step-0000000009", ckdir);
    REQUIRE_OK(hvp_ckpt_resolve(nine, "elsewhere", dir, sizeof dir));
    EXPECT(strcmp(dir, nine) == 0, "path gave '%s'", dir);
    REQUIRE_OK(hvp_ckpt_resolve(run, "elsewhere", dir, sizeof dir));
    EXPECT(strstr(dir, "step-0000000011"), "run dir gave '%s'", dir);
    EXPECT(hvp_ckpt_resolve("/no/such/checkpoint", run, dir, sizeof dir) == HVP_ERR_NOTFOUND,
           "nonsense path accepted");
    EXPECT_MSG("train.resume = '/no/such/checkpoint'");

    /* the step a checkpoint folder is named for */
    EXPECT(hvp_ckpt_step_of(nine) == 9, "step of %s", nine);
    EXPECT(hvp_ckpt_step_of("run/checkpoints/step-0000000123/") == 123, "with a slash");
    EXPECT(hvp_ckpt_step_of("step-12") == 12, "a bare name");
    EXPECT(hvp_ckpt_step_of("run/step-12.tmp.77") == -1 && hvp_ckpt_step_of("run/step-") == -1 &&
               hvp_ckpt_step_of("run/best") == -1 && hvp_ckpt_step_of("") == -1,
           "names of no step");

    /* prune keeps the newest complete ones */
    REQUIRE_OK(hvp_ckpt_prune(run, 2));
    EXPECT(!exists(nine), "step 9 kept");
    char ten[1200];
    snprintf(ten, sizeof ten, "%s/step-0000000010", ckdir);
    EXPECT(exists(ten), "step 10 pruned");
    REQUIRE_OK(hvp_ckpt_find_latest(run, dir, sizeof dir, &step));
    EXPECT(step == 11, "latest after prune %lld", (long long)step);
    test_rmdir(run);
}

HVP_TEST(io_checkpoint_state_carries_config)
{
    /* The state file's metadata holds the config text; it reads back as the same config. */
    char *run = test_tmpdir();
    hvp_config c, back;
    hvp_config_defaults(&c);
    REQUIRE_OK(hvp_config_override(&c, "optim.lr=0.123"));
    REQUIRE_OK(hvp_config_override(&c, "run.name=ck test"));
    char *text = hvp_config_to_string(&c);
    EXPECT(text != NULL, "to_string");
    if (!text)
        return;
    hvp_ckpt_tx tx;
    REQUIRE_OK(hvp_ckpt_begin(run, 5, &tx));
    char p[1200];
    hvp_st_writer *w;
    REQUIRE_OK(hvp_st_writer_new(&w));
    float x = 1;
    REQUIRE_OK(hvp_st_add_f32(w, "x", 1, (int[]){1}, &x));
    REQUIRE_OK(hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_WEIGHTS, p, sizeof p)));
    REQUIRE_OK(hvp_st_set_metadata(w, "config", text));
    REQUIRE_OK(hvp_st_save(w, hvp_ckpt_file(&tx, HVP_CKPT_STATE, p, sizeof p)));
    hvp_st_writer_free(w);
    free(text);
    REQUIRE_OK(hvp_ckpt_commit(&tx));

    char dir[1024];
    REQUIRE_OK(hvp_ckpt_resolve("auto", run, dir, sizeof dir));
    snprintf(p, sizeof p, "%s/%s", dir, HVP_CKPT_STATE);
    hvp_st_file *f;
    REQUIRE_OK(hvp_st_open(p, &f));
    const char *meta = hvp_st_metadata(f, "config");
    EXPECT(meta != NULL, "no config in the state metadata");
    char ini[1200];
    snprintf(ini, sizeof ini, "%s/from_ckpt.ini", run);
    REQUIRE_OK(hvp_atomic_write(ini, meta ? meta : "", meta ? strlen(meta) : 0));
    hvp_st_close(f);
    REQUIRE_OK(hvp_config_load(ini, &back));
    EXPECT(!hvp_config_diff(&c, &back), "config changed through the checkpoint");
    test_rmdir(run);
}
