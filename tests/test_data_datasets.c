/* Datasets: ImageFolder order and labels, PPM/JPEG decoding, bad files, CIFAR, IDX, and the
 * real Fashion-MNIST when installed. Host only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"
#include "test_data_util.h"

static hvp_status open_ds(const char *root, hvp_data_format f, const char *split, int channels,
                          hvp_dataset **ds)
{
    hvp_dataset_opts o = {f, root, split, channels};
    return hvp_dataset_open(&o, ds);
}

HVP_TEST(data_imagefolder_order_like_torchvision)
{
    const char *d = td_dir();
    /* strcmp order: "Dog" < "a_b" < "ant" < "cat"; an empty class keeps its index. */
    const char *classes[] = {"cat", "Dog", "ant", "a_b", "zzz_empty"};
    for (int i = 0; i < 5; i++)
        td_mkdir(td_path(d, classes[i]));
    td_mkdir(td_path(d, "cat/sub"));
    uint8_t *px = td_pattern(4, 5, 3, 1);
    const char *files[] = {"cat/z.ppm", "cat/a.PPM", "cat/sub/x.ppm", "Dog/1.ppm", "ant/b.ppm",
                           "ant/a.ppm", "a_b/q.ppm"};
    for (int i = 0; i < 7; i++)
        td_write_ppm(td_path(d, files[i]), px, 4, 5, 3);
    td_write(td_path(d, "cat/notes.txt"), "hello", 5); /* not an image extension: ignored */
    td_write_ppm(td_path(d, "top.ppm"), px, 4, 5, 3);  /* top-level files: ignored */
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, NULL, 0, &ds));
    EXPECT(hvp_dataset_format(ds) == HVP_DATA_IMAGEFOLDER, "format %d",
           (int)hvp_dataset_format(ds));
    const char *want_classes[] = {"Dog", "a_b", "ant", "cat", "zzz_empty"};
    EXPECT(hvp_dataset_num_classes(ds) == 5, "%d classes", hvp_dataset_num_classes(ds));
    for (int c = 0; c < 5 && c < hvp_dataset_num_classes(ds); c++)
        EXPECT(strcmp(hvp_dataset_class_name(ds, c), want_classes[c]) == 0, "class %d = %s", c,
               hvp_dataset_class_name(ds, c));
    const char *want[] = {"Dog/1.ppm", "a_b/q.ppm", "ant/a.ppm", "ant/b.ppm",
                          "cat/a.PPM", "cat/z.ppm", "cat/sub/x.ppm"};
    int want_label[] = {0, 1, 2, 2, 3, 3, 3};
    EXPECT(hvp_dataset_size(ds) == 7, "%lld items", (long long)hvp_dataset_size(ds));
    for (int i = 0; i < 7 && i < hvp_dataset_size(ds); i++) {
        char name[1024];
        hvp_dataset_item_name(ds, i, name, sizeof name);
        EXPECT(strcmp(name, td_path(d, want[i])) == 0, "item %d = %s, want %s", i, name, want[i]);
        EXPECT(hvp_dataset_label(ds, i) == want_label[i], "label %d = %d", i,
               hvp_dataset_label(ds, i));
    }
    hvp_dataset_close(ds);

    /* The unlabeled mode: the top-level files only, labels -1. */
    REQUIRE_OK(open_ds(d, HVP_DATA_FOLDER, NULL, 0, &ds));
    EXPECT(hvp_dataset_size(ds) == 1 && hvp_dataset_num_classes(ds) == 0 &&
               hvp_dataset_label(ds, 0) == -1,
           "folder: %lld items, %d classes", (long long)hvp_dataset_size(ds),
           hvp_dataset_num_classes(ds));
    hvp_dataset_close(ds);

    /* root/<split> is used when it exists. */
    td_mkdir(td_path(d, "train"));
    td_mkdir(td_path(d, "train/only"));
    td_write_ppm(td_path(d, "train/only/x.ppm"), px, 4, 5, 3);
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, "train", 0, &ds));
    EXPECT(hvp_dataset_size(ds) == 1 && hvp_dataset_num_classes(ds) == 1, "split: %lld items",
           (long long)hvp_dataset_size(ds));
    hvp_dataset_close(ds);
    td_cleanup();
}

