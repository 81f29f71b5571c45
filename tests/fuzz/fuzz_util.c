/* What the fuzz harnesses share: splitting an input into parts, a scratch folder for the
 * readers that take paths, and reporting a broken invariant. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

int fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts)
{
    const size_t seplen = sizeof FUZZ_SEP - 1;
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; n + 1 < FUZZ_MAX_PARTS && i + seplen <= size; i++)
        if (memcmp(data + i, FUZZ_SEP, seplen) == 0) {
            parts[n++] = (fuzz_part){data + start, i - start};
            start = i + seplen;
            i = start - 1;
        }
    parts[n++] = (fuzz_part){data + start, size - start};
    return n;
}

char *fuzz_cstr(fuzz_part p)
{
    size_t n = strnlen((const char *)p.data, p.size);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p.data, n);
        s[n] = 0;
    }
    return s;
}

static char scratch[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

static void remove_scratch(void)
{
    nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    rmdir(scratch);
}

const char *fuzz_scratch(void)
{
    if (!scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(scratch, sizeof scratch, "%s/hvp_fuzz.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(scratch)) {
            scratch[0] = 0;
            return NULL;
        }
        atexit(remove_scratch);
    }
    /* FTW_PHYS: a symlink an input made is removed, never followed */
    nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return scratch;
}

char *fuzz_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s/%s", dir, name);
    return path;
}

char *fuzz_make_parents(const char *dir, const char *name)
{
    char *path = fuzz_path(dir, name);
    if (!path)
        return NULL;
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = 0;
        int bad = mkdir(path, 0700) != 0 && errno != EEXIST;
        *s = '/';
        if (bad) {
            free(path);
            return NULL;
        }
    }
    return path;
}

char *fuzz_write(const char *dir, const char *name, const void *data, size_t size)
{
    char *path = fuzz_make_parents(dir, name);
    if (!path)
        return NULL;
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, 1, size, f) == size;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        free(path);
        return NULL;
    }
    return path;
}

volatile unsigned fuzz_pixel_sum; /* written, never read: keeps the pixel reads */

int fuzz_check_decoded(const hvp_decoded *img, int channels)
{
    size_t bytes = (size_t)img->height * (size_t)img->width * (size_t)img->channels;
    if (img->height <= 0 || img->width <= 0 || img->channels != channels ||
        bytes > img->capacity)
        return fuzz_fail("decoded %dx%dx%d (asked for %d channels) into %zu bytes", img->width,
                         img->height, img->channels, channels, img->capacity);
    unsigned sum = 0;
    for (size_t i = 0; i < bytes; i++)
        sum += img->pixels[i];
    fuzz_pixel_sum = sum;
    return 0;
}

/* Items decoded per dataset: enough to reach every file of a small tree. */
#define READ_ITEMS 64

int fuzz_read_dataset(const hvp_dataset_opts *opts)
{
    hvp_dataset *ds = NULL;
    if (hvp_dataset_open(opts, &ds) != HVP_OK)
        return 0;
    hvp_decoder *dec = NULL;
    hvp_decoded img = {0};
    int bad = 0, channels = hvp_dataset_channels(ds), nclasses = hvp_dataset_num_classes(ds);
    int64_t n = hvp_dataset_size(ds);
    if (n <= 0 || (channels != 1 && channels != 3) || nclasses < 0)
        bad = fuzz_fail("opened with %lld items, %d channels, %d classes", (long long)n, channels,
                        nclasses);
    for (int c = 0; !bad && c < nclasses; c++)
        if (!hvp_dataset_class_name(ds, c))
            bad = fuzz_fail("class %d of %d has no name", c, nclasses);
    if (!bad && hvp_decoder_create(&dec) != HVP_OK)
        dec = NULL;
    for (int64_t i = 0; !bad && dec && i < n && i < READ_ITEMS; i++) {
        char name[256];
        hvp_dataset_item_name(ds, i, name, sizeof name);
        int label = hvp_dataset_label(ds, i);
        if (label < -1 || label >= nclasses || (nclasses > 0 && label < 0))
            bad = fuzz_fail("item %lld ('%s') has label %d of %d classes", (long long)i, name,
                            label, nclasses);
        else if (hvp_dataset_decode(ds, dec, i, &img) == HVP_OK)
            bad = fuzz_check_decoded(&img, channels);
    }
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_dataset_close(ds);
    return bad;
}

int fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}
