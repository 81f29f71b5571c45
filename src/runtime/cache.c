/* hvp's cache folder: $HVP_CACHE_DIR, else $XDG_CACHE_HOME/hvp, else ~/.cache/hvp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hvp/runtime.h"

uint64_t hvp_fnv1a_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

uint64_t hvp_fnv1a(uint64_t h, const char *s)
{
    h = hvp_fnv1a_bytes(h, s, strlen(s));
    h ^= 0xff; /* a separator, so that hashing ("ab", "c") and ("a", "bc") differ */
    return h * 0x100000001b3ULL;
}

hvp_status hvp_cache_dir(char *dir, size_t size)
{
    const char *env = getenv("HVP_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (env && *env)
        snprintf(dir, size, "%s", env);
    else if (xdg && *xdg)
        snprintf(dir, size, "%s/hvp", xdg);
    else if (home && *home)
        snprintf(dir, size, "%s/.cache/hvp", home);
    else
        return HVP_FAIL(HVP_ERR_NOTFOUND, "no cache folder (set HVP_CACHE_DIR or HOME)");
    for (char *p = dir + 1; *p; p++) /* mkdir -p: each level may exist already */
        if (*p == '/') {
            *p = 0;
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);
    return HVP_OK;
}

hvp_status hvp_cache_path(const char *name, const char *key, const char *ext, char *path,
                          size_t size)
{
    char dir[3072];
    HVP_TRY(hvp_cache_dir(dir, sizeof dir));
    uint64_t h = hvp_fnv1a(0xcbf29ce484222325ULL, key);
    if (snprintf(path, size, "%s/%s-%016llx.%s", dir, name, (unsigned long long)h, ext) >=
        (int)size)
        return HVP_FAIL(HVP_ERR_ARG, "cache path too long under %s", dir);
    return HVP_OK;
}