HVP_TEST(data_imagefolder_symlink_loops_end)
{
    /* Two links back up made the walk take 2^40 steps (found by the fuzzer, see
     * tests/fuzz/regressions/imagefolder/). A link to a folder above is not followed; a
     * link elsewhere is, as os.walk(followlinks=True) does. */
    const char *d = td_dir();
    td_mkdir(td_path(d, "cat"));
    td_mkdir(td_path(d, "dog"));
    uint8_t *px = td_pattern(2, 2, 3, 1);
    td_write_ppm(td_path(d, "cat/a.ppm"), px, 2, 2, 3);
    td_write_ppm(td_path(d, "dog/b.ppm"), px, 2, 2, 3);
    char target[1024];
    snprintf(target, sizeof target, "%s", td_path(d, "cat"));
    EXPECT(symlink(target, td_path(d, "cat/up")) == 0, "symlink cat/up");
    EXPECT(symlink(d, td_path(d, "cat/root")) == 0, "symlink cat/root");
    snprintf(target, sizeof target, "%s", td_path(d, "dog"));
    EXPECT(symlink(target, td_path(d, "cat/to_dog")) == 0, "symlink cat/to_dog");
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_IMAGEFOLDER, NULL, 0, &ds));
    /* cat: a.ppm, root/dog/b.ppm, to_dog/b.ppm; dog: b.ppm */
    EXPECT(hvp_dataset_size(ds) == 4, "%lld items", (long long)hvp_dataset_size(ds));
    hvp_dataset_close(ds);
    td_cleanup();
}

HVP_TEST(data_ppm_pgm_exact)
{
    const char *d = td_dir();
    int h = 7, w = 9;
    uint8_t *rgb = td_pattern(h, w, 3, 2), *gray = td_pattern(h, w, 1, 3);
    td_write_ppm(td_path(d, "a.ppm"), rgb, h, w, 3);
    td_write_ppm(td_path(d, "b.pgm"), gray, h, w, 1);
    /* maxval 15 with a comment after the magic: values rescaled to 0..255, rounded. */
    const char *small = "P5 # c\n2 1 15\n\x0f\x07";
    td_write(td_path(d, "c.pgm"), small, strlen(small));
    for (int ch = 1; ch <= 3; ch += 2) {
        hvp_dataset *ds;
        REQUIRE_OK(open_ds(d, HVP_DATA_FOLDER, NULL, ch, &ds));
        hvp_decoder *dec;
        REQUIRE_OK(hvp_decoder_create(&dec));
        hvp_decoded img = {0};
        REQUIRE_OK(hvp_dataset_decode(ds, dec, 0, &img));
        EXPECT(img.height == h && img.width == w && img.channels == ch, "a: %dx%dx%d",
               img.height, img.width, img.channels);
        int bad = 0;
        for (int p = 0; p < h * w; p++)
            for (int k = 0; k < ch; k++) {
                const uint8_t *s = rgb + 3 * p;
                int want = ch == 3 ? s[k]
                                   : (int)((19595u * s[0] + 38470u * s[1] + 7471u * s[2] + 0x8000u) >> 16);
                bad += img.pixels[p * ch + k] != want;
            }
        EXPECT(bad == 0, "a.ppm as %d channels: %d pixels differ", ch, bad);
        REQUIRE_OK(hvp_dataset_decode(ds, dec, 1, &img));
        bad = 0;
        for (int p = 0; p < h * w; p++)
            for (int k = 0; k < ch; k++)
                bad += img.pixels[p * ch + k] != gray[p];
        EXPECT(bad == 0, "b.pgm as %d channels: %d pixels differ", ch, bad);
        REQUIRE_OK(hvp_dataset_decode(ds, dec, 2, &img));
        EXPECT(img.width == 2 && img.height == 1 && img.pixels[0] == 255 &&
                   img.pixels[ch] == (7 * 255 + 7) / 15,
               "c.pgm: %dx%d %d %d", img.width, img.height, img.pixels[0], img.pixels[ch]);
        hvp_decoded_free(&img);
        hvp_decoder_destroy(dec);
        hvp_dataset_close(ds);
    }
    td_cleanup();
}

