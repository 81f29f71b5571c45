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
#include "runtime/kernels.h"
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

/* The program and kernel of each hvp_kernel_id. */
static const struct {
    const char *program, *kernel;
} KERNELS[HVP_K_COUNT] = {
#define HVP_KERNEL_NAMES(program, kernel) {#program, #kernel},
    HVP_KERNELS(HVP_KERNEL_NAMES)
#undef HVP_KERNEL_NAMES
};

static hvp_status create_kernel(hvp_ctx *ctx, cl_program p, hvp_kernel_id id, hvp_kernel **out)
{
    cl_int err;
    cl_kernel k = clCreateKernel(p, KERNELS[id].kernel, &err);
    if (!k || err != CL_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "no kernel %s in cl/%s.cl (src/runtime/kernels.h): %s",
                        KERNELS[id].kernel, KERNELS[id].program, hvp_cl_error_name(err));
    hvp_kernel *rec = calloc(1, sizeof *rec);
    if (!rec) {
        clReleaseKernel(k);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    rec->kernel = k;
    snprintf(rec->name, sizeof rec->name, "%s", KERNELS[id].kernel);
    clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_WORK_GROUP_SIZE,
                             sizeof rec->max_work_group_size, &rec->max_work_group_size, NULL);
    clGetKernelWorkGroupInfo(k, ctx->info.device, CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                             sizeof rec->preferred_multiple, &rec->preferred_multiple, NULL);
    if (rec->max_work_group_size == 0)
        rec->max_work_group_size = 1;
    if (rec->preferred_multiple == 0)
        rec->preferred_multiple = 1;
    *out = rec;
    return HVP_OK;
}

/* Releases the kernels of program `name` (all of them, or those created before a failure). */
static void release_kernels(hvp_programs *ps, const char *name)
{
    for (int id = 0; id < HVP_K_COUNT; id++)
        if (ps->kernels[id] && (!name || strcmp(KERNELS[id].program, name) == 0)) {
            clReleaseKernel(ps->kernels[id]->kernel);
            free(ps->kernels[id]);
            ps->kernels[id] = NULL;
        }
}

/* Creates every kernel of the freshly built program `name`, failing unless the program
 * defines exactly the kernels KERNELS lists for it. */
static hvp_status create_kernels(hvp_ctx *ctx, const char *name, cl_program p)
{
    cl_uint listed = 0;
    for (int id = 0; id < HVP_K_COUNT; id++) {
        if (strcmp(KERNELS[id].program, name) != 0)
            continue;
        HVP_TRY(create_kernel(ctx, p, (hvp_kernel_id)id, &ctx->programs->kernels[id]));
        listed++;
    }
    size_t defined = 0;
    CL_CHECK(clGetProgramInfo(p, CL_PROGRAM_NUM_KERNELS, sizeof defined, &defined, NULL));
    if (defined != listed)
        return HVP_FAIL(HVP_ERR_ARG,
                        "cl/%s.cl defines %zu kernels, src/runtime/kernels.h lists %u for it",
                        name, defined, listed);
    return HVP_OK;
}

/* Builds the program `name` (from the cache or the source) and creates its kernels, once. */
static hvp_status build_program(hvp_ctx *ctx, const char *name)
{
    hvp_programs *ps = ctx->programs;
    for (int i = 0; i < ps->nprograms; i++)
        if (strcmp(ps->programs[i].name, name) == 0)
            return HVP_OK;
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
    hvp_status s = create_kernels(ctx, name, p);
    if (s != HVP_OK) { /* the next use fails again, with this message */
        release_kernels(ps, name);
        clReleaseProgram(p);
        return s;
    }
    snprintf(ps->programs[ps->nprograms].name, sizeof ps->programs[0].name, "%s", name);
    ps->programs[ps->nprograms].program = p;
    ps->nprograms++;
    return HVP_OK;
}

const char *hvp_kernel_name(hvp_kernel_id id)
{
    return (unsigned)id < HVP_K_COUNT ? KERNELS[id].kernel : "(no kernel)";
}

hvp_status hvp_kernel_get(hvp_ctx *ctx, hvp_kernel_id id, hvp_kernel **out)
{
    if ((unsigned)id >= HVP_K_COUNT)
        return HVP_FAIL(HVP_ERR_ARG, "no kernel number %d", (int)id);
    hvp_kernel **k = &ctx->programs->kernels[id];
    if (!*k)
        HVP_TRY(build_program(ctx, KERNELS[id].program)); /* creates *k */
    *out = *k;
    return HVP_OK;
}

hvp_status hvp_build_all_programs(hvp_ctx *ctx)
{
    for (int i = 0; hvp_cl_embedded_names[i]; i++) {
        if (strcmp(hvp_cl_embedded_names[i], COMMON_PROGRAM) == 0)
            continue;
        HVP_TRY(build_program(ctx, hvp_cl_embedded_names[i]));
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
    release_kernels(ps, NULL);
    for (int i = 0; i < ps->nprograms; i++)
        clReleaseProgram(ps->programs[i].program);
    free(ps);
}
