/* Files that are either complete or absent: atomic writes (temporary file, flush, fsync,
 * rename, fsync of the directory) and checkpoints built on them.
 *
 * A checkpoint is a directory RUN_DIR/checkpoints/step-NNNNNNNNNN/ holding
 * weights.safetensors (the model) and state.safetensors (optimizer state, step, RNG,
 * config text in its metadata); the training loop decides what goes in them. It is
 * written under a temporary name and renamed into place whole, so a crash never leaves a
 * partial checkpoint where hvp_ckpt_find_latest() would look. */
#ifndef HVP_CHECKPOINT_H
#define HVP_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hvp/status.h"

/* ---- atomic files ------------------------------------------------------------------ */
typedef struct hvp_atomic_file {
    FILE *f;        /* write here */
    char path[1024];
    char tmp[1100]; /* path.tmp.<pid> */
} hvp_atomic_file;

/* Opens path.tmp.<pid> for writing. */
hvp_status hvp_atomic_open(const char *path, hvp_atomic_file *af);
/* Flushes, fsyncs, closes, renames onto path and fsyncs the directory. On failure the
 * temporary file is removed and path is untouched. */
hvp_status hvp_atomic_commit(hvp_atomic_file *af);
/* Closes and removes the temporary file. */
void hvp_atomic_abort(hvp_atomic_file *af);
/* A whole file from memory. */
hvp_status hvp_atomic_write(const char *path, const void *data, size_t size);

/* fsync of a directory (makes renames and creations in it durable). */
hvp_status hvp_fsync_dir(const char *dir);
/* mkdir -p. */
hvp_status hvp_mkdirs(const char *path);

/* ---- checkpoints ------------------------------------------------------------------- */
#define HVP_CKPT_WEIGHTS "weights.safetensors"
#define HVP_CKPT_STATE "state.safetensors"

typedef struct hvp_ckpt_tx {
    char tmp_dir[1100];   /* write the files here ... */
    char final_dir[1024]; /* ... they appear here on commit */
} hvp_ckpt_tx;

/* Starts the checkpoint of `step`: creates RUN_DIR/checkpoints/step-N.tmp.<pid>/. */
hvp_status hvp_ckpt_begin(const char *run_dir, int64_t step, hvp_ckpt_tx *tx);
/* "tmp_dir/name" into buf: where to write one file of the checkpoint. */
const char *hvp_ckpt_file(const hvp_ckpt_tx *tx, const char *name, char *buf, size_t size);
/* Checks both files are there, fsyncs them and the directory, renames it into place
 * (replacing an older checkpoint of the same step) and fsyncs the parent. */
hvp_status hvp_ckpt_commit(hvp_ckpt_tx *tx);
/* Removes the temporary directory and what is in it. */
void hvp_ckpt_abort(hvp_ckpt_tx *tx);

/* The complete checkpoint with the highest step in RUN_DIR/checkpoints (its directory
 * into dir, its step into *step); HVP_ERR_NOTFOUND when there is none. Temporary
 * directories and directories lacking either file are ignored. */
hvp_status hvp_ckpt_find_latest(const char *run_dir, char *dir, size_t size, int64_t *step);
/* train.resume: "none" gives "" (start afresh); "auto" the latest checkpoint or "" when
 * there is none; anything else is a checkpoint directory that must hold both files. */
hvp_status hvp_ckpt_resolve(const char *resume, const char *run_dir, char *dir, size_t size);
/* The step a checkpoint directory is named for (".../step-0000000123" -> 123), or -1 when
 * its name is not of that form. */
int64_t hvp_ckpt_step_of(const char *dir);
/* Keeps the `keep` newest complete checkpoints (keep = 0: all), deleting the others. */
hvp_status hvp_ckpt_prune(const char *run_dir, int keep);
/* The config a checkpoint was trained with (the text its state file keeps), as
 * hvp_config_load gives it; messages name the state file. */
struct hvp_config;
hvp_status hvp_ckpt_load_config(const char *ckpt_dir, struct hvp_config *cfg);

#endif
