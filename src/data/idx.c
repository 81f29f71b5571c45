/* IDX files (http://yann.lecun.com/exdb/mnist/), gzip-compressed or plain (zlib's gzread
 * reads both): an images file (magic 0x00000803: unsigned bytes, 3 dimensions N x rows x
 * cols) and an optional labels file (0x00000801, N). MNIST and Fashion-MNIST name them
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; "images.idx3" spellings are accepted
 * too. Without a labels file the images are unlabeled. Read whole at open; a bad header or
 * a short file fails the open. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "data/dataset.h"

typedef struct idx_impl {
    uint8_t *pixels; /* N x rows x cols */
    int rows, cols;
    char *file;
} idx_impl;

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                                              "Ankle boot"};

/* The first existing file among the usual spellings of "<prefix>-<kind>" in dir. */
static char *find_file(const char *dir, const char *prefix, int labels)
{
    static const char *const forms[] = {"%s-%s-ubyte.gz", "%s-%s-ubyte", "%s-%s.gz", "%s-%s"};
    const char *kinds[2] = {labels ? "labels-idx1" : "images-idx3",
                            labels ? "labels.idx1" : "images.idx3"};
    char name[128];
    for (int k = 0; k < 2; k++)
        for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
            snprintf(name, sizeof name, forms[f], prefix, kinds[k]);
            char *p = hvp_path_join(dir, name);
            if (p && hvp_is_file(p))
                return p;
            free(p);
        }
    return NULL;
}

/* gzip or plain, a regular file only (a FIFO would block). */
static gzFile open_idx(const char *path)
{
    int fd;
    uint64_t size;
    if (hvp_open_regular(path, &fd, &size) != HVP_OK)
        return NULL;
    gzFile g = gzdopen(fd, "rb");
    if (!g)
        close(fd);
    return g;
}

static int read_magic(const char *path, uint32_t *magic)
{
    gzFile g = open_idx(path);
    if (!g)
        return 0;
    uint8_t b[4];
    int n = gzread(g, b, 4);
    gzclose(g);
    if (n != 4)
        return 0;
    *magic = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 1;
}

int hvp_idx_detect(const char *root)
{
    uint32_t magic;
    if (hvp_is_file(root))
        return read_magic(root, &magic) && magic == 0x803;
    const char *prefixes[2] = {"train", "t10k"};
    for (int i = 0; i < 2; i++) {
        char *p = find_file(root, prefixes[i], 0);
        free(p);
        if (p)
            return 1;
    }
    return 0;
}

/* Reads an IDX file of unsigned bytes with ndim dimensions: dims[ndim] and the data. */
static hvp_status read_idx(const char *path, int ndim, uint32_t dims[3], uint8_t **data)
{
    gzFile g = open_idx(path);
    if (!g)
        return HVP_FAIL(HVP_ERR_IO, "cannot open IDX file '%s': %s", path, hvp_last_error());
    gzbuffer(g, 1 << 17);
    uint8_t h[16];
    int hn = 4 + 4 * ndim;
    hvp_status s = HVP_OK;
    if (gzread(g, h, (unsigned)hn) != hn || h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] != ndim)
        s = HVP_FAIL(HVP_ERR_FORMAT,
                     "'%s' is not an IDX file of unsigned bytes with %d dimensions (magic "
                     "0x000008%02x)",
                     path, ndim, ndim);
    uint64_t total = 1;
    for (int d = 0; s == HVP_OK && d < ndim; d++) {
        dims[d] = (uint32_t)h[4 + 4 * d] << 24 | (uint32_t)h[5 + 4 * d] << 16 |
                  (uint32_t)h[6 + 4 * d] << 8 | h[7 + 4 * d];
        total *= dims[d];
    }
    if (s == HVP_OK && (total == 0 || total > ((uint64_t)1 << 34) ||
                        (ndim == 3 && (uint64_t)dims[1] * dims[2] > HVP_DATA_MAX_PIXELS)))
        s = HVP_FAIL(HVP_ERR_FORMAT, "IDX file '%s' has implausible dimensions", path);
    /* The buffer grows with what was read, so a header that promises gigabytes of a
     * short file allocates no more than twice the file's data. */
    *data = NULL;
    uint64_t got = 0, cap = 0;
    while (s == HVP_OK && got < total) {
        if (got == cap) {
            cap = cap ? 2 * cap : 1u << 20;
            if (cap > total)
                cap = total;
            uint8_t *p = realloc(*data, (size_t)cap);
            if (!p) {
                s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory reading '%s'", path);
                break;
            }
            *data = p;
        }
        uint64_t want = cap - got > (1u << 30) ? (1u << 30) : cap - got;
        int n = gzread(g, *data + got, (unsigned)want);
        if (n <= 0) {
            int err;
            const char *msg = gzerror(g, &err);
            s = HVP_FAIL(HVP_ERR_FORMAT,
                         "IDX file '%s' is truncated or corrupt: %" PRIu64 " of %" PRIu64
                         " data bytes read%s%s",
                         path, got, total, err ? ": " : "", err ? msg : "");
        }
        got += (uint64_t)(n > 0 ? n : 0);
    }
    gzclose(g);
    if (s != HVP_OK) {
        free(*data);
        *data = NULL;
    }
    return s;
}