HVP_TEST(data_jpeg_decode)
{
    const char *d = td_dir();
    int h = 24, w = 40;
    uint8_t *rgb = test_alloc((size_t)h * w * 3); /* a smooth ramp: JPEG keeps it closely */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < 3; k++)
                rgb[(y * w + x) * 3 + k] = (uint8_t)(60 + 2 * x + 2 * y + 20 * k);
    size_t n;
    uint8_t *jpeg = td_write_jpeg(td_path(d, "x.jpg"), rgb, h, w, 3, &n);
    for (int ch = 1; ch <= 3; ch += 2) {
        /* The same bytes through TurboJPEG directly. */
        uint8_t *want = test_alloc((size_t)h * w * ch);
        tjhandle tj = tjInitDecompress();
        EXPECT(tjDecompress2(tj, jpeg, (unsigned long)n, want, w, 0, h,
                             ch == 3 ? TJPF_RGB : TJPF_GRAY, 0) == 0,
               "tjDecompress2");
        tjDestroy(tj);
        hvp_dataset *ds;
        REQUIRE_OK(open_ds(d, HVP_DATA_FOLDER, NULL, ch, &ds));
        hvp_decoder *dec;
        REQUIRE_OK(hvp_decoder_create(&dec));
        hvp_decoded img = {0};
        REQUIRE_OK(hvp_dataset_decode(ds, dec, 0, &img));
        EXPECT(img.height == h && img.width == w && img.channels == ch, "%dx%dx%d", img.height,
               img.width, img.channels);
        EXPECT(memcmp(img.pixels, want, (size_t)h * w * ch) == 0,
               "%d channels: differs from decoding the same bytes", ch);
        double err = 0;
        for (int p = 0; p < h * w; p++) {
            const uint8_t *s = rgb + 3 * p;
            for (int k = 0; k < ch; k++) {
                int ref = ch == 3 ? s[k] : (int)((19595u * s[0] + 38470u * s[1] + 7471u * s[2] + 0x8000u) >> 16);
                err += abs(img.pixels[p * ch + k] - ref);
            }
        }
        err /= (double)h * w * ch;
        EXPECT(err < 2.0, "%d channels: mean |error| vs the original %.2f", ch, err);
        hvp_decoded_free(&img);
        hvp_decoder_destroy(dec);
        hvp_dataset_close(ds);
    }
    /* A grayscale JPEG read as RGB: the gray plane, replicated. */
    td_cleanup();
    d = td_dir();
    uint8_t *gray = td_pattern(h, w, 1, 8);
    jpeg = td_write_jpeg(td_path(d, "g.jpg"), gray, h, w, 1, &n);
    uint8_t *want = test_alloc((size_t)h * w);
    tjhandle tj = tjInitDecompress();
    EXPECT(tjDecompress2(tj, jpeg, (unsigned long)n, want, w, 0, h, TJPF_GRAY, 0) == 0, "gray");
    tjDestroy(tj);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_FOLDER, NULL, 3, &ds));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    REQUIRE_OK(hvp_dataset_decode(ds, dec, 0, &img));
    int bad = 0;
    for (int p = 0; p < h * w; p++)
        for (int k = 0; k < 3; k++)
            bad += img.pixels[3 * p + k] != want[p];
    EXPECT(img.channels == 3 && bad == 0, "gray JPEG as RGB: %d values differ", bad);
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_dataset_close(ds);
    td_cleanup();
}

/* A folder with good and bad files; names are sorted, so indices are known. */
static void make_bad_folder(const char *d)
{
    uint8_t *px = td_pattern(16, 16, 3, 5);
    size_t n;
    uint8_t *jpeg = td_write_jpeg(td_path(d, "0_good.jpg"), px, 16, 16, 3, &n);
    td_write(td_path(d, "1_truncated.jpg"), jpeg, n / 2);
    uint8_t junk[300];
    for (int i = 0; i < 300; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    td_write(td_path(d, "2_random.jpg"), junk, sizeof junk);
    td_write(td_path(d, "3_empty.jpeg"), "", 0);
    td_write(td_path(d, "4_png.png"), "\x89PNG\r\n\x1a\nxxxxxxxx", 16);
    td_write_ppm(td_path(d, "5_good.ppm"), px, 16, 16, 3);
    td_write(td_path(d, "6_short.ppm"), "P6\n16 16\n255\nabc", 16);
}

HVP_TEST(data_bad_files_fail_alone)
{
    const char *d = td_dir();
    make_bad_folder(d);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, NULL, 3, &ds));
    EXPECT(hvp_dataset_size(ds) == 7, "%lld items", (long long)hvp_dataset_size(ds));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    const char *names[] = {"0_good", "1_truncated", "2_random", "3_empty", "4_png", "5_good", "6_short"};
    for (int i = 0; i < 7; i++) {
        hvp_status s = hvp_dataset_decode(ds, dec, i, &img);
        int good = i == 0 || i == 5;
        EXPECT((s == HVP_OK) == good, "%s: status %s (%s)", names[i], hvp_status_name(s),
               hvp_last_error());
        if (!good)
            EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), names[i]),
                   "%s: message does not name the file: %s", names[i], hvp_last_error());
    }
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_dataset_close(ds);
    td_cleanup();
}

