/* Checkpoint directories: written under a temporary name, renamed into place whole. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/safetensors.h"

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int has_both(const char *dir)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/" HVP_CKPT_WEIGHTS, dir);
    if (!is_file(p))
        return 0;
    snprintf(p, sizeof p, "%s/" HVP_CKPT_STATE, dir);
    return is_file(p);
}

/* Removes a directory and the plain files in it (checkpoints have no subdirectories). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* "step-0000000123" -> 123; -1 for any other name (temporary ones included). */
static int64_t step_of(const char *name)
{
    if (strncmp(name, "step-", 5) != 0 || !name[5])
        return -1;
    int64_t v = 0;
    for (const char *p = name + 5; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT64_MAX / 10 - 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int64_t hvp_ckpt_step_of(const char *dir)
{
    size_t end = strlen(dir), begin;
    while (end > 1 && dir[end - 1] == '/') /* "step-N/" */
        end--;
    for (begin = end; begin > 0 && dir[begin - 1] != '/'; begin--)
        ;
    char name[64];
    if (end - begin >= sizeof name)
        return -1;
    memcpy(name, dir + begin, end - begin);
    name[end - begin] = 0;
    return step_of(name);
}

/* Removes step-*.tmp.<pid> directories left by processes that no longer exist. */
static void remove_stale(const char *ckdir)
{
    DIR *d = opendir(ckdir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *t = strstr(de->d_name, ".tmp.");
        if (strncmp(de->d_name, "step-", 5) != 0 || !t)
            continue;
        long pid = strtol(t + 5, NULL, 10);
        if (pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
            char p[1400];
            snprintf(p, sizeof p, "%s/%s", ckdir, de->d_name);
            remove_dir(p);
        }
    }
    closedir(d);
}

hvp_status hvp_ckpt_begin(const char *run_dir, int64_t step, hvp_ckpt_tx *tx)
{
    memset(tx, 0, sizeof *tx);
    if (step < 0)
        return HVP_FAIL(HVP_ERR_ARG, "checkpoint step %" PRId64 " < 0", step);
    char ckdir[1024];
    if (snprintf(ckdir, sizeof ckdir, "%s/checkpoints", run_dir) >= (int)sizeof ckdir)
        return HVP_FAIL(HVP_ERR_ARG, "run directory path too long: %s", run_dir);
    HVP_TRY(hvp_mkdirs(ckdir));
    remove_stale(ckdir);
    if (snprintf(tx->final_dir, sizeof tx->final_dir, "%s/step-%010" PRId64, ckdir, step) >=
        (int)sizeof tx->final_dir)
        return HVP_FAIL(HVP_ERR_ARG, "run directory path too long: %s", run_dir);
    snprintf(tx->tmp_dir, sizeof tx->tmp_dir, "%s.tmp.%ld", tx->final_dir, (long)getpid());
    if (is_dir(tx->tmp_dir))
        remove_dir(tx->tmp_dir);
    if (mkdir(tx->tmp_dir, 0777) != 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot create '%s': %s", tx->tmp_dir, strerror(errno));
    return HVP_OK;
}

const char *hvp_ckpt_file(const hvp_ckpt_tx *tx, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", tx->tmp_dir, name);
    return buf;
}

static hvp_status fsync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0)
        return HVP_FAIL(HVP_ERR_IO, "fsync of '%s': %s", path, strerror(e));
    return HVP_OK;
}

hvp_status hvp_ckpt_commit(hvp_ckpt_tx *tx)
{
    if (!has_both(tx->tmp_dir)) {
        hvp_ckpt_abort(tx);
        return HVP_FAIL(HVP_ERR_ARG, "checkpoint '%s' lacks %s or %s", tx->final_dir,
                        HVP_CKPT_WEIGHTS, HVP_CKPT_STATE);
    }
    char p[1200];
    hvp_status st = fsync_file(hvp_ckpt_file(tx, HVP_CKPT_WEIGHTS, p, sizeof p));
    if (st == HVP_OK)
        st = fsync_file(hvp_ckpt_file(tx, HVP_CKPT_STATE, p, sizeof p));
    if (st == HVP_OK)
        st = hvp_fsync_dir(tx->tmp_dir);
    if (st != HVP_OK) {
        hvp_ckpt_abort(tx);
        return st;
    }
    /* A checkpoint of the same step already there (a resumed run saving again) is moved
     * aside first: rename() does not replace a non-empty directory. */
    char old[1200] = "";
    if (is_dir(tx->final_dir)) {
        snprintf(old, sizeof old, "%s.old.%ld", tx->final_dir, (long)getpid());
        if (rename(tx->final_dir, old) != 0) {
            int e = errno;
            hvp_ckpt_abort(tx);
            return HVP_FAIL(HVP_ERR_IO, "moving the old '%s' aside: %s", tx->final_dir, strerror(e));
        }
    }
    if (rename(tx->tmp_dir, tx->final_dir) != 0) {
        int e = errno;
        if (old[0])
            rename(old, tx->final_dir);
        hvp_ckpt_abort(tx);
        return HVP_FAIL(HVP_ERR_IO, "renaming '%s' to '%s': %s", tx->tmp_dir, tx->final_dir,
                        strerror(e));
    }
    if (old[0])
        remove_dir(old);
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", tx->final_dir);
    *strrchr(parent, '/') = 0;
    return hvp_fsync_dir(parent);
}

void hvp_ckpt_abort(hvp_ckpt_tx *tx)
{
    if (tx->tmp_dir[0] && is_dir(tx->tmp_dir))
        remove_dir(tx->tmp_dir);
}

/* Complete checkpoints of run_dir, sorted by step (ascending). */
static hvp_status list_ckpts(const char *run_dir, int64_t **steps, int *n)
{
    *steps = NULL;
    *n = 0;
    char ckdir[1024];
    snprintf(ckdir, sizeof ckdir, "%s/checkpoints", run_dir);
    DIR *d = opendir(ckdir);
    if (!d)
        return errno == ENOENT ? HVP_OK
                               : HVP_FAIL(HVP_ERR_IO, "cannot read '%s': %s", ckdir, strerror(errno));
    int cap = 0;
    struct dirent *de;
    hvp_status st = HVP_OK;
    while ((de = readdir(d))) {
        int64_t s = step_of(de->d_name);
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", ckdir, de->d_name);
        if (s < 0 || !has_both(p))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *ns = realloc(*steps, (size_t)cap * sizeof **steps);
            if (!ns) {
                st = HVP_FAIL(HVP_ERR_NOMEM, "listing checkpoints");
                break;
            }
            *steps = ns;
        }
        /* insertion sort: a run has few checkpoints */
        int i = (*n)++;
        while (i > 0 && (*steps)[i - 1] > s) {
            (*steps)[i] = (*steps)[i - 1];
            i--;
        }
        (*steps)[i] = s;
    }
    closedir(d);
    return st;
}

