/* Datasets that fight back: special files where images should be, oversized files, IDX
 * headers that promise more than the file holds. Each check runs in a child process with
 * a time limit, so that a regression shows as a failure instead of a hung suite. Host only. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "data/dataset.h"
#include "harness.h"
#include "test_data_util.h"

/* Runs fn in a child; returns its exit status, or -1 when it was still running after
 * `seconds` (then killed) or died of a signal. */
static int in_child(int (*fn)(const char *), const char *arg, int seconds)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn(arg));
    for (int waited = 0; waited < 100 * seconds; waited++) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Every item named *good* decodes; every other fails as a bad file naming itself. */
static int decode_all(const char *root)
{
    hvp_dataset_opts o = {HVP_DATA_FOLDER, root, NULL, 3};
    hvp_dataset *ds;
    if (hvp_dataset_open(&o, &ds) != HVP_OK) {
        fprintf(stderr, "open: %s\n", hvp_last_error());
        return 2;
    }
    hvp_decoder *dec;
    if (hvp_decoder_create(&dec) != HVP_OK)
        return 2;
    hvp_decoded img = {0};
    int bad = 0;
    for (int64_t i = 0; i < hvp_dataset_size(ds); i++) {
        char name[512];
        hvp_dataset_item_name(ds, i, name, sizeof name);
        hvp_status s = hvp_dataset_decode(ds, dec, i, &img);
        int good = strstr(name, "good") != NULL;
        int ok = good ? s == HVP_OK
                      : (s == HVP_ERR_IO || s == HVP_ERR_FORMAT) &&
                            strstr(hvp_last_error(), name) != NULL;
        if (!ok) {
            fprintf(stderr, "%s: %s\n", name, s == HVP_OK ? "decoded" : hvp_last_error());
            bad++;
        }
    }
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_dataset_close(ds);
    return bad ? 1 : 0;
}

HVP_TEST(data_special_files_are_bad_files)
{
    const char *d = td_dir();
    uint8_t *px = td_pattern(16, 16, 3, 3);
    size_t n;
    td_write_jpeg(td_path(d, "a_good.jpg"), px, 16, 16, 3, &n);
    /* a FIFO would wait for a writer forever; /dev/zero never ends */
    EXPECT(mkfifo(td_path(d, "b_fifo.jpg"), 0600) == 0, "mkfifo");
    EXPECT(symlink("/dev/zero", td_path(d, "c_zero.jpg")) == 0, "symlink");
    /* a sparse 600 MiB file: refused by its size, not read */
    FILE *f = fopen(td_path(d, "d_huge.jpg"), "wb");
    EXPECT(f && ftruncate(fileno(f), (off_t)600 << 20) == 0, "sparse file");
    if (f)
        fclose(f);
    td_write_ppm(td_path(d, "e_good.ppm"), px, 16, 16, 3);
    int rc = in_child(decode_all, d, 20);
    EXPECT(rc == 0, "special files: %s",
           rc < 0 ? "hung or crashed" : "wrong results (above)");
    td_cleanup();
}

/* CIFAR's optional class-name file as a FIFO: the open must not wait for a writer. */
static int open_cifar(const char *root)
{
    hvp_dataset_opts o = {HVP_DATA_CIFAR10, root, "test", 3};
    hvp_dataset *ds;
    hvp_status s = hvp_dataset_open(&o, &ds);
    if (s != HVP_OK) {
        fprintf(stderr, "%s\n", hvp_last_error());
        return 1;
    }
    int ok = hvp_dataset_size(ds) == 2 && strcmp(hvp_dataset_class_name(ds, 3), "3") == 0;
    hvp_dataset_close(ds);
    return ok ? 0 : 1;
}

HVP_TEST(data_cifar_special_files_do_not_block)
{
    const char *d = td_dir();
    uint8_t rec[2 * 3073] = {0};
    rec[0] = 1;
    rec[3073] = 2;
    td_write(td_path(d, "test_batch.bin"), rec, sizeof rec);
    EXPECT(mkfifo(td_path(d, "batches.meta.txt"), 0600) == 0, "mkfifo");
    int rc = in_child(open_cifar, d, 20);
    EXPECT(rc == 0, "CIFAR with a FIFO for class names: %s",
           rc < 0 ? "hung or crashed" : "failed (above)");
    td_cleanup();
}

/* An IDX header of 2^20 images of 128 x 128 (16 GiB) over 1000 bytes of data: the open
 * fails as truncated without reserving the 16 GiB first (run with 4 GiB of address space,
 * except under AddressSanitizer, which reserves terabytes of shadow memory). */
static int open_short_idx(const char *dir)
{
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit lim = {(rlim_t)4 << 30, (rlim_t)4 << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    hvp_dataset_opts o = {HVP_DATA_IDX, dir, "train", 1};
    hvp_dataset *ds;
    hvp_status s = hvp_dataset_open(&o, &ds);
    if (s == HVP_OK) {
        hvp_dataset_close(ds);
        return 1;
    }
    if (s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "truncated"))
        return 0;
    fprintf(stderr, "%s\n", hvp_last_error());
    return 1;
}

HVP_TEST(data_idx_header_larger_than_file)
{
    const char *d = td_dir();
    uint8_t file[16 + 1000] = {0, 0, 8, 3, 0, 0x10, 0, 0, 0, 0, 0, 128, 0, 0, 0, 128};
    td_write(td_path(d, "train-images-idx3-ubyte"), file, sizeof file);
    int rc = in_child(open_short_idx, d, 20);
    EXPECT(rc == 0, "a short IDX file should fail as truncated (%s)",
           rc < 0 ? "hung or crashed" : "see above");
    td_cleanup();
}

/* A 173-byte baseline JPEG whose header promises 12592 x 19248 pixels (found by fuzzing):
 * refused by its size before it is decoded (which took seconds and 700 MB). */
HVP_TEST(data_jpeg_header_larger_than_file)
{
    size_t n;
    unsigned char *bytes = test_read_file(
        HVP_SRCDIR "/tests/fuzz/regressions/image/baseline_header_claims_242_megapixels", &n);
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    hvp_status s = hvp_image_decode(dec, bytes, n, "claims.jpg", 3, &img);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "claims.jpg") &&
               strstr(hvp_last_error(), "cannot hold") && img.capacity == 0,
           "a JPEG header larger than its file: %s", s == HVP_OK ? "decoded" : hvp_last_error());
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
}