/* One decoder (a loader worker's) meets bad JPEGs between good ones: every good one decodes.
 * An unknown marker (0xFF02) where APP0 was makes TurboJPEG 2.1 fail on the header and leave
 * its handle unable to read the next file's header. */
HVP_TEST(data_jpeg_decoder_survives_bad_files)
{
    const char *d = td_dir();
    uint8_t *px = td_pattern(16, 16, 3, 6);
    size_t n;
    uint8_t *jpeg = td_write_jpeg(td_path(d, "a_good.jpg"), px, 16, 16, 3, &n);
    uint8_t *marker = test_alloc(n);
    memcpy(marker, jpeg, n);
    marker[3] = 0x02;
    td_write(td_path(d, "b_marker.jpg"), marker, n);
    td_write(td_path(d, "c_good.jpg"), jpeg, n);
    td_write(td_path(d, "d_eoi.jpg"), "\xFF\xD8\xFF\xD9", 4); /* no image in it */
    td_write(td_path(d, "e_good.jpg"), jpeg, n);
    td_write(td_path(d, "f_truncated.jpg"), jpeg, n / 2);
    td_write(td_path(d, "g_good.jpg"), jpeg, n);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_FOLDER, NULL, 3, &ds));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    for (int64_t i = 0; i < hvp_dataset_size(ds); i++) {
        char name[512];
        hvp_dataset_item_name(ds, i, name, sizeof name);
        int good = strstr(name, "_good") != NULL;
        hvp_status s = hvp_dataset_decode(ds, dec, i, &img);
        EXPECT((s == HVP_OK) == good, "%s: %s", name, s == HVP_OK ? "decoded" : hvp_last_error());
    }
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_dataset_close(ds);
    td_cleanup();
}

HVP_TEST(data_missing_or_unreadable_is_an_error)
{
    hvp_dataset *ds = NULL;
    hvp_status s = open_ds("/nonexistent/hvp/data", HVP_DATA_AUTO, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_NOTFOUND && strstr(hvp_last_error(), "/nonexistent/hvp/data"),
           "missing root: %s: %s", hvp_status_name(s), hvp_last_error());
    const char *d = td_dir();
    s = open_ds(d, HVP_DATA_AUTO, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_NOTFOUND && strstr(hvp_last_error(), d), "empty folder: %s: %s",
           hvp_status_name(s), hvp_last_error());
    td_mkdir(td_path(d, "cls"));
    td_write(td_path(d, "cls/a.jpg"), "not a jpeg", 10);
    td_write(td_path(d, "cls/b.jpg"), "", 0);
    s = open_ds(d, HVP_DATA_AUTO, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "no readable image") &&
               strstr(hvp_last_error(), d),
           "only bad files: %s: %s", hvp_status_name(s), hvp_last_error());
    s = open_ds(d, HVP_DATA_CIFAR10, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_NOTFOUND && strstr(hvp_last_error(), "data_batch_1"),
           "not CIFAR: %s: %s", hvp_status_name(s), hvp_last_error());
    s = open_ds(d, HVP_DATA_IDX, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_NOTFOUND && strstr(hvp_last_error(), "idx3"), "not IDX: %s: %s",
           hvp_status_name(s), hvp_last_error());
    td_cleanup();
}

/* CIFAR record i of file f: label and a pattern. */
static void cifar_record(uint8_t *r, int hundred, int label, int seed)
{
    int lb = hundred ? 2 : 1;
    if (hundred)
        r[0] = (uint8_t)(label / 5); /* coarse */
    r[lb - 1] = (uint8_t)label;
    for (int i = 0; i < 3072; i++)
        r[lb + i] = (uint8_t)(i * 7 + seed * 13);
}

static void check_cifar_pixels(const hvp_decoded *img, int seed, int ch)
{
    int bad = 0;
    for (int p = 0; p < 1024; p++) {
        uint8_t r = (uint8_t)(p * 7 + seed * 13), g = (uint8_t)((1024 + p) * 7 + seed * 13),
                b = (uint8_t)((2048 + p) * 7 + seed * 13);
        if (ch == 3)
            bad += img->pixels[3 * p] != r || img->pixels[3 * p + 1] != g || img->pixels[3 * p + 2] != b;
        else
            bad += img->pixels[p] != (uint8_t)((19595u * r + 38470u * g + 7471u * b + 0x8000u) >> 16);
    }
    EXPECT(bad == 0 && img->width == 32 && img->height == 32, "seed %d: %d pixels differ", seed, bad);
}

