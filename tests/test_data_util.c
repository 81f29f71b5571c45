#define _XOPEN_SOURCE 700
#include "test_data_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "harness.h"

static char dir[512];

const char *td_dir(void)
{
    td_cleanup();
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hvp_data_test_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        TEST_FAIL("mkdtemp %s failed", dir);
        snprintf(dir, sizeof dir, "/nonexistent");
    }
    return dir;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

void td_cleanup(void)
{
    if (dir[0] && strncmp(dir, "/nonexistent", 12) != 0)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    dir[0] = '\0';
}

const char *td_path(const char *d, const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 1024, "%s/%s", d, name);
    return b;
}

void td_mkdir(const char *path)
{
    if (mkdir(path, 0755) != 0)
        TEST_FAIL("mkdir %s failed", path);
}

void td_write(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n)
        TEST_FAIL("writing %s failed", path);
    if (f)
        fclose(f);
}

uint8_t *td_pattern(int h, int w, int c, int seed)
{
    uint8_t *p = test_alloc((size_t)h * w * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) /* smooth, so JPEG keeps it well */
                p[((size_t)y * w + x) * c + k] =
                    (uint8_t)(40 + (x * 3 + y * 2 + k * 50 + seed * 17) % 170);
    return p;
}

void td_write_ppm(const char *path, const uint8_t *px, int h, int w, int c)
{
    char head[64];
    int n = snprintf(head, sizeof head, "P%c\n# test\n%d %d\n255\n", c == 3 ? '6' : '5', w, h);
    size_t bytes = (size_t)h * w * c;
    uint8_t *all = test_alloc((size_t)n + bytes);
    memcpy(all, head, (size_t)n);
    memcpy(all + n, px, bytes);
    td_write(path, all, (size_t)n + bytes);
}

uint8_t *td_write_jpeg(const char *path, const uint8_t *px, int h, int w, int c, size_t *size)
{
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long n = 0;
    if (!tj || tjCompress2(tj, px, w, 0, h, c == 3 ? TJPF_RGB : TJPF_GRAY, &jpeg, &n,
                           c == 3 ? TJSAMP_444 : TJSAMP_GRAY, 95, 0) != 0) {
        TEST_FAIL("tjCompress2: %s", tjGetErrorStr2(tj));
        if (tj)
            tjDestroy(tj);
        *size = 0;
        return test_alloc(1);
    }
    uint8_t *copy = test_alloc(n);
    memcpy(copy, jpeg, n);
    tjFree(jpeg);
    tjDestroy(tj);
    if (path)
        td_write(path, copy, n);
    *size = n;
    return copy;
}
