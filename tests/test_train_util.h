/* Whole runs of the hvp program for the training tests: a tiny ImageFolder, a tiny config,
 * starting hvp with its output in a log, and reading back what a run left. */
#ifndef HVP_TEST_TRAIN_UTIL_H
#define HVP_TEST_TRAIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* root/{train,test}/{a,b}/NN.ppm: per_class 16x16 RGB images per class and split. */
void tr_make_folder(const char *root, int per_class);
/* A tiny SimSiam run on root (batch 8, 16 px, ResNet-18 at width 1/8, 3 hard views,
 * a checkpoint every epoch, no kNN, no progress line) unless extra (appended [section]
 * lines) says otherwise; an extra [model] section replaces the ResNet. */
void tr_write_config(const char *path, const char *root, int epochs, const char *extra);

/* A whole-run test's files in a fresh td_dir(): root (the data, per_class images a class
 * and split unless 0), root/tiny.ini (tr_write_config with epochs and extra), root/log.txt,
 * root/run and its override "run.dir=root/run". */
typedef struct tr_files {
    const char *root;
    char cfg[1024], log[1024], run_dir[1024], over_dir[1100];
} tr_files;
/* 0, with the test marked skipped, under HVP_TEST_TINY (whole runs are not for Oclgrind). */
int tr_begin(tr_files *f, int per_class, int epochs, const char *extra);

/* Starts `hvp args...` (NULL-terminated, at most 14) with stdout and stderr in log;
 * returns the pid. */
pid_t tr_spawn(const char *log, const char *const *args);
/* The same, with files of at most max_file_bytes (0: no limit): a full disk, file by file. */
pid_t tr_spawn_limited(const char *log, const char *const *args, long max_file_bytes);
/* The same for any program: argv[0] is its path, argv NULL-terminated. Its stdin is
 * /dev/null. */
pid_t tr_spawn_argv(const char *log, const char *const *argv, long max_file_bytes);
/* Waits for pid: its exit status, or 128 + the signal that ended it. A process still
 * running after HVP_TEST_RUN_TIMEOUT seconds (default 300) fails the test, has its
 * threads' states printed, is killed, and gives -1. */
int tr_finish(pid_t pid);
/* tr_spawn and tr_finish. */
int tr_run(const char *log, const char *const *args);

/* kill(pid, sig) for a started child only: pid <= 0 (a failed spawn) fails the test
 * instead of signalling every process (-1) or our own group (0). 1 when sent. */
int tr_signal(pid_t pid, int sig);
/* Waits until the file at path has `lines` lines: 1; 0 when the process pid ended first
 * (it stays to be reaped by tr_finish) or after `seconds`. */
int tr_wait_for_lines(pid_t pid, const char *path, long lines, double seconds);
/* Lines in a file (0 when it is missing). */
long tr_lines(const char *path);
/* The weights of the run's latest checkpoint, read whole (test memory); NULL if none. */
unsigned char *tr_final_weights(const char *run_dir, size_t *size, int64_t *step);
/* The whole log, zero-terminated (test memory). */
const char *tr_log_text(const char *log);
/* Prints the last lines of the log (for a failure's context). */
void tr_show_log(const char *log);
/* Whether the n bytes at p contain the string what. */
int tr_contains(const unsigned char *p, size_t n, const char *what);
/* Copies src to dst byte for byte; 1 on success. */
int tr_copy_file(const char *src, const char *dst);
/* Rewrites the safetensors file at path with element 0 of the F32 tensor `tensor` set to
 * value (tensor NULL: none changed) and metadata `key` set to text (key NULL: none); all
 * else is copied. A failure is recorded in the running test. */
void tr_tamper(const char *path, const char *tensor, float value, const char *key,
               const char *text);

#endif
