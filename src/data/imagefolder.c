/* Folders of image files: torchvision's ImageFolder (root/<class>/..., classes in sorted
 * order, files found by os.walk(followlinks=True) with sorted directories and sorted names,
 * extensions as torchvision's IMG_EXTENSIONS, case-insensitive; a symlink back to a folder
 * above, on which os.walk loops, is not followed) and a flat unlabeled folder.
 *
 * Decoding goes by the file's content, not its name: JPEG through TurboJPEG, PNG through
 * libpng (src/data/png.c), binary PPM/PGM (P6/P5) by hand. BMP, TIFF and WebP files are
 * listed (so indices match torchvision's) but not decoded: they are reported as bad files. JPEG warnings other than a
 * premature end (truncation) are accepted, as PIL does; a truncated JPEG is a bad file.
 * Grayscale output of a colour JPEG is its luma (Y) plane from TurboJPEG. */
#define _GNU_SOURCE /* strcasestr */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data/dataset.h"

typedef struct folder_impl {
    char *pool;        /* every path, NUL-terminated, back to back */
    size_t *path_off;  /* [n] */
} folder_impl;

static const char *const extensions[] = {".jpg", ".jpeg", ".png", ".ppm", ".bmp",
                                         ".pgm", ".tif",  ".tiff", ".webp"};

static int allowed(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        size_t e = strlen(extensions[i]);
        if (n >= e && strcasecmp(name + n - e, extensions[i]) == 0)
            return 1;
    }
    return 0;
}

/* A growing list of strings. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

static int strlist_push(strlist *l, char *s)
{
    if (!s)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(s);
            return 0;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 1;
}

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir: want_dirs 1 -> sub-folders (symlinks followed), 0 -> other entries with an
 * image extension. Sorted. Returns 0 when out of memory or dir unreadable. */
static int list_dir(const char *dir, int want_dirs, strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int ok = 1;
    while (ok && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = hvp_path_join(dir, e->d_name);
        if (!p) {
            ok = 0;
            break;
        }
        int is_dir = hvp_is_dir(p);
        free(p);
        if (want_dirs ? is_dir : (!is_dir && allowed(e->d_name)))
            ok = strlist_push(out, hvp_strdup(e->d_name));
    }
    closedir(d);
    if (ok && out->n > 1) /* qsort's array may not be NULL, even for no element */
        qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return ok;
}

/* The folders above the one being walked, to tell a symlink back up to one of them. */
typedef struct walk_up {
    dev_t dev;
    ino_t ino;
    const struct walk_up *up;
} walk_up;

/* Every folder under dir, dir included (os.walk's roots). A symlink to a folder above is
 * not followed: os.walk would loop forever, and a depth limit alone makes two such links
 * cost 2^depth. The depth limit stays, for links that make ever new paths. */
static int walk_dirs(const char *dir, const walk_up *up, int depth, strlist *out)
{
    struct stat st;
    walk_up self = {0, 0, up};
    if (stat(dir, &st) == 0) {
        for (const walk_up *a = up; a; a = a->up)
            if (a->dev == st.st_dev && a->ino == st.st_ino)
                return 1;
        self.dev = st.st_dev;
        self.ino = st.st_ino;
    }
    if (!strlist_push(out, hvp_strdup(dir)))
        return 0;
    if (depth >= 40)
        return 1;
    strlist subs = {0};
    int ok = list_dir(dir, 1, &subs);
    for (size_t i = 0; ok && i < subs.n; i++) {
        char *p = hvp_path_join(dir, subs.v[i]);
        ok = p && walk_dirs(p, &self, depth + 1, out);
        free(p);
    }
    strlist_free(&subs);
    return ok;
}

typedef struct builder {
    char *pool;
    size_t used, cap;
    size_t *off;
    int32_t *labels;
    int64_t n, ncap;
} builder;

