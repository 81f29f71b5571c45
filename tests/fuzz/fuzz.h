/* Fuzz harnesses: one entry point per kind of hostile input. libFuzzer calls them through
 * libfuzzer_main.c (`make fuzz`, clang with ASan + UBSan), and `make check` replays the
 * committed corpus and regression inputs through the same functions (test_fuzz_replay.c).
 *
 * Each takes any bytes and returns 0, or 1 after printing to stderr an invariant that
 * broke (a crash-class problem: the libFuzzer wrapper aborts on it, the replay test fails).
 * Memory errors are left to the sanitizers. Inputs that hold several parts (files, command
 * line overrides) are split at FUZZ_SEP. */
#ifndef HVP_FUZZ_H
#define HVP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "hvp/data.h"

int fuzz_config(const uint8_t *data, size_t size);      /* INI file + section.key=value */
int fuzz_safetensors(const uint8_t *data, size_t size); /* weights and state files */
int fuzz_image(const uint8_t *data, size_t size);       /* one JPEG / PPM / PGM file */
int fuzz_idx(const uint8_t *data, size_t size);         /* IDX images + labels files */
int fuzz_cifar(const uint8_t *data, size_t size);       /* a CIFAR-10/100 batch + names */
int fuzz_imagefolder(const uint8_t *data, size_t size); /* a folder tree, scanned and read */

/* ---- helpers (fuzz_util.c) ----------------------------------------------------------- */
#define FUZZ_SEP "@@@@"
#define FUZZ_MAX_PARTS 16

typedef struct fuzz_part {
    const uint8_t *data;
    size_t size;
} fuzz_part;
/* Splits data at each FUZZ_SEP into at most FUZZ_MAX_PARTS parts (the last takes the
 * rest); returns the count, at least 1. */
int fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts);
/* A part as a malloc'd C string (it ends at an embedded NUL); NULL when out of memory. */
char *fuzz_cstr(fuzz_part p);

/* This process's scratch folder under $TMPDIR (or /tmp), emptied by every call and
 * removed at exit; NULL when it cannot be made. */
const char *fuzz_scratch(void);
/* dir/name, malloc'd (NULL when out of memory). */
char *fuzz_path(const char *dir, const char *name);
/* dir/name, malloc'd, with its parent folders made (NULL on failure). */
char *fuzz_make_parents(const char *dir, const char *name);
/* dir/name (malloc'd) written with the bytes; parent folders are made. NULL on failure. */
char *fuzz_write(const char *dir, const char *name, const void *data, size_t size);

/* A decoded image must have the size it claims, in the channels asked for; every pixel
 * is read, so that ASan sees a buffer that is short. */
int fuzz_check_decoded(const hvp_decoded *img, int channels);
/* Opens a dataset and decodes (and names) its first items: what hvp does with a folder it
 * is given. A dataset that opens must have sound sizes, labels and class names. */
int fuzz_read_dataset(const hvp_dataset_opts *opts);

/* Prints "fuzz: <what>" to stderr and returns 1. */
int fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