static void idx_free(void *impl)
{
    idx_impl *x = impl;
    free(x->pixels);
    free(x->file);
    free(x);
}

static hvp_status idx_decode(const hvp_dataset *ds, hvp_decoder *dec, int64_t i, hvp_decoded *img)
{
    (void)dec;
    const idx_impl *x = ds->impl;
    HVP_TRY(hvp_decoded_reserve(img, x->rows, x->cols, ds->channels));
    size_t np = (size_t)x->rows * (size_t)x->cols;
    const uint8_t *src = x->pixels + (size_t)i * np;
    if (ds->channels == 1)
        memcpy(img->pixels, src, np);
    else
        hvp_gray_to_rgb(src, img->pixels, np);
    return HVP_OK;
}

static void idx_item_name(const hvp_dataset *ds, int64_t i, char *buf, size_t size)
{
    const idx_impl *x = ds->impl;
    snprintf(buf, size, "%s[#%" PRId64 "]", x->file, i);
}

static const hvp_dataset_vt idx_vt = {idx_decode, idx_item_name, idx_free};

/* The labels file next to an images file given by path: images-idx3 -> labels-idx1. */
static char *labels_beside(const char *images)
{
    char *p = hvp_strdup(images);
    if (!p)
        return NULL;
    char *base = strrchr(p, '/');
    base = base ? base + 1 : p;
    char *at = strstr(base, "images-idx3");
    if (!at)
        at = strstr(base, "images.idx3");
    if (!at) {
        free(p);
        return NULL;
    }
    memcpy(at, "labels", 6);
    memcpy(at + 7, "idx1", 4);
    if (!hvp_is_file(p)) {
        free(p);
        return NULL;
    }
    return p;
}

hvp_status hvp_idx_open(hvp_dataset *ds, const char *root, int train, int channels)
{
    char *images, *labels;
    if (hvp_is_file(root)) {
        images = hvp_strdup(root);
        labels = labels_beside(root);
    } else {
        images = find_file(root, train ? "train" : "t10k", 0);
        labels = find_file(root, train ? "train" : "t10k", 1);
    }
    if (!images) {
        free(labels);
        return HVP_FAIL(HVP_ERR_NOTFOUND,
                        "no IDX images file in '%s' (expected %s-images-idx3-ubyte[.gz])", root,
                        train ? "train" : "t10k");
    }
    idx_impl *x = calloc(1, sizeof *x);
    uint32_t dims[3], ldims[3];
    uint8_t *lab = NULL;
    hvp_status s = x ? read_idx(images, 3, dims, &x->pixels) : HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    if (s == HVP_OK) {
        x->file = images;
        images = NULL;
        x->rows = (int)dims[1];
        x->cols = (int)dims[2];
    }
    if (s == HVP_OK && labels) {
        s = read_idx(labels, 1, ldims, &lab);
        if (s == HVP_OK && ldims[0] != dims[0])
            s = HVP_FAIL(HVP_ERR_FORMAT, "IDX labels '%s' has %u labels for %u images in '%s'",
                         labels, ldims[0], dims[0], x->file);
    }
    int maxl = -1;
    if (s == HVP_OK && lab) {
        if (!(ds->labels = malloc((size_t)dims[0] * sizeof *ds->labels)))
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        for (uint32_t i = 0; s == HVP_OK && i < dims[0]; i++) {
            ds->labels[i] = lab[i];
            if (lab[i] > maxl)
                maxl = lab[i];
        }
    }
    if (s == HVP_OK && maxl >= 0) {
        int fashion = strstr(root, "fashion") != NULL && maxl < 10;
        ds->nclasses = maxl + 1;
        if (!(ds->class_names = calloc((size_t)ds->nclasses, sizeof *ds->class_names)))
            s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        for (int c = 0; s == HVP_OK && c < ds->nclasses; c++) {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            if (!(ds->class_names[c] = hvp_strdup(fashion ? fashion_names[c] : num)))
                s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
        }
    }
    free(lab);
    free(labels);
    free(images);
    if (s != HVP_OK) {
        if (x)
            idx_free(x);
        return s;
    }
    ds->vt = &idx_vt;
    ds->impl = x;
    ds->n = dims[0];
    ds->channels = channels;
    return HVP_OK;
}
