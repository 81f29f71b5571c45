/* Test runner: `hvp_test [--list] [NAME-SUBSTRING ...] [--except=NAME-SUBSTRING ...]`. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "hvp/safetensors.h"

#define MAX_TESTS 1024

static struct {
    const char *name, *file;
    hvp_test_fn fn;
} tests[MAX_TESTS];
static int ntests;

static int current_failures;
static const char *current_skip;
static void **allocations;
static size_t nallocations, cap_allocations;
static uint64_t rng_state;
static hvp_ctx *ctx;

void hvp_test_register(const char *name, hvp_test_fn fn, const char *file)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    tests[ntests].file = file;
    ntests++;
}

void test_fail_at(const char *file, int line, const char *fmt, ...)
{
    const char *base = strrchr(file, '/');
    fprintf(stdout, "    %s:%d: ", base ? base + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    current_failures++;
}

hvp_ctx *test_ctx(void) { return ctx; }

void test_skip(const char *why) { current_skip = why; }

int test_tiny(void)
{
    const char *t = getenv("HVP_TEST_TINY");
    return t && *t && strcmp(t, "0") != 0;
}

/* splitmix64: the tests' own generator, independent of the library's RNG under test. */
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

float test_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(next_u64() >> 11) * (1.0 / 9007199254740992.0));
}

void test_fill_uniform(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = test_uniform(lo, hi);
}

void *test_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of host memory in a test\n");
        exit(2);
    }
    if (nallocations == cap_allocations) {
        cap_allocations = cap_allocations ? 2 * cap_allocations : 64;
        allocations = realloc(allocations, cap_allocations * sizeof *allocations);
        if (!allocations)
            exit(2);
    }
    allocations[nallocations++] = p;
    return p;
}

float *test_floats(size_t n) { return test_alloc(n * sizeof(float)); }
double *test_doubles(size_t n) { return test_alloc(n * sizeof(double)); }

double *test_to_double(const float *x, size_t n)
{
    double *d = test_doubles(n);
    for (size_t i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

char *test_tmpdir(void)
{
    char *d = test_alloc(64);
    strcpy(d, "/tmp/hvp_test.XXXXXX");
    if (!mkdtemp(d))
        TEST_FAIL("mkdtemp failed");
    return d;
}

char *test_env_copy(const char *name)
{
    const char *v = getenv(name);
    return v ? strcpy(test_alloc(strlen(v) + 1), v) : NULL;
}

void test_env_restore(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
}

void test_rmdir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        TEST_FAIL("could not remove %s", dir);
}

unsigned char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    *size = 0;
    if (!f) {
        TEST_FAIL("cannot read %s", path);
        return test_alloc(1);
    }
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    unsigned char *b = test_alloc(*size + 1);
    if (fread(b, 1, *size, f) != *size)
        TEST_FAIL("short read of %s", path);
    fclose(f);
    return b;
}

int test_meta_int(const hvp_st_file *f, const char *key)
{
    const char *v = hvp_st_metadata(f, key);
    return v ? atoi(v) : -1;
}

double test_meta_double(const hvp_st_file *f, const char *key)
{
    const char *v = hvp_st_metadata(f, key);
    return v ? atof(v) : -1;
}

hvp_tensor test_tensor(int ndim, const int *shape, const float *host)
{
    hvp_tensor t;
    memset(&t, 0, sizeof t);
    if (hvp_alloc_f32(ctx->acts, "test tensor", &t, ndim, shape) != HVP_OK) {
        TEST_FAIL("allocating a test tensor: %s", hvp_last_error());
        return t;
    }
    if (host && hvp_tensor_upload(ctx, &t, host) != HVP_OK)
        TEST_FAIL("uploading a test tensor: %s", hvp_last_error());
    return t;
}

hvp_tensor test_tensor_at(size_t offset, int ndim, const int *shape, const float *host)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    int len = (int)(offset + n);
    hvp_tensor whole = test_tensor(1, &len, NULL);
    hvp_tensor t = hvp_tensor_view(&whole, offset, ndim, shape);
    if (host && hvp_tensor_upload(ctx, &t, host) != HVP_OK)
        TEST_FAIL("uploading a test tensor: %s", hvp_last_error());
    return t;
}

