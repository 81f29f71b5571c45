/* Inside src/data/: the dataset object shared by the format files (imagefolder.c, cifar.c,
 * idx.c), dataset.c (opening, auto-detection, accessors) and loader.c. */
#ifndef HVP_DATA_DATASET_H
#define HVP_DATA_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <turbojpeg.h>

#include "hvp/data.h"

struct hvp_decoder {
    tjhandle tj;       /* created on first JPEG */
    uint8_t *buf;      /* the file being decoded */
    size_t capacity;
};

typedef struct hvp_dataset_vt {
    hvp_status (*decode)(const hvp_dataset *ds, hvp_decoder *dec, int64_t i, hvp_decoded *img);
    void (*item_name)(const hvp_dataset *ds, int64_t i, char *buf, size_t size);
    void (*free_impl)(void *impl);
} hvp_dataset_vt;

struct hvp_dataset {
    const hvp_dataset_vt *vt;
    hvp_data_format format;
    char *root;          /* what the items come from, after split resolution */
    int64_t n;
    int channels;        /* of every decoded image */
    int nclasses;        /* 0: unlabeled */
    char **class_names;  /* [nclasses] */
    int32_t *labels;     /* [n], NULL when unlabeled */
    void *impl;
};

/* Each fills the fields above except root/format (set by the caller on success). On
 * failure it frees what it made and returns a message naming the path. */
hvp_status hvp_imagefolder_open(hvp_dataset *ds, const char *root, int labeled, int channels);
hvp_status hvp_cifar_open(hvp_dataset *ds, const char *root, int hundred, int train, int channels);
hvp_status hvp_idx_open(hvp_dataset *ds, const char *root, int train, int channels);

/* Decodes one image file's bytes (JPEG, PNG or binary PPM/PGM, told by content) into img with
 * the given channels; `name` names it in messages. ImageFolder's decoder, and the fuzz
 * harness, which has no files. */
hvp_status hvp_image_decode(hvp_decoder *dec, const uint8_t *bytes, size_t size, const char *name,
                            int channels, hvp_decoded *img);

/* A PNG file's bytes into img (src/data/png.c). */
hvp_status hvp_decode_png(const uint8_t *bytes, size_t size, const char *path, int channels,
                          hvp_decoded *img);

/* Auto-detection helpers: 1 when the folder holds that format's files for the split. */
int hvp_cifar_detect(const char *root, int *hundred);
int hvp_idx_detect(const char *root);

/* Shared helpers (dataset.c). */
hvp_status hvp_decoded_reserve(hvp_decoded *img, int height, int width, int channels);
/* PIL's convert("L"): (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
void hvp_rgb_to_gray(const uint8_t *rgb, uint8_t *gray, size_t pixels);
/* In place is allowed for neither. */
void hvp_gray_to_rgb(const uint8_t *gray, uint8_t *rgb, size_t pixels);
/* Opens a regular file for reading (anything else is an error, so a FIFO cannot block and
 * a device cannot stream forever); *size from fstat. */
hvp_status hvp_open_regular(const char *path, int *fd, uint64_t *size);
/* Whole file into dec->buf: a regular file of at most HVP_DATA_MAX_FILE_BYTES. */
hvp_status hvp_read_file(const char *path, hvp_decoder *dec, size_t *size);
int hvp_is_dir(const char *path);
int hvp_is_file(const char *path);
char *hvp_path_join(const char *a, const char *b); /* malloc'd, NULL when out of memory */
char *hvp_strdup(const char *s);

/* Larger images are refused as corrupt (a bogus header must not allocate gigabytes). */
#define HVP_DATA_MAX_PIXELS (1 << 28)
/* Larger image files are refused before they are read. */
#define HVP_DATA_MAX_FILE_BYTES (512 << 20)

#endif