HVP_TEST(data_cifar10_and_100)
{
    const char *d = td_dir();
    uint8_t rec[3 * 3074];
    for (int f = 1; f <= 5; f++) {
        for (int i = 0; i < 3; i++)
            cifar_record(rec + i * 3073, 0, (f * 3 + i) % 10, f * 3 + i);
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", f);
        td_write(td_path(d, name), rec, 3 * 3073);
    }
    cifar_record(rec, 0, 4, 99);
    td_write(td_path(d, "test_batch.bin"), rec, 3073);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, "train", 0, &ds));
    EXPECT(hvp_dataset_format(ds) == HVP_DATA_CIFAR10 && hvp_dataset_size(ds) == 15 &&
               hvp_dataset_num_classes(ds) == 10 && hvp_dataset_channels(ds) == 3,
           "cifar10 train: format %d, %lld items", (int)hvp_dataset_format(ds),
           (long long)hvp_dataset_size(ds));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    for (int i = 0; i < 15; i++) {
        REQUIRE_OK(hvp_dataset_decode(ds, dec, i, &img));
        EXPECT(img.label == (3 + i) % 10, "item %d label %d", i, img.label);
        check_cifar_pixels(&img, 3 + i, 3);
    }
    char name[256];
    hvp_dataset_item_name(ds, 4, name, sizeof name);
    EXPECT(strstr(name, "data_batch_2.bin[#1]") != NULL, "item name %s", name);
    hvp_dataset_close(ds);
    REQUIRE_OK(open_ds(d, HVP_DATA_CIFAR10, "test", 1, &ds));
    REQUIRE_OK(hvp_dataset_decode(ds, dec, 0, &img));
    EXPECT(hvp_dataset_size(ds) == 1 && img.label == 4 && img.channels == 1, "cifar10 test");
    check_cifar_pixels(&img, 99, 1);
    hvp_dataset_close(ds);
    /* A truncated batch fails the open, naming the file. */
    td_write(td_path(d, "data_batch_3.bin"), rec, 3000);
    hvp_status s = open_ds(d, HVP_DATA_CIFAR10, "train", 0, &ds);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "data_batch_3.bin"), "truncated: %s",
           hvp_last_error());
    td_cleanup();

    /* CIFAR-100 in its usual sub-folder: the fine label is used. */
    d = td_dir();
    td_mkdir(td_path(d, "cifar-100-binary"));
    for (int i = 0; i < 3; i++)
        cifar_record(rec + i * 3074, 1, 37 + 20 * i, i);
    td_write(td_path(d, "cifar-100-binary/train.bin"), rec, 3 * 3074);
    td_write(td_path(d, "cifar-100-binary/test.bin"), rec, 3074);
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, NULL, 3, &ds));
    EXPECT(hvp_dataset_format(ds) == HVP_DATA_CIFAR100 && hvp_dataset_size(ds) == 3 &&
               hvp_dataset_num_classes(ds) == 100,
           "cifar100: format %d, %lld items", (int)hvp_dataset_format(ds),
           (long long)hvp_dataset_size(ds));
    for (int i = 0; i < 3 && i < hvp_dataset_size(ds); i++) {
        REQUIRE_OK(hvp_dataset_decode(ds, dec, i, &img));
        EXPECT(img.label == 37 + 20 * i, "cifar100 item %d label %d", i, img.label);
        check_cifar_pixels(&img, i, 3);
    }
    hvp_dataset_close(ds);
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    td_cleanup();
}