hvp_status hvp_ckpt_find_latest(const char *run_dir, char *dir, size_t size, int64_t *step)
{
    int64_t *steps;
    int n;
    HVP_TRY(list_ckpts(run_dir, &steps, &n));
    if (n == 0) {
        free(steps);
        return HVP_FAIL(HVP_ERR_NOTFOUND, "no checkpoint in '%s/checkpoints'", run_dir);
    }
    int64_t s = steps[n - 1];
    free(steps);
    snprintf(dir, size, "%s/checkpoints/step-%010" PRId64, run_dir, s);
    if (step)
        *step = s;
    return HVP_OK;
}

hvp_status hvp_ckpt_resolve(const char *resume, const char *run_dir, char *dir, size_t size)
{
    if (size)
        dir[0] = 0;
    if (strcmp(resume, "none") == 0 || resume[0] == 0)
        return HVP_OK;
    if (strcmp(resume, "auto") == 0) {
        hvp_status st = hvp_ckpt_find_latest(run_dir, dir, size, NULL);
        if (st == HVP_ERR_NOTFOUND) {
            dir[0] = 0;
            return HVP_OK;
        }
        return st;
    }
    if (has_both(resume)) {
        snprintf(dir, size, "%s", resume);
        return HVP_OK;
    }
    /* a run directory: its latest checkpoint */
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/checkpoints", resume);
    if (is_dir(ck))
        return hvp_ckpt_find_latest(resume, dir, size, NULL);
    return HVP_FAIL(HVP_ERR_NOTFOUND,
                    "train.resume = '%s': not a checkpoint directory (with %s and %s) nor a run "
                    "directory; use auto, none or a path",
                    resume, HVP_CKPT_WEIGHTS, HVP_CKPT_STATE);
}

hvp_status hvp_ckpt_prune(const char *run_dir, int keep)
{
    if (keep <= 0)
        return HVP_OK;
    int64_t *steps;
    int n;
    HVP_TRY(list_ckpts(run_dir, &steps, &n));
    for (int i = 0; i + keep < n; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/checkpoints/step-%010" PRId64, run_dir, steps[i]);
        remove_dir(p);
    }
    free(steps);
    return HVP_OK;
}

hvp_status hvp_ckpt_load_config(const char *ckpt_dir, hvp_config *cfg)
{
    char state[1200], tmp[1200];
    snprintf(state, sizeof state, "%s/" HVP_CKPT_STATE, ckpt_dir);
    hvp_st_file *f;
    HVP_TRY(hvp_st_open(state, &f));
    const char *text = hvp_st_metadata(f, "config");
    if (!text) {
        hvp_st_close(f);
        return HVP_FAIL(HVP_ERR_FORMAT, "%s keeps no config in its metadata", state);
    }
    /* The config reader takes files only: the text goes through a private temporary one. */
    const char *dir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/hvp-config-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    size_t len = strlen(text);
    int written = fd >= 0 && write(fd, text, len) == (ssize_t)len;
    hvp_st_close(f);
    if (fd >= 0)
        close(fd);
    hvp_status s = written ? hvp_config_load(tmp, cfg)
                           : HVP_FAIL(HVP_ERR_IO, "cannot write a temporary file %s: %s", tmp,
                                      strerror(errno));
    if (fd >= 0)
        unlink(tmp);
    if (s != HVP_OK)
        return HVP_FAIL(s, "the config kept in %s: %s", state, hvp_last_error());
    if (strlen(state) < sizeof cfg->file) /* else the temporary name stays: messages only */
        strcpy(cfg->file, state);
    return HVP_OK;
}
