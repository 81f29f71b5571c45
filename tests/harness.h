/* The test harness: tests register themselves, run in one process on one device, and the
 * run ends with the line "N passed, N failed". */
#ifndef HVP_TEST_HARNESS_H
#define HVP_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "hvp/hvp.h"

/* Forward results against the double-precision reference, and device backward against
 * central finite differences of that reference: relative to the largest reference value. */
#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

typedef void (*hvp_test_fn)(void);
void hvp_test_register(const char *name, hvp_test_fn fn, const char *file);

#define HVP_TEST(name)                                                                  \
    static void test_##name(void);                                                      \
    __attribute__((constructor)) static void register_##name(void)                      \
    {                                                                                   \
        hvp_test_register(#name, test_##name, __FILE__);                                \
    }                                                                                   \
    static void test_##name(void)

/* Records a failure of the running test (it goes on, to report every mismatch). */
void test_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define TEST_FAIL(...) test_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond))                                                                    \
            TEST_FAIL(__VA_ARGS__);                                                     \
    } while (0)
/* A failing library call ends the test with the library's message. */
#define REQUIRE_OK(expr)                                                                \
    do {                                                                                \
        hvp_status require_s_ = (expr);                                                 \
        if (require_s_ != HVP_OK) {                                                     \
            TEST_FAIL("%s: %s", #expr, hvp_last_error());                               \
            return;                                                                     \
        }                                                                               \
    } while (0)

/* Ends nothing by itself: marks the running test skipped (reported and counted apart),
 * e.g. a whole-model test under Oclgrind, whose kernels the op tests already cover. */
void test_skip(const char *why);

/* The device under test (HVP_DEVICE picks it); the activation arena is reset before each
 * test and may be used freely, and row_per_item restored to the device's own (tests set
 * it to run both forms of the row kernels). */
hvp_ctx *test_ctx(void);
/* True when HVP_TEST_TINY is set: the smallest shapes only, for Oclgrind. */
int test_tiny(void);

/* Deterministic random inputs (seeded per test). */
float test_uniform(float lo, float hi);
void test_fill_uniform(float *x, size_t n, float lo, float hi);
/* Host memory that is freed when the test ends. */
void *test_alloc(size_t bytes);
float *test_floats(size_t n);
double *test_doubles(size_t n);
double *test_to_double(const float *x, size_t n);

/* A fresh folder under /tmp (freed with the test's memory; remove it with test_rmdir), and
 * a whole file read into test memory (a failure is recorded; the result is then empty). */
char *test_tmpdir(void);
void test_rmdir(const char *dir);
unsigned char *test_read_file(const char *path, size_t *size);
/* An environment variable's value in test memory (NULL when unset), and putting it back. */
char *test_env_copy(const char *name);
void test_env_restore(const char *name, const char *value);

/* A number from a safetensors file's metadata (golden files keep their sizes there); -1
 * when the key is missing. */
struct hvp_st_file;
int test_meta_int(const struct hvp_st_file *f, const char *key);
double test_meta_double(const struct hvp_st_file *f, const char *key);

/* Device tensors from the activation arena, filled from / read back to host arrays. */
hvp_tensor test_tensor(int ndim, const int *shape, const float *host);
/* The same, `offset` elements into a larger buffer: an odd offset checks that kernels do not
 * assume their tensors vector-aligned. */
hvp_tensor test_tensor_at(size_t offset, int ndim, const int *shape, const float *host);
float *test_read(const hvp_tensor *t);

/* max|got - want| / max(max|want|, 1e-6) <= tol, reported with the worst index. Returns 1 if
 * close. */
int test_close_at(const char *file, int line, const char *what, const float *got,
                  const double *want, size_t n, double tol);
#define EXPECT_CLOSE(what, got, want, n, tol)                                           \
    test_close_at(__FILE__, __LINE__, what, got, want, n, tol)
/* The same relative to max(floor, max|want|): for values that are zero in exact arithmetic
 * but computed from quantities of size `floor` (float rounding leaves ~1e-7 * floor). */
int test_close_floor_at(const char *file, int line, const char *what, const float *got,
                        const double *want, size_t n, double tol, double floor);
#define EXPECT_CLOSE_FLOOR(what, got, want, n, tol, floor)                              \
    test_close_floor_at(__FILE__, __LINE__, what, got, want, n, tol, floor)

/* Central finite differences of loss() with respect to x[0..n), in double:
 * grad[i] = (loss(x + eps e_i) - loss(x - eps e_i)) / (2 eps). x is restored. */
typedef double (*test_loss_fn)(void *user);
void test_fd_grad(double *x, size_t n, test_loss_fn loss, void *user, double eps, double *grad);

/* sum_i w[i] * y[i]: the scalar whose gradient with respect to y is w (a random "dy"). */
double test_dot(const double *w, const double *y, size_t n);

#endif