static int builder_add(builder *b, const char *path, int label)
{
    size_t len = strlen(path) + 1;
    if (b->used + len > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1 << 16;
        while (cap < b->used + len)
            cap *= 2;
        char *p = realloc(b->pool, cap);
        if (!p)
            return 0;
        b->pool = p;
        b->cap = cap;
    }
    if (b->n == b->ncap) {
        int64_t cap = b->ncap ? 2 * b->ncap : 1024;
        size_t *o = realloc(b->off, (size_t)cap * sizeof *o);
        if (!o)
            return 0;
        b->off = o;
        int32_t *l = realloc(b->labels, (size_t)cap * sizeof *l);
        if (!l)
            return 0;
        b->labels = l;
        b->ncap = cap;
    }
    memcpy(b->pool + b->used, path, len);
    b->off[b->n] = b->used;
    b->labels[b->n] = label;
    b->used += len;
    b->n++;
    return 1;
}

/* The files of one folder (not recursive), sorted, appended with the label. */
static int add_files(builder *b, const char *dir, int label)
{
    strlist files = {0};
    int ok = list_dir(dir, 0, &files);
    for (size_t i = 0; ok && i < files.n; i++) {
        char *p = hvp_path_join(dir, files.v[i]);
        ok = p && builder_add(b, p, label);
        free(p);
    }
    strlist_free(&files);
    return ok;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* libjpeg's warnings after which the whole image has been written (PIL accepts these too).
 * TurboJPEG keeps the first warning's text unless an error replaces it, and may label that
 * error a warning, so the text decides. A premature end (truncation) is a bad file. */
static int harmless_warning(const char *msg)
{
    static const char *const ok[] = {"Corrupt JPEG data:", "Warning:", "Inconsistent progression",
                                     "Invalid SOS parameters", "Unknown Adobe color transform"};
    if (strcasestr(msg, "premature end"))
        return 0;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strncmp(msg, ok[i], strlen(ok[i])) == 0)
            return 1;
    return 0;
}

static hvp_status jpeg_bad(hvp_decoder *dec, const char *path, const char *why)
{
    hvp_status s = HVP_FAIL(HVP_ERR_FORMAT, "corrupt JPEG '%s': %s", path, why);
    /* After a failed call a TurboJPEG 2.1 handle can stay in a state where every later
     * file fails too: start the next file with a fresh one. */
    tjDestroy(dec->tj);
    dec->tj = NULL;
    return s;
}

/* The frame marker's type (0xC0 baseline, 0xC1 extended, 0xC2 progressive, 0xC9.. arithmetic),
 * found by walking the segments before it; 0 when there is none. */
static int jpeg_frame_type(const uint8_t *b, size_t size)
{
    size_t p = 2;
    while (p + 4 <= size && b[p] == 0xFF) {
        int m = b[p + 1];
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC)
            return m;
        if (m == 0xFF) { /* fill byte */
            p++;
            continue;
        }
        p += 2 + ((size_t)b[p + 2] << 8 | b[p + 3]);
    }
    return 0;
}

static hvp_status decode_jpeg(hvp_decoder *dec, const uint8_t *b, size_t size, const char *path,
                              int channels, hvp_decoded *img)
{
    if (!dec->tj && !(dec->tj = tjInitDecompress()))
        return HVP_FAIL(HVP_ERR_NOMEM, "cannot create a TurboJPEG decompressor: %s",
                        tjGetErrorStr2(NULL));
    int w, h, subsamp, colorspace;
    if (tjDecompressHeader3(dec->tj, b, (unsigned long)size, &w, &h, &subsamp,
                            &colorspace) != 0)
        return jpeg_bad(dec, path, tjGetErrorStr2(dec->tj));
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
        return HVP_FAIL(HVP_ERR_FORMAT, "CMYK JPEG '%s' is not supported", path);
    /* Sequential Huffman coding spends at least 2 bits (a DC and an end-of-block code) on
     * every 8x8 block, so such a file holds w*h/256 bytes at least: a header promising far
     * more is a truncated or corrupt file, refused before seconds of decoding. */
    int frame = jpeg_frame_type(b, size);
    if ((frame == 0xC0 || frame == 0xC1) && size < (uint64_t)w * (uint64_t)h / 256)
        return HVP_FAIL(HVP_ERR_FORMAT, "truncated JPEG '%s': %zu bytes cannot hold %dx%d pixels",
                        path, size, w, h);
    hvp_status s = hvp_decoded_reserve(img, h, w, channels);
    if (s != HVP_OK)
        return HVP_FAIL(s, "JPEG '%s': %s", path, hvp_last_error());
    /* TJFLAG_LIMITSCANS: a progressive file of thousands of tiny scans is an attack, not
     * an image */
    if (tjDecompress2(dec->tj, b, (unsigned long)size, img->pixels, w, 0, h,
                      channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_LIMITSCANS) != 0) {
        const char *msg = tjGetErrorStr2(dec->tj);
        if (!harmless_warning(msg))
            return jpeg_bad(dec, path, msg);
    }
    return HVP_OK;
}

