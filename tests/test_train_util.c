/* Helpers of the whole-run tests (see test_train_util.h). */
#include "test_train_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "hvp/safetensors.h"
#include "test_data_util.h"

#ifndef HVP_BIN
#define HVP_BIN "./hvp"
#endif

void tr_make_folder(const char *root, int per_class)
{
    static const char *const splits[] = {"train", "test"}, *const classes[] = {"a", "b"};
    char dir[1024], file[1100];
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, splits[s]);
        td_mkdir(dir);
        for (int c = 0; c < 2; c++) {
            snprintf(dir, sizeof dir, "%s/%s/%s", root, splits[s], classes[c]);
            td_mkdir(dir);
            for (int i = 0; i < per_class; i++) {
                snprintf(file, sizeof file, "%s/%02d.ppm", dir, i);
                td_write_ppm(file, td_pattern(16, 16, 3, 100 * s + 10 * c + i), 16, 16, 3);
            }
        }
    }
}

void tr_write_config(const char *path, const char *root, int epochs, const char *extra)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    /* an extra [model] section replaces the ResNet (duplicate keys are errors) */
    const char *model = strstr(extra, "[model]") ? ""
                        : "[model]\narch = resnet18\ncifar_stem = true\nwidth = 0.125\n";
    fprintf(f, "[data]\nformat = imagefolder\nroot = %s\nbatch_size = 8\nworkers = 2\n"
               "image_size = 16\nblur_prob = 0\nmean = 0.5\nstd = 0.25\n%s"
               "[method]\nproj_dim = 16\nproj_hidden_dim = 16\npred_dim = 8\n"
               "[hvp]\nenabled = true\nviews = 3\n"
               "[train]\nepochs = %d\nsave_every = 1\n"
               "[eval]\nevery = 0\n[log]\nprogress = off\n%s",
            root, model, epochs, extra);
    fclose(f);
}

int tr_begin(tr_files *f, int per_class, int epochs, const char *extra)
{
    if (test_tiny()) {
        test_skip("whole runs; their kernels are checked by the op tests");
        return 0;
    }
    f->root = td_dir();
    if (per_class > 0)
        tr_make_folder(f->root, per_class);
    snprintf(f->cfg, sizeof f->cfg, "%s/tiny.ini", f->root);
    snprintf(f->log, sizeof f->log, "%s/log.txt", f->root);
    snprintf(f->run_dir, sizeof f->run_dir, "%s/run", f->root);
    snprintf(f->over_dir, sizeof f->over_dir, "run.dir=%s", f->run_dir);
    tr_write_config(f->cfg, f->root, epochs, extra);
    return 1;
}

pid_t tr_spawn(const char *log, const char *const *args)
{
    return tr_spawn_limited(log, args, 0);
}

pid_t tr_spawn_limited(const char *log, const char *const *args, long max_file_bytes)
{
    const char *argv[16] = {HVP_BIN};
    for (int i = 0; args[i] && i < 14; i++)
        argv[i + 1] = args[i];
    return tr_spawn_argv(log, argv, max_file_bytes);
}

pid_t tr_spawn_argv(const char *log, const char *const *argv, long max_file_bytes)
{
    fflush(stdout); /* else the child would write our buffered output a second time */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        TEST_FAIL("fork for %s: %s", argv[0], strerror(errno));
    if (pid != 0)
        return pid;
    /* The child of a multi-threaded process (the device's threads) may call only
     * async-signal-safe functions until execv: a lock (malloc's, stdio's) held by another
     * thread at the fork stays locked in the child for ever. So open and dup2, no freopen. */
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) {
        dup2(out, 1);
        dup2(out, 2);
    }
    /* mpirun forwards its stdin to rank 0: it would eat the input of whoever runs the tests
     * (tests/portability.sh reads its device list from there) */
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0)
        dup2(null, 0);
    if (max_file_bytes > 0) {
        /* writes past the limit fail with EFBIG, as on a full disk; SIGXFSZ would kill the
         * process instead */
        struct rlimit lim = {(rlim_t)max_file_bytes, (rlim_t)max_file_bytes};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
    }
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

/* Prints each thread's state and kernel wait channel of a process that does not end, to
 * the test's output: where it hangs. */
