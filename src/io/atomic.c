/* Atomic file replacement: write path.tmp.<pid>, flush, fsync, rename, fsync the
 * directory. Readers see the old file or the new one, never a part. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp/checkpoint.h"

static void dir_of(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, size, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
}

hvp_status hvp_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot open directory '%s': %s", dir, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    /* Some file systems refuse fsync on directories; the rename is still atomic there. */
    if (r != 0 && e != EINVAL && e != EBADF)
        return HVP_FAIL(HVP_ERR_IO, "fsync of directory '%s': %s", dir, strerror(e));
    return HVP_OK;
}

hvp_status hvp_mkdirs(const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return HVP_FAIL(HVP_ERR_ARG, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char keep = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return HVP_FAIL(HVP_ERR_IO, "cannot create directory '%s': %s", buf,
                                strerror(errno));
            struct stat sb;
            if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return HVP_FAIL(HVP_ERR_IO, "'%s' exists and is not a directory", buf);
            *p = keep;
            if (!keep)
                break;
        }
    }
    return HVP_OK;
}

hvp_status hvp_atomic_open(const char *path, hvp_atomic_file *af)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return HVP_FAIL(HVP_ERR_ARG, "path too long: %s", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f)
        return HVP_FAIL(HVP_ERR_IO, "cannot create '%s': %s", af->tmp, strerror(errno));
    return HVP_OK;
}

void hvp_atomic_abort(hvp_atomic_file *af)
{
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp[0])
        unlink(af->tmp);
}

hvp_status hvp_atomic_commit(hvp_atomic_file *af)
{
    if (!af->f)
        return HVP_FAIL(HVP_ERR_ARG, "'%s' is not open", af->tmp);
    int failed = ferror(af->f) || fflush(af->f) != 0;
    int e = errno;
    if (!failed && fsync(fileno(af->f)) != 0) {
        failed = 1;
        e = errno;
    }
    if (fclose(af->f) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    af->f = NULL;
    if (failed) {
        unlink(af->tmp);
        return HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", af->tmp, strerror(e));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return HVP_FAIL(HVP_ERR_IO, "renaming '%s' to '%s': %s", af->tmp, af->path, strerror(e));
    }
    char dir[1024];
    dir_of(af->path, dir, sizeof dir);
    return hvp_fsync_dir(dir);
}

hvp_status hvp_atomic_write(const char *path, const void *data, size_t size)
{
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    if (size && fwrite(data, 1, size, af.f) != size) {
        int e = errno;
        hvp_atomic_abort(&af);
        return HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", path, strerror(e));
    }
    return hvp_atomic_commit(&af);
}