float *test_read(const hvp_tensor *t)
{
    float *host = test_floats(hvp_numel(t));
    if (hvp_tensor_download(ctx, t, host) != HVP_OK)
        TEST_FAIL("downloading a tensor: %s", hvp_last_error());
    return host;
}

int test_close_at(const char *file, int line, const char *what, const float *got,
                  const double *want, size_t n, double tol)
{
    return test_close_floor_at(file, line, what, got, want, n, tol, 1e-6);
}

int test_close_floor_at(const char *file, int line, const char *what, const float *got,
                        const double *want, size_t n, double tol, double floor)
{
    double scale = floor, worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(want[i]) > scale)
            scale = fabs(want[i]);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= worst)) { /* also catches NaN */
            worst = isnan(d) ? INFINITY : d;
            worst_i = i;
        }
    }
    double rel = worst / scale;
    if (!(rel <= tol)) {
        test_fail_at(file, line, "%s: relative error %.3g > %.1g at [%zu]: got %.9g, want %.9g",
                     what, rel, tol, worst_i, (double)got[worst_i], want[worst_i]);
        return 0;
    }
    return 1;
}

void test_fd_grad(double *x, size_t n, test_loss_fn loss, void *user, double eps, double *grad)
{
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + eps;
        double up = loss(user);
        x[i] = keep - eps;
        double down = loss(user);
        x[i] = keep;
        grad[i] = (up - down) / (2 * eps);
    }
}

double test_dot(const double *w, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += w[i] * y[i];
    return s;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Names containing a word of the arguments (all when none), but none of --except=WORD. */
static int selected(const char *name, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--except=", 9) == 0 && strstr(name, argv[i] + 9))
            return 0;
    int any = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        any = 1;
        if (strstr(name, argv[i]))
            return 1;
    }
    return !any;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (int t = 0; t < ntests; t++)
                printf("%s\n", tests[t].name);
            return 0;
        }
        if (strcmp(argv[i], "--list-devices") == 0) { /* for tests/portability.sh */
            hvp_device_info *list;
            int n;
            if (hvp_list_devices(&list, &n) != HVP_OK) {
                fprintf(stderr, "hvp_test: %s\n", hvp_last_error());
                return 1;
            }
            for (int d = 0; d < n; d++)
                printf("%d\t%s / %s\n", d, list[d].platform_name, list[d].device_name);
            free(list);
            return 0;
        }
    }
    if (hvp_ctx_create(NULL, &ctx) != HVP_OK) {
        fprintf(stderr, "hvp_test: no device: %s\n", hvp_last_error());
        printf("0 passed, 1 failed\n");
        return 1;
    }
    printf("device: %s / %s (%s)%s\n", ctx->info.platform_name, ctx->info.device_name,
           ctx->info.device_version, test_tiny() ? ", tiny shapes" : "");
    int passed = 0, failed = 0, skipped = 0, row_per_item = ctx->row_per_item;
    for (int t = 0; t < ntests; t++) {
        if (!selected(tests[t].name, argc, argv))
            continue;
        current_failures = 0;
        current_skip = NULL;
        rng_state = hash_name(tests[t].name);
        hvp_arena_reset(ctx->acts);
        /* Tests build models in the shared context; each gets the parameters arena back as
         * it found it, else their memory adds up past small devices' limits (llvmpipe). */
        hvp_arena_mark params_at_start = hvp_arena_get_mark(ctx->params);
        ctx->row_per_item = row_per_item; /* the device's own, whatever a test left */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        tests[t].fn();
        if (hvp_ctx_finish(ctx) != HVP_OK)
            TEST_FAIL("queue failed after the test: %s", hvp_last_error());
        clock_gettime(CLOCK_MONOTONIC, &t1);
        hvp_arena_release_to(ctx->params, params_at_start);
        for (size_t i = 0; i < nallocations; i++)
            free(allocations[i]);
        nallocations = 0;
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
        if (current_skip && !current_failures) {
            skipped++;
            printf("skip %s: %s\n", tests[t].name, current_skip);
        } else if (current_failures) {
            failed++;
            printf("FAIL %s (%.0f ms)\n", tests[t].name, ms);
        } else {
            passed++;
            printf("ok   %s (%.0f ms)\n", tests[t].name, ms);
        }
        fflush(stdout);
    }
    hvp_ctx_destroy(ctx);
    free(allocations);
    if (skipped)
        printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    else
        printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
