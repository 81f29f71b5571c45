/* CIFAR-10 and CIFAR-100 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html):
 * records of [label byte(s), 1024 R, 1024 G, 1024 B] for 32x32 images, row-major planes.
 * CIFAR-10: data_batch_1..5.bin (train), test_batch.bin, 1 label byte. CIFAR-100: train.bin,
 * test.bin, coarse then fine label byte; the fine label (100 classes) is used. The files are
 * read whole at open; a missing batch, a size that is not a whole number of records or a
 * label out of range fails the open (the format has no per-image files to skip). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE)

typedef struct cifar_impl {
    uint8_t *records;
    int record_size, label_bytes;
    char *files[5];       /* for item names */
    int64_t file_start[6];
    int nfiles;
} cifar_impl;

static const char *const sub_10 = "cifar-10-batches-bin";
static const char *const sub_100 = "cifar-100-binary";

/* The folder that holds the batches: root or its usual sub-folder. NULL if neither. */
static char *batch_dir(const char *root, int hundred)
{
    const char *probe = hundred ? "train.bin" : "data_batch_1.bin";
    const char *probe2 = hundred ? "test.bin" : "test_batch.bin";
    const char *dirs[2] = {NULL, hundred ? sub_100 : sub_10};
    for (int i = 0; i < 2; i++) {
        char *d = dirs[i] ? hvp_path_join(root, dirs[i]) : hvp_strdup(root);
        if (!d)
            return NULL;
        char *p1 = hvp_path_join(d, probe), *p2 = hvp_path_join(d, probe2);
        int found = (p1 && hvp_is_file(p1)) || (p2 && hvp_is_file(p2));
        free(p1);
        free(p2);
        if (found)
            return d;
        free(d);
    }
    return NULL;
}

int hvp_cifar_detect(const char *root, int *hundred)
{
    for (int h = 0; h < 2; h++) {
        char *d = batch_dir(root, h);
        if (d) {
            free(d);
            *hundred = h;
            return 1;
        }
    }
    return 0;
}

static void cifar_free(void *impl)
{
    cifar_impl *c = impl;
    free(c->records);
    for (int i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c);
}

static hvp_status cifar_decode(const hvp_dataset *ds, hvp_decoder *dec, int64_t i,
                               hvp_decoded *img)
{
    (void)dec;
    const cifar_impl *c = ds->impl;
    const uint8_t *r = c->records + (size_t)i * (size_t)c->record_size + c->label_bytes;
    HVP_TRY(hvp_decoded_reserve(img, CIFAR_SIDE, CIFAR_SIDE, ds->channels));
    uint8_t *o = img->pixels;
    if (ds->channels == 3) {
        for (int p = 0; p < CIFAR_PIXELS; p++) {
            o[3 * p] = r[p];
            o[3 * p + 1] = r[CIFAR_PIXELS + p];
            o[3 * p + 2] = r[2 * CIFAR_PIXELS + p];
        }
    } else {
        for (int p = 0; p < CIFAR_PIXELS; p++)
            o[p] = (uint8_t)((19595u * r[p] + 38470u * r[CIFAR_PIXELS + p] +
                              7471u * r[2 * CIFAR_PIXELS + p] + 0x8000u) >> 16);
    }
    return HVP_OK;
}

static void cifar_item_name(const hvp_dataset *ds, int64_t i, char *buf, size_t size)
{
    const cifar_impl *c = ds->impl;
    int f = 0;
    while (f + 1 < c->nfiles && i >= c->file_start[f + 1])
        f++;
    snprintf(buf, size, "%s[#%" PRId64 "]", c->files[f], i - c->file_start[f]);
}

static const hvp_dataset_vt cifar_vt = {cifar_decode, cifar_item_name, cifar_free};

/* Class names from a text file, one a line; numbers when absent or short. */
static hvp_status class_names(hvp_dataset *ds, const char *dir, const char *file, int n)
{
    ds->class_names = calloc((size_t)n, sizeof *ds->class_names);
    if (!ds->class_names)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    ds->nclasses = n;
    char *path = hvp_path_join(dir, file);
    int fd;
    uint64_t bytes;
    FILE *f = NULL;
    if (path && hvp_is_file(path) && hvp_open_regular(path, &fd, &bytes) == HVP_OK &&
        !(f = fdopen(fd, "r")))
        close(fd);
    free(path);
    char line[256];
    for (int c = 0; c < n; c++) {
        char *name = NULL;
        while (f && !name && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = '\0';
            if (line[0])
                name = line;
        }
        if (!name) {
            snprintf(line, sizeof line, "%d", c);
            name = line;
        }
        if (!(ds->class_names[c] = hvp_strdup(name))) {
            if (f)
                fclose(f);
            return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        }
    }
    if (f)
        fclose(f);
    return HVP_OK;
}

