/* Opening a dataset (format choice, auto-detection, the readability probe), accessors,
 * per-thread decoders and the small helpers the format files share. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"

static const struct {
    const char *name;
    hvp_data_format format;
} format_names[] = {
    {"auto", HVP_DATA_AUTO},       {"imagefolder", HVP_DATA_IMAGEFOLDER},
    {"folder", HVP_DATA_FOLDER},   {"cifar10", HVP_DATA_CIFAR10},
    {"cifar100", HVP_DATA_CIFAR100}, {"idx", HVP_DATA_IDX},
    {"mnist", HVP_DATA_IDX},       {"fashion-mnist", HVP_DATA_IDX},
};

hvp_status hvp_data_format_parse(const char *name, hvp_data_format *out)
{
    for (size_t i = 0; name && i < sizeof format_names / sizeof format_names[0]; i++)
        if (strcmp(name, format_names[i].name) == 0) {
            *out = format_names[i].format;
            return HVP_OK;
        }
    return HVP_FAIL(HVP_ERR_ARG,
                    "unknown dataset format '%s' (expected auto, imagefolder, folder, cifar10, "
                    "cifar100, idx, mnist or fashion-mnist)",
                    name ? name : "(null)");
}

const char *hvp_data_format_name(hvp_data_format f)
{
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (format_names[i].format == f)
            return format_names[i].name;
    return "unknown";
}

/* ---- helpers ----------------------------------------------------------------------------- */

char *hvp_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *hvp_path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int slash = na > 0 && a[na - 1] != '/';
    char *p = malloc(na + (size_t)slash + nb + 1);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    if (slash)
        p[na] = '/';
    memcpy(p + na + (size_t)slash, b, nb + 1);
    return p;
}

int hvp_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int hvp_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

hvp_status hvp_decoded_reserve(hvp_decoded *img, int height, int width, int channels)
{
    if (height <= 0 || width <= 0 || (int64_t)height * width > HVP_DATA_MAX_PIXELS)
        return HVP_FAIL(HVP_ERR_FORMAT, "implausible image size %dx%d", width, height);
    size_t bytes = (size_t)height * (size_t)width * (size_t)channels;
    if (bytes > img->capacity) {
        uint8_t *p = realloc(img->pixels, bytes);
        if (!p)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of memory for a %dx%d image", width, height);
        img->pixels = p;
        img->capacity = bytes;
    }
    img->height = height;
    img->width = width;
    img->channels = channels;
    return HVP_OK;
}

void hvp_decoded_free(hvp_decoded *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

void hvp_rgb_to_gray(const uint8_t *rgb, uint8_t *gray, size_t pixels)
{
    for (size_t i = 0; i < pixels; i++)
        gray[i] = (uint8_t)((19595u * rgb[3 * i] + 38470u * rgb[3 * i + 1] +
                             7471u * rgb[3 * i + 2] + 0x8000u) >> 16);
}

void hvp_gray_to_rgb(const uint8_t *gray, uint8_t *rgb, size_t pixels)
{
    for (size_t i = 0; i < pixels; i++)
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
}

hvp_status hvp_open_regular(const char *path, int *fd, uint64_t *size)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return HVP_FAIL(HVP_ERR_IO, "'%s' is not a regular file (a FIFO, device or socket?)",
                        path);
    }
    fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK);
    *fd = f;
    *size = (uint64_t)st.st_size;
    return HVP_OK;
}

