/* Programs built from the embedded cl/ sources, once per context, with an on-disk binary
 * cache keyed by everything that can change the binary. Any cache failure falls back to
 * building from source without a word: the cache only saves time. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp/runtime.h"
#include "runtime/programs.h"

/* From the generated cl_sources.c: cl/<name>.cl with their real newlines. */
extern const char *const hvp_cl_embedded_names[];
extern const char *const hvp_cl_embedded_sources[];

/* Prepended to every program: shared helpers (Philox RNG, index guards). */
#define COMMON_PROGRAM "common"
static const char BUILD_OPTIONS[] = "-cl-std=CL1.2";

/* The build options for ctx's device: on Oclgrind also HVP_OCLGRIND, which selects the
 * formulations its 21.10 can run where the fast ones crash it (hsum / hmax, cl/common.cl). */
static const char *build_options(const hvp_ctx *ctx)
{
    if (strstr(ctx->info.platform_name, "Oclgrind") || strstr(ctx->info.device_name, "Oclgrind"))
        return "-cl-std=CL1.2 -DHVP_OCLGRIND";
    return BUILD_OPTIONS;
}

const char *const *hvp_cl_program_names(void) { return hvp_cl_embedded_names; }

static hvp_status read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return HVP_FAIL(HVP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (!s || fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        fclose(f);
        return HVP_FAIL(HVP_ERR_IO, "cannot read %s", path);
    }
    fclose(f);
    s[n] = 0;
    *out = s;
    return HVP_OK;
}

hvp_status hvp_cl_source(const char *name, char **out_source)
{
    const char *dir = getenv("HVP_CL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        return read_file(path, out_source);
    }
    for (int i = 0; hvp_cl_embedded_names[i]; i++)
        if (strcmp(hvp_cl_embedded_names[i], name) == 0) {
            *out_source = strdup(hvp_cl_embedded_sources[i]);
            return *out_source ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        }
    return HVP_FAIL(HVP_ERR_NOTFOUND, "no kernel program cl/%s.cl is embedded", name);
}

/* The full text handed to the compiler: common helpers, then the program itself with
 * #line so that compiler messages give the line in cl/<name>.cl. */
static hvp_status full_source(const char *name, char **out)
{
    char *common = NULL, *own = NULL;
    HVP_TRY(hvp_cl_source(COMMON_PROGRAM, &common));
    hvp_status s = hvp_cl_source(name, &own);
    if (s != HVP_OK) {
        free(common);
        return s;
    }
    size_t n = strlen(common) + strlen(own) + 128;
    char *text = malloc(n);
    if (text)
        snprintf(text, n, "%s\n#line 1 \"%s.cl\"\n%s", common, name, own);
    free(common);
    free(own);
    if (!text)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    *out = text;
    return HVP_OK;
}


static void cache_path(const hvp_ctx *ctx, const char *name, const char *text, char *path,
                       size_t size)
{
    path[0] = 0;
    if (getenv("HVP_NO_CACHE"))
        return;
    const hvp_device_info *d = &ctx->info;
    const char *parts[] = {text, build_options(ctx), d->device_name, d->driver_version,
                           d->platform_name, d->platform_version, d->device_version};
    uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        h1 = hvp_fnv1a(h1, parts[i]);
        h2 = hvp_fnv1a(h2, parts[i]);
    }
    char dir[3072];
    if (hvp_cache_dir(dir, sizeof dir) != HVP_OK)
        return; /* no cache: kernels build from source */
    snprintf(path, size, "%s/%s-%016llx%016llx.bin", dir, name, (unsigned long long)h1,
             (unsigned long long)h2);
}

static cl_program load_cached(hvp_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *bin = n > 0 ? malloc((size_t)n) : NULL;
    cl_program p = NULL;
    if (bin && fread(bin, 1, (size_t)n, f) == (size_t)n) {
        size_t len = (size_t)n;
        const unsigned char *bins[1] = {bin};
        cl_int status, err;
        p = clCreateProgramWithBinary(ctx->context, 1, &ctx->info.device, &len, bins, &status,
                                      &err);
        if (p && (err != CL_SUCCESS || status != CL_SUCCESS ||
                  clBuildProgram(p, 1, &ctx->info.device, build_options(ctx), NULL, NULL) !=
                      CL_SUCCESS)) {
            clReleaseProgram(p);
            p = NULL;
        }
    }
    free(bin);
    fclose(f);
    return p;
}