hvp_status hvp_cifar_open(hvp_dataset *ds, const char *root, int hundred, int train, int channels)
{
    char *dir = batch_dir(root, hundred);
    if (!dir)
        return HVP_FAIL(HVP_ERR_NOTFOUND, "no CIFAR-%s binary batches in '%s' (expected %s)",
                        hundred ? "100" : "10", root,
                        hundred ? "train.bin and test.bin" : "data_batch_1..5.bin and test_batch.bin");
    cifar_impl *c = calloc(1, sizeof *c);
    if (!c) {
        free(dir);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    }
    c->label_bytes = hundred ? 2 : 1;
    c->record_size = c->label_bytes + 3 * CIFAR_PIXELS;
    const char *names10[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                              "data_batch_4.bin", "data_batch_5.bin"};
    const char *const *names = names10;
    const char *single[1];
    int nfiles = 5;
    if (hundred || !train) {
        single[0] = hundred ? (train ? "train.bin" : "test.bin") : "test_batch.bin";
        names = single;
        nfiles = 1;
    }
    hvp_status s = HVP_OK;
    size_t used = 0;
    for (int k = 0; k < nfiles && s == HVP_OK; k++) {
        char *path = hvp_path_join(dir, names[k]);
        c->files[c->nfiles++] = path;
        if (!path) {
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
            break;
        }
        int fd;
        uint64_t bytes;
        if ((s = hvp_open_regular(path, &fd, &bytes)) != HVP_OK)
            break;
        FILE *f = fdopen(fd, "rb");
        if (!f) {
            close(fd);
            s = HVP_FAIL(HVP_ERR_IO, "CIFAR batch '%s' cannot be read: %s", path, strerror(errno));
            break;
        }
        /* 60,000 records of 3,073 bytes are 176 MiB; a file of over 1 GiB is not CIFAR */
        long size = bytes > (1u << 30) ? -1 : (long)bytes;
        if (size <= 0 || size % c->record_size != 0) {
            fclose(f);
            s = HVP_FAIL(HVP_ERR_FORMAT,
                         "CIFAR batch '%s' has %" PRIu64 " bytes, not a whole number of %d-byte "
                         "records",
                         path, bytes, c->record_size);
            break;
        }
        uint8_t *r = realloc(c->records, used + (size_t)size);
        if (!r) {
            fclose(f);
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory reading '%s'", path);
            break;
        }
        c->records = r;
        size_t got = fread(c->records + used, 1, (size_t)size, f);
        fclose(f);
        if (got != (size_t)size) {
            s = HVP_FAIL(HVP_ERR_IO, "short read of CIFAR batch '%s'", path);
            break;
        }
        c->file_start[k] = (int64_t)(used / (size_t)c->record_size);
        used += (size_t)size;
    }
    int64_t n = (int64_t)(used / (size_t)c->record_size);
    int nclasses = hundred ? 100 : 10;
    if (s == HVP_OK && !(ds->labels = malloc((size_t)n * sizeof *ds->labels)))
        s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; s == HVP_OK && i < n; i++) {
        int label = c->records[(size_t)i * (size_t)c->record_size + (size_t)c->label_bytes - 1];
        if (label >= nclasses) {
            int f = 0;
            while (f + 1 < c->nfiles && i >= c->file_start[f + 1])
                f++;
            s = HVP_FAIL(HVP_ERR_FORMAT, "CIFAR batch '%s': record %" PRId64
                         " has label %d, want < %d (wrong format, CIFAR-10 vs -100?)",
                         c->files[f], i - c->file_start[f], label, nclasses);
        }
        else
            ds->labels[i] = label;
    }
    if (s == HVP_OK)
        s = class_names(ds, dir, hundred ? "fine_label_names.txt" : "batches.meta.txt", nclasses);
    free(dir);
    if (s != HVP_OK) {
        cifar_free(c);
        return s;
    }
    ds->vt = &cifar_vt;
    ds->impl = c;
    ds->n = n;
    ds->channels = channels;
    return HVP_OK;
}