static void show_threads(pid_t pid)
{
    char path[400], line[256];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *tasks = opendir(path);
    if (!tasks)
        return;
    for (struct dirent *t; (t = readdir(tasks)) != NULL;) {
        if (t->d_name[0] == '.')
            continue;
        char state[64] = "?", wchan[64] = "?";
        snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, t->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(line, sizeof line, f)) {
                const char *end = strrchr(line, ')'); /* after the command's name */
                if (end)
                    snprintf(state, sizeof state, "%.1s", end + 2);
            }
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/%d/task/%s/wchan", (int)pid, t->d_name);
        f = fopen(path, "r");
        if (f) {
            if (!fgets(wchan, sizeof wchan, f))
                snprintf(wchan, sizeof wchan, "?");
            fclose(f);
        }
        printf("      thread %s: state %s, waiting in %s\n", t->d_name, state, wchan);
    }
    closedir(tasks);
}

int tr_finish(pid_t pid)
{
    if (pid < 0)
        return -1;
    /* A run that hangs fails its test instead of stopping the whole suite (and CI). */
    const char *env = getenv("HVP_TEST_RUN_TIMEOUT");
    double limit = env && atof(env) > 0 ? atof(env) : 300, waited = 0;
    struct timespec nap = {0, 10000000};
    int status = 0;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && waited < limit) {
        nanosleep(&nap, NULL);
        waited += 0.01;
    }
    if (done == 0) {
        TEST_FAIL("process %d still running after %.0f s (HVP_TEST_RUN_TIMEOUT): killed",
                  (int)pid, limit);
        show_threads(pid);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    if (done != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tr_run(const char *log, const char *const *args)
{
    return tr_finish(tr_spawn(log, args));
}

int tr_signal(pid_t pid, int sig)
{
    /* kill(-1, sig) signals every process we may signal (as root: all of them), and
     * kill(0, sig) our own group: only ever a child that was started */
    if (pid <= 0) {
        TEST_FAIL("no process to send signal %d to (pid %d)", sig, (int)pid);
        return 0;
    }
    return kill(pid, sig) == 0;
}

int tr_wait_for_lines(pid_t pid, const char *path, long lines, double seconds)
{
    struct timespec nap = {0, 2000000};
    for (double waited = 0; waited < seconds; waited += 0.002) {
        if (tr_lines(path) >= lines)
            return 1;
        siginfo_t info;
        info.si_pid = 0; /* WNOWAIT: look without reaping, tr_finish still gets the status */
        if (pid <= 0 || waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
            info.si_pid == pid)
            return 0;
        nanosleep(&nap, NULL);
    }
    return 0;
}

long tr_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    long n = 0;
    int ch;
    if (!f)
        return 0;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

unsigned char *tr_final_weights(const char *run_dir, size_t *size, int64_t *step)
{
    char dir[1024], path[1200];
    if (hvp_ckpt_find_latest(run_dir, dir, sizeof dir, step) != HVP_OK)
        return NULL;
    snprintf(path, sizeof path, "%s/" HVP_CKPT_WEIGHTS, dir);
    return test_read_file(path, size);
}

const char *tr_log_text(const char *log)
{
    size_t size;
    return (const char *)test_read_file(log, &size);
}

void tr_show_log(const char *log)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "tail -n 5 '%s'", log);
    if (system(cmd) != 0)
        TEST_FAIL("could not show %s", log);
}

int tr_contains(const unsigned char *p, size_t n, const char *what)
{
    size_t k = strlen(what);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, what, k) == 0)
            return 1;
    return 0;
}

int tr_copy_file(const char *src, const char *dst)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    char buf[65536];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out)
        ok = (fclose(out) == 0) && ok;
    return ok;
}

void tr_tamper(const char *path, const char *tensor, float value, const char *key,
               const char *text)
{
    hvp_st_file *f = NULL;
    hvp_st_writer *w = NULL;
    hvp_status st = hvp_st_open(path, &f);
    if (st == HVP_OK)
        st = hvp_st_writer_new(&w);
    for (int i = 0; st == HVP_OK && i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        void *data = test_alloc(t->nbytes);
        memcpy(data, t->data, t->nbytes);
        if (tensor && strcmp(t->name, tensor) == 0 && t->dtype == HVP_ST_F32 && t->nbytes)
            ((float *)data)[0] = value;
        st = hvp_st_add(w, t->name, t->dtype, t->ndim, t->shape, data);
    }
    for (int i = 0; st == HVP_OK && i < hvp_st_metadata_count(f); i++) {
        const char *k, *v;
        hvp_st_metadata_at(f, i, &k, &v);
        st = hvp_st_set_metadata(w, k, v);
    }
    if (st == HVP_OK && key)
        st = hvp_st_set_metadata(w, key, text);
    if (st == HVP_OK)
        st = hvp_st_save(w, path);
    if (st != HVP_OK)
        TEST_FAIL("tampering with %s: %s", path, hvp_last_error());
    hvp_st_writer_free(w);
    hvp_st_close(f);
}
