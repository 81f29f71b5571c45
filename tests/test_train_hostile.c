/* Whole runs on hostile input: damaged files in the data are skipped, counted and named;
 * IDX data without data.channels trains; a checkpoint directory moved out of its run
 * evaluates with the config it keeps; bad numbers on the command line are refused; a full
 * disk keeps the last checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/checkpoint.h"
#include "test_data_util.h"
#include "test_train_util.h"

/* root/{train,test}/{a,b}/NN.jpg: per_class 16-px JPEGs a class in train, 2 in test. */
static void make_jpeg_folder(const char *root, int per_class)
{
    char dir[1024], file[1100];
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, s ? "test" : "train");
        td_mkdir(dir);
        for (int c = 0; c < 2; c++) {
            snprintf(dir, sizeof dir, "%s/%s/%c", root, s ? "test" : "train", 'a' + c);
            td_mkdir(dir);
            for (int i = 0; i < (s ? 2 : per_class); i++) {
                snprintf(file, sizeof file, "%s/%02d.jpg", dir, i);
                size_t n;
                td_write_jpeg(file, td_pattern(16, 16, 3, 10 * c + i), 16, 16, 3, &n);
            }
        }
    }
}

/* 3 of 60 JPEGs damaged (5 %): truncated, a corrupt marker, text renamed .jpg. */
HVP_TEST(train_damaged_images_are_skipped_counted_and_named)
{
    tr_files f;
    if (!tr_begin(&f, 0, 1, ""))
        return;
    make_jpeg_folder(f.root, 30);
    const char *damaged[3] = {"train/a/03.jpg", "train/a/17.jpg", "train/b/29.jpg"};
    char path[3][1100];
    size_t n;
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/%s", f.root, damaged[i]);
    unsigned char *jpeg = test_read_file(path[0], &n);
    td_write(path[0], jpeg, n / 2);
    jpeg = test_read_file(path[1], &n);
    jpeg[3] = 0x02; /* an unknown marker where APP0 was */
    td_write(path[1], jpeg, n);
    td_write(path[2], "this is not an image\n", 21);

    /* batch 10 of 60 images: every file is met once in the epoch */
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "data.batch_size=10", NULL});
    const char *text = tr_log_text(f.log);
    if (rc != 0)
        tr_show_log(f.log);
    EXPECT(rc == 0, "the run should finish despite damaged files (exit %d)", rc);
    EXPECT(strstr(text, "3 files skipped") != NULL, "the epoch should count 3 skipped files");
    for (int i = 0; i < 3; i++) {
        const char *first = strstr(text, damaged[i]);
        EXPECT(first && !strstr(first + 1, damaged[i]), "%s should be named once in the log",
               damaged[i]);
    }
    td_cleanup();
}

/* IDX data (one channel) and no data.channels: the views take the data's one channel (they
 * used to be cut with three for a one-channel model). */
HVP_TEST(train_grayscale_data_without_a_channels_key)
{
    tr_files f;
    if (!tr_begin(&f, 0, 1, ""))
        return;
    enum { N = 16, S = 16 };
    static uint8_t idx[16 + N * S * S] = {0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, S, 0, 0, 0, S};
    memcpy(idx + 16, td_pattern(N * S, S, 1, 4), N * S * S);
    td_write(td_path(f.root, "train-images-idx3-ubyte"), idx, sizeof idx);
    char over_root[1100];
    snprintf(over_root, sizeof over_root, "data.root=%s", f.root);
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, over_root, "data.format=idx", NULL});
    if (rc != 0)
        tr_show_log(f.log);
    EXPECT(rc == 0 && strstr(tr_log_text(f.log), "1 channels"),
           "grayscale data without data.channels should train on one channel (exit %d)", rc);
    td_cleanup();
}

/* hvp knn on a checkpoint directory copied away from its run (no config.ini two folders
 * up): the config comes from its state file, and overrides still apply. */
HVP_TEST(train_knn_of_a_moved_checkpoint)
{
    tr_files f;
    if (!tr_begin(&f, 4, 1, ""))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    char ckpt[1100], moved[1100], from[1300], to[1200];
    int64_t step;
    if (rc != 0 || hvp_ckpt_find_latest(f.run_dir, ckpt, sizeof ckpt, &step) != HVP_OK) {
        TEST_FAIL("training exited with %d and left no checkpoint", rc);
        return;
    }
    snprintf(moved, sizeof moved, "%s/moved", f.root);
    td_mkdir(moved);
    static const char *const files[] = {HVP_CKPT_WEIGHTS, HVP_CKPT_STATE};
    for (int i = 0; i < 2; i++) {
        snprintf(from, sizeof from, "%s/%s", ckpt, files[i]);
        snprintf(to, sizeof to, "%s/%s", moved, files[i]);
        EXPECT(tr_copy_file(from, to), "copying %s", from);
    }
    rc = tr_run(f.log, (const char *[]){"knn", moved, "eval.knn_k=3", NULL});
    const char *text = tr_log_text(f.log);
    EXPECT(rc == 0 && strstr(text, "k=3") && strstr(text, moved) && strstr(text, "top-1"),
           "hvp knn MOVED_CHECKPOINT exited with %d: %s", rc, text);
    td_cleanup();
}