static void store_cached(hvp_ctx *ctx, cl_program p, const char *path)
{
    size_t len = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) != CL_SUCCESS ||
        len == 0)
        return;
    unsigned char *bin = malloc(len);
    unsigned char *bins[1] = {bin};
    if (!bin || clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    /* Write beside the target and rename: a reader never sees half a binary. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(bin, 1, len, f) == len;
    if (f)
        ok = (fflush(f) == 0) & (fclose(f) == 0) & ok;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
    free(bin);
}

static hvp_status build_from_source(hvp_ctx *ctx, const char *name, const char *text,
                                    cl_program *out)
{
    cl_int err;
    cl_program p = clCreateProgramWithSource(ctx->context, 1, &text, NULL, &err);
    if (!p || err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "clCreateProgramWithSource(%s) failed: %s", name,
                        hvp_cl_error_name(err));
    err = clBuildProgram(p, 1, &ctx->info.device, build_options(ctx), NULL, NULL);
    if (err != CL_SUCCESS) {
        char log[3000] = "";
        clGetProgramBuildInfo(p, ctx->info.device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log,
                              NULL);
        log[sizeof log - 1] = 0;
        clReleaseProgram(p);
        return HVP_FAIL(HVP_ERR_CL, "building cl/%s.cl for %s failed: %s\n%s", name,
                        ctx->info.device_name, hvp_cl_error_name(err), log);
    }
    *out = p;
    return HVP_OK;
}

static hvp_status get_program(hvp_ctx *ctx, const char *name, cl_program *out)
{
    hvp_programs *ps = ctx->programs;
    for (int i = 0; i < ps->nprograms; i++)
        if (strcmp(ps->programs[i].name, name) == 0) {
            *out = ps->programs[i].program;
            return HVP_OK;
        }
    if (ps->nprograms == HVP_MAX_PROGRAMS)
        return HVP_FAIL(HVP_ERR_ARG, "more than %d kernel programs", HVP_MAX_PROGRAMS);

    char *text = NULL;
    HVP_TRY(full_source(name, &text));
    char path[4096];
    cache_path(ctx, name, text, path, sizeof path);
    cl_program p = path[0] ? load_cached(ctx, path) : NULL;
    if (!p) {
        hvp_status s = build_from_source(ctx, name, text, &p);
        if (s != HVP_OK) {
            free(text);
            return s;
        }
        if (path[0])
            store_cached(ctx, p, path);
    }
    free(text);
    snprintf(ps->programs[ps->nprograms].name, sizeof ps->programs[0].name, "%s", name);
    ps->programs[ps->nprograms].program = p;
    ps->nprograms++;
    *out = p;
    return HVP_OK;
}

hvp_status hvp_kernel_get(hvp_ctx *ctx, const char *program, const char *kernel, hvp_kernel **out)
{
    hvp_programs *ps = ctx->programs;
    for (int i = 0; i < ps->nkernels; i++)
        if (strcmp(ps->kernels[i]->name, kernel) == 0 &&
            strcmp(ps->kernel_programs[i], program) == 0) {
            *out = ps->kernels[i];
            return HVP_OK;
        }
    if (ps->nkernels == HVP_MAX_KERNELS)
        return HVP_FAIL(HVP_ERR_ARG, "more than %d kernels", HVP_MAX_KERNELS);
    cl_program p;
    HVP_TRY(get_program(ctx, program, &p));
    cl_int err;
    cl_kernel k = clCreateKernel(p, kernel, &err);
    if (!k || err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "no kernel %s in cl/%s.cl: %s", kernel, program,
                        hvp_cl_error_name(err));
    hvp_kernel *rec = calloc(1, sizeof *rec);
    if (!rec) {
        clReleaseKernel(k);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    rec->kernel = k;
    snprintf(rec->name, sizeof rec->name, "%s", kernel);
    clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                             sizeof rec->max_work_group_size, &rec->max_work_group_size, NULL);
    clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                             sizeof rec->preferred_multiple, &rec->preferred_multiple, NULL);
    if (rec->max_work_group_size == 0)
        rec->max_work_group_size = 1;
    if (rec->preferred_multiple == 0)
        rec->preferred_multiple = 1;
    snprintf(ps->kernel_programs[ps->nkernels], sizeof ps->kernel_programs[0], "%s", program);
    ps->kernels[ps->nkernels++] = rec;
    *out = rec;
    return HVP_OK;
}

hvp_status hvp_build_all_programs(hvp_ctx *ctx)
{
    for (int i = 0; hvp_cl_embedded_names[i]; i++) {
        if (strcmp(hvp_cl_embedded_names[i], COMMON_PROGRAM) == 0)
            continue;
        cl_program p;
        HVP_TRY(get_program(ctx, hvp_cl_embedded_names[i], &p));
    }
    return HVP_OK;
}

hvp_status hvp_programs_create(hvp_programs **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
}

void hvp_programs_destroy(hvp_programs *ps)
{
    if (!ps)
        return;
    for (int i = 0; i < ps->nkernels; i++) {
        clReleaseKernel(ps->kernels[i]->kernel);
        free(ps->kernels[i]);
    }
    for (int i = 0; i < ps->nprograms; i++)
        clReleaseProgram(ps->programs[i].program);
    free(ps);
}
