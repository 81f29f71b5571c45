/* safetensors files (https://huggingface.co/docs/safetensors), as HuggingFace specifies:
 * an 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "value"}}
 * padded with spaces to a multiple of 8, then the tensor data, little-endian, row-major.
 * Written from host arrays (the caller downloads tensors), read whole into memory. The
 * reader is strict: malformed headers, offsets that overlap, leave holes or pass the end
 * of the file are errors naming the file and what is wrong. */
#ifndef HVP_SAFETENSORS_H
#define HVP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "hvp/status.h"

#define HVP_ST_MAX_DIMS 8

typedef enum hvp_st_dtype {
    HVP_ST_F64,
    HVP_ST_F32,
    HVP_ST_F16,
    HVP_ST_BF16,
    HVP_ST_I64,
    HVP_ST_I32,
    HVP_ST_I16,
    HVP_ST_I8,
    HVP_ST_U8,
    HVP_ST_BOOL
} hvp_st_dtype;

const char *hvp_st_dtype_name(hvp_st_dtype t); /* "F32" */
size_t hvp_st_dtype_size(hvp_st_dtype t);

/* ---- writing ----------------------------------------------------------------------- */
typedef struct hvp_st_writer hvp_st_writer;

hvp_status hvp_st_writer_new(hvp_st_writer **w);
/* Adds a tensor; the data (numel * dtype size bytes) is copied. ndim may be 0 (a scalar).
 * Names must be unique and non-empty, and not "__metadata__". */
hvp_status hvp_st_add(hvp_st_writer *w, const char *name, hvp_st_dtype dtype, int ndim,
                      const int64_t *shape, const void *data);
/* The same for float data with int dimensions (as hvp_tensor keeps them). */
hvp_status hvp_st_add_f32(hvp_st_writer *w, const char *name, int ndim, const int *shape,
                          const float *data);
/* A "__metadata__" entry (string to string); setting a key again replaces it. */
hvp_status hvp_st_set_metadata(hvp_st_writer *w, const char *key, const char *value);
/* Writes the file atomically (temporary file, fsync, rename). Tensors are laid out as
 * HuggingFace's writer does: by element size (largest first), then by name, so every
 * tensor's data is aligned to its element size. */
hvp_status hvp_st_save(hvp_st_writer *w, const char *path);
void hvp_st_writer_free(hvp_st_writer *w);

/* ---- reading ----------------------------------------------------------------------- */
typedef struct hvp_st_tensor {
    const char *name;
    hvp_st_dtype dtype;
    int ndim;
    int64_t shape[HVP_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* inside the file's buffer (aligned to 8 + element size) */
} hvp_st_tensor;

typedef struct hvp_st_file hvp_st_file;

hvp_status hvp_st_open(const char *path, hvp_st_file **f);
/* The same from bytes in memory (copied); `name` names it in messages. */
hvp_status hvp_st_parse(const void *bytes, size_t size, const char *name, hvp_st_file **f);
void hvp_st_close(hvp_st_file *f);
/* The path (or name) the file was opened under, for messages. */
const char *hvp_st_name(const hvp_st_file *f);

int hvp_st_count(const hvp_st_file *f);
/* Tensors in the order of their data offsets. */
const hvp_st_tensor *hvp_st_at(const hvp_st_file *f, int i);
/* NULL when absent. */
const hvp_st_tensor *hvp_st_find(const hvp_st_file *f, const char *name);
/* A metadata value, or NULL. */
const char *hvp_st_metadata(const hvp_st_file *f, const char *key);
/* A metadata value that must be a whole number in [lo, hi] (decimal digits with an optional
 * '-', nothing else); errors name the file, the key, the value found and the range. */
hvp_status hvp_st_metadata_int(const hvp_st_file *f, const char *key, int64_t lo, int64_t hi,
                               int64_t *out);
int hvp_st_metadata_count(const hvp_st_file *f);
void hvp_st_metadata_at(const hvp_st_file *f, int i, const char **key, const char **value);

/* Copies tensor `name` into dst after checking its dtype and shape (errors name the
 * tensor and the file: absent, "expected F32 [64, 3, 7, 7], found F32 [64, 3, 3, 3]"). */
hvp_status hvp_st_get(const hvp_st_file *f, const char *name, hvp_st_dtype dtype, int ndim,
                      const int64_t *shape, void *dst);
hvp_status hvp_st_get_f32(const hvp_st_file *f, const char *name, int ndim, const int *shape,
                          float *dst);

#endif
