/* The device's tune table: tune-<device hash>.ini in the cache folder, written by `hvp
 * tune`, one section per tuned op ([gemm]: src/ops/gemm.c, [conv2d]: src/ops/conv2d_tune.c)
 * after the [device] it was measured on. Each op rewrites its own section and keeps the
 * others'. */
#include "ops/tune_table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hvp/checkpoint.h"

hvp_status hvp_tune_table_path(const hvp_ctx *ctx, char *path, size_t size)
{
    const hvp_device_info *d = &ctx->info;
    const char *parts[] = {d->platform_name, d->platform_version, d->device_name,
                           d->device_version, d->driver_version};
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = hvp_fnv1a(h, parts[i]);
    char dir[3072];
    HVP_TRY(hvp_cache_dir(dir, sizeof dir));
    snprintf(path, size, "%s/tune-%016llx.ini", dir, (unsigned long long)h);
    return HVP_OK;
}

dictionary *hvp_tune_table_load(const hvp_ctx *ctx, char *path, size_t size)
{
    if (hvp_tune_table_path(ctx, path, size) != HVP_OK || access(path, R_OK) != 0)
        return NULL;
    return iniparser_load(path);
}

/* Whether line is the header of section `name` (iniparser's names ignore case). */
static int is_header(const char *line, const char *name)
{
    line += strspn(line, " \t");
    size_t n = strlen(name);
    return line[0] == '[' && strncasecmp(line + 1, name, n) == 0 && line[1 + n] == ']';
}

/* Copies the sections of the file at path other than [device] and [skip] to out, one blank
 * line before each (blank lines and the comments before the first section are dropped). */
static void copy_other_sections(const char *path, const char *skip, FILE *out)
{
    FILE *in = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    int keep = 0;
    while (in && getline(&line, &cap, in) > 0) {
        const char *p = line + strspn(line, " \t");
        if (*p == '[')
            keep = !is_header(line, "device") && !is_header(line, skip);
        if (!keep || *p == '\n' || *p == '\r' || *p == 0)
            continue;
        if (*p == '[')
            fputc('\n', out);
        fputs(line, out);
        if (line[strlen(line) - 1] != '\n')
            fputc('\n', out);
    }
    free(line);
    if (in)
        fclose(in);
}

hvp_status hvp_tune_table_write(const hvp_ctx *ctx, const char *section, const char *body)
{
    char path[3200];
    HVP_TRY(hvp_tune_table_path(ctx, path, sizeof path)); /* makes the cache folder */
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for the tune table %s", path);
    fprintf(f, "; written by hvp tune: what ran fastest on this device, per op and shape class\n");
    fprintf(f, "[device]\nplatform = \"%s\"\nname = \"%s\"\ndriver = \"%s\"\n",
            ctx->info.platform_name, ctx->info.device_name, ctx->info.driver_version);
    copy_other_sections(path, section, f);
    fprintf(f, "\n[%s]\n%s", section, body);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    hvp_status s = bad ? HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for the tune table %s", path)
                       : hvp_atomic_write(path, text, size);
    free(text);
    return s;
}