/* Netpbm header token: skips whitespace and comments, reads a decimal number. */
static int pnm_number(const uint8_t *b, size_t size, size_t *pos, unsigned *out)
{
    size_t p = *pos;
    for (;;) {
        while (p < size && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r' ||
                            b[p] == '\v' || b[p] == '\f'))
            p++;
        if (p < size && b[p] == '#') {
            while (p < size && b[p] != '\n' && b[p] != '\r')
                p++;
            continue;
        }
        break;
    }
    if (p >= size || b[p] < '0' || b[p] > '9')
        return 0;
    uint64_t v = 0;
    while (p < size && b[p] >= '0' && b[p] <= '9') {
        v = v * 10 + (unsigned)(b[p] - '0');
        if (v > 0xFFFFFFu)
            return 0;
        p++;
    }
    *pos = p;
    *out = (unsigned)v;
    return 1;
}

static hvp_status decode_pnm(const uint8_t *b, size_t size, const char *path, int channels,
                             hvp_decoded *img)
{
    int file_ch = b[1] == '6' ? 3 : 1;
    size_t pos = 2;
    unsigned w, h, maxval;
    if (!pnm_number(b, size, &pos, &w) || !pnm_number(b, size, &pos, &h) ||
        !pnm_number(b, size, &pos, &maxval) || pos >= size || maxval == 0 || maxval > 65535)
        return HVP_FAIL(HVP_ERR_FORMAT, "corrupt PPM/PGM header in '%s'", path);
    pos++; /* the single whitespace after maxval */
    /* w and h are below 2^24, so this cannot overflow; checked before any allocation */
    size_t samples = (size_t)w * h * (size_t)file_ch, bps = maxval > 255 ? 2 : 1;
    if (size - pos < samples * bps)
        return HVP_FAIL(HVP_ERR_FORMAT, "truncated PPM/PGM '%s': %zu bytes of pixels, want %zu",
                        path, size - pos, samples * bps);
    hvp_status st = hvp_decoded_reserve(img, (int)h, (int)w, channels);
    if (st != HVP_OK)
        return HVP_FAIL(st, "PPM/PGM '%s': %s", path, hvp_last_error());
    const uint8_t *src = b + pos;
    uint8_t *tmp = NULL;
    if (bps == 2 || maxval != 255) { /* rescale to 0..255, rounding */
        tmp = malloc(samples);
        if (!tmp)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of memory decoding '%s'", path);
        for (size_t i = 0; i < samples; i++) {
            unsigned v = bps == 2 ? (unsigned)src[2 * i] << 8 | src[2 * i + 1] : src[i];
            if (v > maxval)
                v = maxval;
            tmp[i] = (uint8_t)((v * 255u + maxval / 2) / maxval);
        }
        src = tmp;
    }
    size_t pixels = (size_t)w * h;
    if (file_ch == channels)
        memcpy(img->pixels, src, samples);
    else if (channels == 1)
        hvp_rgb_to_gray(src, img->pixels, pixels);
    else
        hvp_gray_to_rgb(src, img->pixels, pixels);
    free(tmp);
    return HVP_OK;
}

static const char *sniff(const uint8_t *b, size_t n)
{
    if (n >= 2 && b[0] == 'B' && b[1] == 'M')
        return "BMP";
    if (n >= 4 && (memcmp(b, "II*\0", 4) == 0 || memcmp(b, "MM\0*", 4) == 0))
        return "TIFF";
    if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WEBP", 4) == 0)
        return "WebP";
    return NULL;
}

