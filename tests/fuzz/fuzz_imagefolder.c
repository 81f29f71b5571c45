/* The ImageFolder scan: the input builds a small folder tree, which is then opened as hvp
 * opens data.root (format auto, split train) and read. Each part is one entry, its first
 * line saying what:
 *   "a/b.jpg\n<bytes>"  a file with those bytes (parent folders are made)
 *   "a/b/"              an empty folder
 *   "a/l>b"             a symlink a/l to the tree's b ("a/l>" to the tree's root)
 * Paths are relative, without "." or ".." parts, so nothing outside the tree is touched.
 * FIFOs and links to devices are left out on purpose: special files have their own tests. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define MAX_PATH 200
#define MAX_DEPTH 6

/* 1 when path is a usable relative path inside the tree ("" allowed only when empty_ok). */
static int safe_path(const char *path, int empty_ok)
{
    size_t n = strlen(path);
    if (n == 0)
        return empty_ok;
    if (n > MAX_PATH || path[0] == '/' || path[n - 1] == '/')
        return 0;
    int depth = 0;
    for (const char *s = path; *s; depth++) {
        size_t len = strcspn(s, "/");
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        s += len;
        if (*s == '/')
            s++;
    }
    return depth <= MAX_DEPTH;
}

/* Makes the entry a part describes; 0 when it is malformed or cannot be made. */
static int make_entry(const char *root, fuzz_part p)
{
    const uint8_t *nl = memchr(p.data, '\n', p.size);
    fuzz_part head = {p.data, nl ? (size_t)(nl - p.data) : p.size};
    fuzz_part body = {nl ? nl + 1 : p.data + p.size, nl ? p.size - head.size - 1 : 0};
    char *h = fuzz_cstr(head), *path = NULL;
    if (!h)
        return 0;
    char *arrow = strchr(h, '>');
    size_t n = strlen(h);
    int made = 0;
    if (arrow) {
        *arrow = 0;
        char *target = fuzz_path(root, arrow + 1);
        if (target && safe_path(h, 0) && safe_path(arrow + 1, 1) &&
            (path = fuzz_make_parents(root, h)))
            made = symlink(target, path) == 0;
        free(target);
    } else if (n > 0 && h[n - 1] == '/') {
        h[n - 1] = 0;
        if (safe_path(h, 0) && (path = fuzz_make_parents(root, h)))
            made = mkdir(path, 0700) == 0;
    } else if (safe_path(h, 0)) {
        made = (path = fuzz_write(root, h, body.data, body.size)) != NULL;
    }
    free(path);
    free(h);
    return made;
}

int fuzz_imagefolder(const uint8_t *data, size_t size)
{
    const char *root = fuzz_scratch();
    if (!root)
        return 0;
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    for (int i = 0; i < n; i++)
        make_entry(root, parts[i]);
    hvp_dataset_opts o = {.format = HVP_DATA_AUTO, .root = root, .split = "train"};
    return fuzz_read_dataset(&o);
}