hvp_status hvp_read_file(const char *path, hvp_decoder *dec, size_t *size)
{
    int fd;
    uint64_t bytes;
    HVP_TRY(hvp_open_regular(path, &fd, &bytes));
    hvp_status s = HVP_OK;
    if (bytes > HVP_DATA_MAX_FILE_BYTES)
        s = HVP_FAIL(HVP_ERR_FORMAT, "'%s' has %" PRIu64 " MiB: more than the %d MiB read for "
                     "one image", path, bytes >> 20, HVP_DATA_MAX_FILE_BYTES >> 20);
    if (s == HVP_OK && bytes > dec->capacity) {
        uint8_t *p = realloc(dec->buf, (size_t)bytes);
        if (p) {
            dec->buf = p;
            dec->capacity = (size_t)bytes;
        } else {
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory reading '%s'", path);
        }
    }
    /* The size fstat gave, no more: a file that grows while read is cut there. */
    size_t used = 0;
    while (s == HVP_OK && used < bytes) {
        ssize_t got = read(fd, dec->buf + used, (size_t)bytes - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            s = HVP_FAIL(HVP_ERR_IO, "error reading '%s': %s", path, strerror(errno));
        else if (got == 0)
            break; /* shrank meanwhile: decode what is there */
        else
            used += (size_t)got;
    }
    close(fd);
    *size = used;
    return s;
}

/* ---- decoders ---------------------------------------------------------------------------- */

hvp_status hvp_decoder_create(hvp_decoder **out)
{
    hvp_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory for a decoder");
    *out = d;
    return HVP_OK;
}

void hvp_decoder_destroy(hvp_decoder *dec)
{
    if (!dec)
        return;
    if (dec->tj)
        tjDestroy(dec->tj);
    free(dec->buf);
    free(dec);
}

/* ---- opening ----------------------------------------------------------------------------- */

static int has_subdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = hvp_path_join(dir, e->d_name);
        found = p && hvp_is_dir(p);
        free(p);
    }
    closedir(d);
    return found;
}

static void dataset_free(hvp_dataset *ds)
{
    if (ds->vt && ds->impl)
        ds->vt->free_impl(ds->impl);
    for (int c = 0; ds->class_names && c < ds->nclasses; c++)
        free(ds->class_names[c]);
    free(ds->class_names);
    free(ds->labels);
    free(ds->root);
    free(ds);
}

void hvp_dataset_close(hvp_dataset *ds)
{
    if (ds)
        dataset_free(ds);
}