hvp_status hvp_image_decode(hvp_decoder *dec, const uint8_t *b, size_t size, const char *name,
                            int channels, hvp_decoded *img)
{
    if (size == 0)
        return HVP_FAIL(HVP_ERR_FORMAT, "empty file '%s'", name);
    if (size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return decode_jpeg(dec, b, size, name, channels, img);
    if (size >= 3 && b[0] == 'P' && (b[1] == '5' || b[1] == '6'))
        return decode_pnm(b, size, name, channels, img);
    if (size >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0)
        return hvp_decode_png(b, size, name, channels, img);
    const char *kind = sniff(b, size);
    if (kind)
        return HVP_FAIL(HVP_ERR_FORMAT,
                        "'%s' is a %s image: not supported (hvp decodes JPEG, PNG and binary "
                        "PPM/PGM)",
                        name, kind);
    return HVP_FAIL(HVP_ERR_FORMAT, "'%s' is not an image (not JPEG, PNG or PPM/PGM)", name);
}

static hvp_status folder_decode(const hvp_dataset *ds, hvp_decoder *dec, int64_t i,
                                hvp_decoded *img)
{
    const folder_impl *f = ds->impl;
    const char *path = f->pool + f->path_off[i];
    size_t size;
    HVP_TRY(hvp_read_file(path, dec, &size));
    return hvp_image_decode(dec, dec->buf, size, path, ds->channels, img);
}

static void folder_item_name(const hvp_dataset *ds, int64_t i, char *buf, size_t size)
{
    const folder_impl *f = ds->impl;
    snprintf(buf, size, "%s", f->pool + f->path_off[i]);
}

static void folder_free(void *impl)
{
    folder_impl *f = impl;
    free(f->pool);
    free(f->path_off);
    free(f);
}

static const hvp_dataset_vt folder_vt = {folder_decode, folder_item_name, folder_free};

hvp_status hvp_imagefolder_open(hvp_dataset *ds, const char *root, int labeled, int channels)
{
    if (!hvp_is_dir(root))
        return HVP_FAIL(HVP_ERR_NOTFOUND, "image folder '%s' is not a folder", root);
    builder b = {0};
    strlist classes = {0};
    int ok = 1;
    if (labeled) {
        ok = list_dir(root, 1, &classes);
        for (size_t c = 0; ok && c < classes.n; c++) {
            char *cdir = hvp_path_join(root, classes.v[c]);
            strlist dirs = {0};
            ok = cdir && walk_dirs(cdir, NULL, 0, &dirs);
            if (ok)
                qsort(dirs.v, dirs.n, sizeof *dirs.v, cmp_str);
            for (size_t d = 0; ok && d < dirs.n; d++)
                ok = add_files(&b, dirs.v[d], (int)c);
            strlist_free(&dirs);
            free(cdir);
        }
    } else {
        ok = add_files(&b, root, -1);
    }
    hvp_status s = HVP_OK;
    if (!ok)
        s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory (or an unreadable folder) listing '%s'", root);
    else if (labeled && classes.n == 0)
        s = HVP_FAIL(HVP_ERR_NOTFOUND,
                     "image folder '%s' has no class folders (expected root/<class>/*.jpg)", root);
    else if (b.n == 0)
        s = HVP_FAIL(HVP_ERR_NOTFOUND,
                     "no image files (.jpg .jpeg .png .ppm .pgm .bmp .tif .tiff .webp) %s '%s'",
                     labeled ? "in the class folders of" : "in", root);
    folder_impl *f = NULL;
    if (s == HVP_OK && !(f = calloc(1, sizeof *f)))
        s = HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    if (s != HVP_OK) {
        free(b.pool);
        free(b.off);
        free(b.labels);
        strlist_free(&classes);
        return s;
    }
    f->pool = b.pool;
    f->path_off = b.off;
    ds->vt = &folder_vt;
    ds->impl = f;
    ds->n = b.n;
    ds->channels = channels;
    if (labeled) {
        ds->labels = b.labels;
        ds->nclasses = (int)classes.n;
        ds->class_names = classes.v; /* ownership moves */
    } else {
        free(b.labels);
        free(classes.v);
    }
    return HVP_OK;
}