static void write_idx(const char *path, int gz, int ndim, const uint32_t *dims, const uint8_t *data,
                      size_t n)
{
    uint8_t head[16] = {0, 0, 8, (uint8_t)ndim};
    for (int i = 0; i < ndim; i++) {
        head[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        head[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        head[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        head[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (gz) {
        gzFile g = gzopen(path, "wb");
        EXPECT(g && gzwrite(g, head, (unsigned)(4 + 4 * ndim)) == 4 + 4 * ndim &&
                   gzwrite(g, data, (unsigned)n) == (int)n,
               "gzwrite %s", path);
        if (g)
            gzclose(g);
    } else {
        uint8_t *all = test_alloc((size_t)(4 + 4 * ndim) + n);
        memcpy(all, head, (size_t)(4 + 4 * ndim));
        memcpy(all + 4 + 4 * ndim, data, n);
        td_write(path, all, (size_t)(4 + 4 * ndim) + n);
    }
}

HVP_TEST(data_idx_gzip_and_plain)
{
    const char *d = td_dir();
    int n = 5, rows = 6, cols = 4;
    uint8_t *px = td_pattern(n * rows, cols, 1, 6), labels[5] = {3, 1, 4, 1, 5};
    write_idx(td_path(d, "train-images-idx3-ubyte.gz"), 1, 3, (uint32_t[]){5, 6, 4}, px,
              (size_t)n * rows * cols);
    write_idx(td_path(d, "train-labels-idx1-ubyte"), 0, 1, (uint32_t[]){5}, labels, 5);
    write_idx(td_path(d, "t10k-images-idx3-ubyte"), 0, 3, (uint32_t[]){2, 6, 4}, px, 48);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(d, HVP_DATA_AUTO, NULL, 0, &ds));
    EXPECT(hvp_dataset_format(ds) == HVP_DATA_IDX && hvp_dataset_size(ds) == 5 &&
               hvp_dataset_channels(ds) == 1 && hvp_dataset_num_classes(ds) == 6,
           "idx: format %d, %lld items, %d classes", (int)hvp_dataset_format(ds),
           (long long)hvp_dataset_size(ds), hvp_dataset_num_classes(ds));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    for (int i = 0; i < n; i++) {
        REQUIRE_OK(hvp_dataset_decode(ds, dec, i, &img));
        EXPECT(img.label == labels[i] && img.height == rows && img.width == cols &&
                   memcmp(img.pixels, px + i * rows * cols, (size_t)rows * cols) == 0,
               "idx item %d", i);
    }
    hvp_dataset_close(ds);
    /* Test split, no labels file: unlabeled; 3 channels replicate. */
    REQUIRE_OK(open_ds(d, HVP_DATA_IDX, "test", 3, &ds));
    REQUIRE_OK(hvp_dataset_decode(ds, dec, 1, &img));
    EXPECT(hvp_dataset_size(ds) == 2 && img.label == -1 && img.channels == 3 &&
               img.pixels[0] == px[24] && img.pixels[1] == px[24] && img.pixels[5] == px[25],
           "idx test split");
    hvp_dataset_close(ds);
    /* A truncated gzip fails the open. */
    write_idx(td_path(d, "train-images-idx3-ubyte.gz"), 1, 3, (uint32_t[]){9, 6, 4}, px, 120);
    hvp_status s = open_ds(d, HVP_DATA_IDX, NULL, 0, &ds);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "truncated"), "short idx: %s",
           hvp_last_error());
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    td_cleanup();
}

HVP_TEST(data_fashion_mnist_installed)
{
    FILE *f = fopen(HVP_DATA_DEFAULT_ROOT "/train-images-idx3-ubyte.gz", "rb");
    if (!f) {
        printf("    note: %s absent (Debian dataset-fashion-mnist): test skipped\n",
               HVP_DATA_DEFAULT_ROOT);
        return;
    }
    fclose(f);
    hvp_dataset *ds;
    REQUIRE_OK(open_ds(NULL, HVP_DATA_AUTO, NULL, 0, &ds)); /* the default root */
    EXPECT(hvp_dataset_size(ds) == 60000 && hvp_dataset_num_classes(ds) == 10 &&
               hvp_dataset_channels(ds) == 1,
           "train: %lld items, %d classes", (long long)hvp_dataset_size(ds),
           hvp_dataset_num_classes(ds));
    EXPECT(strcmp(hvp_dataset_class_name(ds, 9), "Ankle boot") == 0, "class 9 %s",
           hvp_dataset_class_name(ds, 9));
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    REQUIRE_OK(hvp_dataset_decode(ds, dec, 0, &img));
    long sum = 0;
    for (int i = 0; i < 28 * 28; i++)
        sum += img.pixels[i];
    /* The first training image is an ankle boot. */
    EXPECT(img.width == 28 && img.height == 28 && img.label == 9 && sum > 0, "first image %dx%d label %d",
           img.width, img.height, img.label);
    hvp_dataset_close(ds);
    REQUIRE_OK(open_ds(HVP_DATA_DEFAULT_ROOT, HVP_DATA_IDX, "test", 3, &ds));
    REQUIRE_OK(hvp_dataset_decode(ds, dec, 9999, &img));
    EXPECT(hvp_dataset_size(ds) == 10000 && img.channels == 3, "test: %lld items",
           (long long)hvp_dataset_size(ds));
    hvp_dataset_close(ds);
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
}