/* Decodes items in order until one succeeds. */
static hvp_status probe(hvp_dataset *ds)
{
    hvp_decoder *dec = NULL;
    HVP_TRY(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    char first[1024] = "";
    hvp_status s = HVP_ERR_FORMAT;
    for (int64_t i = 0; i < ds->n; i++) {
        s = hvp_dataset_decode(ds, dec, i, &img);
        if (s == HVP_OK || s == HVP_ERR_NOMEM)
            break;
        if (!first[0])
            snprintf(first, sizeof first, "%s", hvp_last_error());
    }
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    if (s == HVP_OK || s == HVP_ERR_NOMEM)
        return s;
    return HVP_FAIL(HVP_ERR_FORMAT,
                    "no readable image in '%s' (%s): all %" PRId64 " files failed to decode; "
                    "the first: %s",
                    ds->root, hvp_data_format_name(ds->format), ds->n, first);
}

hvp_status hvp_dataset_open(const hvp_dataset_opts *opts, hvp_dataset **out)
{
    *out = NULL;
    const char *root = opts->root && opts->root[0] ? opts->root : HVP_DATA_DEFAULT_ROOT;
    const char *split = opts->split && opts->split[0] ? opts->split : "train";
    int channels = opts->channels;
    if (channels != 0 && channels != 1 && channels != 3)
        return HVP_FAIL(HVP_ERR_ARG, "dataset channels must be 1 or 3, not %d", channels);
    struct stat st;
    if (stat(root, &st) != 0)
        return HVP_FAIL(HVP_ERR_NOTFOUND,
                        "dataset root '%s' does not exist (expected a folder of images in class "
                        "folders, CIFAR .bin batches or IDX files)",
                        root);
    hvp_data_format f = opts->format;
    int hundred = 0;
    if (f == HVP_DATA_AUTO) {
        if (hvp_idx_detect(root))
            f = HVP_DATA_IDX;
        else if (S_ISDIR(st.st_mode) && hvp_cifar_detect(root, &hundred))
            f = hundred ? HVP_DATA_CIFAR100 : HVP_DATA_CIFAR10;
        else if (!S_ISDIR(st.st_mode))
            return HVP_FAIL(HVP_ERR_FORMAT,
                            "dataset root '%s' is a file but not an IDX images file; expected a "
                            "folder",
                            root);
        else {
            char *sub = hvp_path_join(root, split);
            if (!sub)
                return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
            f = has_subdir(hvp_is_dir(sub) ? sub : root) ? HVP_DATA_IMAGEFOLDER : HVP_DATA_FOLDER;
            free(sub);
        }
    }
    int train = strcmp(split, "train") == 0;
    if ((f == HVP_DATA_CIFAR10 || f == HVP_DATA_CIFAR100 || f == HVP_DATA_IDX) && !train &&
        strcmp(split, "test") != 0)
        return HVP_FAIL(HVP_ERR_ARG, "split '%s' of '%s': %s has only 'train' and 'test'", split,
                        root, hvp_data_format_name(f));

    hvp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    ds->format = f;
    hvp_status s;
    switch (f) {
    case HVP_DATA_IMAGEFOLDER:
    case HVP_DATA_FOLDER: {
        char *sub = hvp_path_join(root, split);
        if (!sub) {
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
            break;
        }
        const char *dir = hvp_is_dir(sub) ? sub : root;
        ds->root = hvp_strdup(dir);
        free(sub);
        if (!ds->root) {
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
            break;
        }
        s = hvp_imagefolder_open(ds, ds->root, f == HVP_DATA_IMAGEFOLDER, channels ? channels : 3);
        break;
    }
    case HVP_DATA_CIFAR10:
    case HVP_DATA_CIFAR100:
        ds->root = hvp_strdup(root);
        s = ds->root ? hvp_cifar_open(ds, root, f == HVP_DATA_CIFAR100, train, channels ? channels : 3)
                     : HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        break;
    case HVP_DATA_IDX:
        ds->root = hvp_strdup(root);
        s = ds->root ? hvp_idx_open(ds, root, train, channels ? channels : 1)
                     : HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        break;
    default:
        s = HVP_FAIL(HVP_ERR_ARG, "unknown dataset format %d", (int)f);
    }
    if (s == HVP_OK)
        s = probe(ds);
    if (s != HVP_OK) {
        dataset_free(ds);
        return s;
    }
    *out = ds;
    return HVP_OK;
}

/* ---- accessors --------------------------------------------------------------------------- */

int64_t hvp_dataset_size(const hvp_dataset *ds) { return ds->n; }
int hvp_dataset_channels(const hvp_dataset *ds) { return ds->channels; }
hvp_data_format hvp_dataset_format(const hvp_dataset *ds) { return ds->format; }
const char *hvp_dataset_root(const hvp_dataset *ds) { return ds->root; }
int hvp_dataset_num_classes(const hvp_dataset *ds) { return ds->nclasses; }

const char *hvp_dataset_class_name(const hvp_dataset *ds, int cls)
{
    if (cls < 0 || cls >= ds->nclasses || !ds->class_names)
        return NULL;
    return ds->class_names[cls];
}

int hvp_dataset_label(const hvp_dataset *ds, int64_t i)
{
    if (!ds->labels || i < 0 || i >= ds->n)
        return -1;
    return ds->labels[i];
}

const char *hvp_dataset_item_name(const hvp_dataset *ds, int64_t i, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (i < 0 || i >= ds->n)
        snprintf(buf, size, "%s[#%" PRId64 ", out of range]", ds->root, i);
    else
        ds->vt->item_name(ds, i, buf, size);
    return buf;
}

hvp_status hvp_dataset_decode(const hvp_dataset *ds, hvp_decoder *dec, int64_t i, hvp_decoded *img)
{
    if (i < 0 || i >= ds->n)
        return HVP_FAIL(HVP_ERR_ARG, "item %" PRId64 " out of range [0, %" PRId64 ") of '%s'", i,
                        ds->n, ds->root);
    HVP_TRY(ds->vt->decode(ds, dec, i, img));
    img->label = hvp_dataset_label(ds, i);
    return HVP_OK;
}