/* Numeric options out of range or not numbers: exit 2 with a message naming the option. */
HVP_TEST(train_cli_rejects_bad_numbers)
{
    tr_files f;
    if (!tr_begin(&f, 2, 1, ""))
        return;
    const char *const cases[][5] = {
        {"bench", "train", f.cfg, "--steps", "-1"}, {"bench", "data-decode", f.root, "--batch", "-5"},
        {"bench", "ops", "--runs", "x", NULL},      {"views", f.cfg, "--images", "0", NULL},
        {"bench", "data-decode", f.root, "--workers", "2junk"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[6] = {0};
        memcpy(args, cases[i], sizeof cases[i]);
        int rc = tr_run(f.log, args);
        const char *text = tr_log_text(f.log);
        const char *option = cases[i][3] && cases[i][3][0] == '-' ? cases[i][3] : cases[i][2];
        EXPECT(rc == 2 && strstr(text, option) && strstr(text, "whole number"),
               "hvp %s %s ... %s: exit %d: %s", cases[i][0], cases[i][1], option, rc, text);
    }
    td_cleanup();
}

/* Local crops go only to a method whose policy takes them, and on a ViT only of a side that
 * its patches tile: each refusal names the key and the reason, and nothing trains. */
HVP_TEST(train_local_crops_need_a_method_that_takes_them)
{
    tr_files f;
    if (!tr_begin(&f, 4, 1, ""))
        return;
    const char *const cases[][5] = {
        {"method.name=simsiam", "model.arch=resnet18", "data.local_image_size=8",
         "takes no local views", "simsiam"},
        {"method.name=dino", "model.arch=vit_tiny", "data.local_image_size=12",
         "not a multiple of model.patch_size = 8", "data.local_image_size = 12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, "data.local_crops=2",
                                                cases[i][2], cases[i][0], cases[i][1],
                                                "model.patch_size=8", NULL});
        const char *text = tr_log_text(f.log);
        EXPECT(rc != 0 && strstr(text, "data.local_crops = 2") && strstr(text, cases[i][3]) &&
                   strstr(text, cases[i][4]),
               "%s %s with local crops: exit %d: %s", cases[i][0], cases[i][1], rc, text);
    }
    td_cleanup();
}

/* The disk fills while a checkpoint is written (every file capped below the weights' size):
 * the run stops with an error naming the file, the previous checkpoint stays whole and
 * nothing half-written is left where a resume looks; with room again the run resumes. */
HVP_TEST(train_full_disk_keeps_the_last_checkpoint)
{
    tr_files f;
    if (!tr_begin(&f, 12, 1, ""))
        return;
    int rc = tr_run(f.log, (const char *[]){f.cfg, f.over_dir, NULL});
    size_t size;
    int64_t step;
    unsigned char *first = tr_final_weights(f.run_dir, &size, &step);
    if (rc != 0 || !first) {
        TEST_FAIL("the first epoch left no checkpoint (exit %d)", rc);
        return;
    }
    const char *const two_epochs[] = {f.cfg, f.over_dir, "train.epochs=2", NULL};
    rc = tr_finish(tr_spawn_limited(f.log, two_epochs, (long)size / 2));
    const char *text = tr_log_text(f.log);
    EXPECT(rc == 1 && strstr(text, HVP_CKPT_WEIGHTS),
           "a full disk should stop the run with exit 1 naming the file (exit %d): %s", rc, text);
    size_t size_after;
    int64_t step_after;
    unsigned char *after = tr_final_weights(f.run_dir, &size_after, &step_after);
    EXPECT(after && step_after == step && size_after == size && memcmp(after, first, size) == 0,
           "the latest checkpoint should still be step %lld, unchanged (found step %lld)",
           (long long)step, (long long)step_after);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s/checkpoints' -name '*.tmp*' | grep -q .", f.run_dir);
    EXPECT(system(cmd) != 0, "a temporary checkpoint was left behind");
    rc = tr_run(f.log, two_epochs);
    EXPECT(rc == 0 && tr_final_weights(f.run_dir, &size_after, &step_after) &&
               step_after == 2 * step,
           "with room again the run should resume and finish (exit %d)", rc);
    td_cleanup();
}
