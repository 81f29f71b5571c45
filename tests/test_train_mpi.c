/* Data-parallel whole runs over MPI (hvp/dist.h): `mpirun -np 2 hvp` on one PoCL device
 * shared by both ranks, one thread each, against `hvp` alone on the same global batch.
 * Skipped when hvp was built without MPI or mpirun is missing, and under HVP_TEST_TINY.
 *
 * Equal means: every step's loss within 1e-5 of the one-rank loss relative to max(|loss|,
 * 1) (a loss near 0 is a difference of terms of size ~1); the same chosen pair for every
 * image of every step; every tensor of the final weights within 1e-5 relative to its
 * largest value, or to 1e-2 for tensors of rounding noise below that (batch-norm biases
 * whose gradient vanishes behind the next batch norm, running means of centred inputs). */
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "test_data_util.h"
#include "test_train_util.h"

#ifndef HVP_MPIRUN
#define HVP_MPIRUN ""
#endif
#ifndef HVP_BIN
#define HVP_BIN "./hvp"
#endif

#define LOSS_TOL 1e-5
#define PARAM_TOL 1e-5
#define NOISE_SCALE 1e-2

/* 0, with the test skipped, when there is no MPI to run on. */
static int have_mpi(void)
{
    if (!hvp_dist_available() || !HVP_MPIRUN[0]) {
        test_skip("built without MPI (or mpirun not found): ./configure --with-mpi");
        return 0;
    }
    /* one PoCL thread per rank: two ranks share the two cores instead of fighting */
    setenv("POCL_MAX_PTHREAD_COUNT", "1", 1);
    setenv("POCL_CPU_MAX_CU_NUM", "1", 1);
    return 1;
}

/* Starts `mpirun -np ranks hvp args...` (ranks 0: hvp alone) with its output in log. */
static pid_t spawn_ranks(const char *log, int ranks, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    char np[16];
    snprintf(np, sizeof np, "%d", ranks);
    if (ranks > 0) {
        const char *launch[] = {HVP_MPIRUN, "--oversubscribe", "--allow-run-as-root",
                                "--mca", "btl", "self,vader", "-np", np};
        for (size_t i = 0; i < sizeof launch / sizeof *launch; i++)
            argv[n++] = launch[i];
    }
    argv[n++] = HVP_BIN;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return tr_spawn_argv(log, argv, 0);
}

static int run_ranks(const char *log, int ranks, const char *const *args)
{
    return tr_finish(spawn_ranks(log, ranks, args));
}

/* A run of cfg with `ranks` ranks into dir (log beside it); 1 when it succeeded. */
static int train(const char *cfg, int ranks, const char *dir, const char *extra_override)
{
    char over[1400], log[1400];
    snprintf(over, sizeof over, "run.dir=%s", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    const char *args[] = {cfg, over, "device.share=true", extra_override, NULL};
    int rc = run_ranks(log, ranks, args);
    EXPECT(rc == 0, "%d rank(s) into %s: exit status %d", ranks, dir, rc);
    if (rc != 0)
        tr_show_log(log);
    return rc == 0;
}

/* Column `col` (from 0) of every data row of a CSV file, at most max rows. */
static int csv_column(const char *path, int col, double *out, int max)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    if (!f)
        return 0;
    if (!fgets(line, sizeof line, f)) { /* the header */
        fclose(f);
        return 0;
    }
    while (n < max && fgets(line, sizeof line, f)) {
        char *p = line;
        for (int c = 0; c < col && p; c++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (p)
            out[n++] = atof(p);
    }
    fclose(f);
    return n;
}

/* The largest difference of column `col` (named what) between two CSV files of `rows` data
 * rows each, relative to max(|value|, 1); each must be within tol. */
static double compare_column(const char *a, const char *b, int col, int rows, const char *what,
                             double tol)
{
    double va[64], vb[64], worst = 0;
    int na = csv_column(a, col, va, 64), nb = csv_column(b, col, vb, 64);
    EXPECT(na == rows && nb == rows, "%s: %d rows in %s, %d in %s (expected %d)", what, na, a,
           nb, b, rows);
    for (int i = 0; i < na && i < nb; i++) {
        double d = fabs(va[i] - vb[i]) / fmax(fmax(fabs(va[i]), fabs(vb[i])), 1.0);
        worst = fmax(worst, d);
        EXPECT(d <= tol, "%s, row %d: %.9g on one rank, %.9g on two (relative %.2g)", what,
               i + 1, va[i], vb[i], d);
    }
    return worst;
}

/* The largest loss difference over the 3 steps of both runs. */
static double compare_losses(const char *one, const char *two)
{
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/steps.csv", one);
    snprintf(b, sizeof b, "%s/steps.csv", two);
    return compare_column(a, b, 2, 3, "loss", LOSS_TOL);
}

static void expect_same_pairs(const char *one, const char *two)
{
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/chosen_pairs.csv", one);
    snprintf(b, sizeof b, "%s/chosen_pairs.csv", two);
    size_t sa = 0, sb = 0;
    unsigned char *pa = test_read_file(a, &sa), *pb = test_read_file(b, &sb);
    EXPECT(pa && pb && sa > 20 && sa == sb && memcmp(pa, pb, sa) == 0,
           "%s and %s differ: the hard views chosen on two ranks are not one rank's", a, b);
}

/* The weights file of a run's latest checkpoint into path; 0 (a failure) when none. */
static int latest_weights(const char *run, char *path, size_t size)
{
    char dir[1024];
    int64_t step;
    if (hvp_ckpt_find_latest(run, dir, sizeof dir, &step) != HVP_OK || step < 0) {
        TEST_FAIL("no checkpoint in %s", run);
        return 0;
    }
    snprintf(path, size, "%s/" HVP_CKPT_WEIGHTS, dir);
    return 1;
}

/* The largest relative difference between the tensors of two weights files. */
static double compare_weight_files(const char *a, const char *b)
{
    double worst = 0;
    hvp_st_file *fa = NULL, *fb = NULL;
    if (hvp_st_open(a, &fa) != HVP_OK || hvp_st_open(b, &fb) != HVP_OK) {
        TEST_FAIL("%s", hvp_last_error());
        hvp_st_close(fa);
        return 1;
    }
    EXPECT(hvp_st_count(fa) == hvp_st_count(fb), "%d tensors against %d", hvp_st_count(fa),
           hvp_st_count(fb));
    for (int i = 0; i < hvp_st_count(fa); i++) {
        const hvp_st_tensor *x = hvp_st_at(fa, i), *y = hvp_st_find(fb, x->name);
        if (x->dtype != HVP_ST_F32)
            continue;
        if (!y || y->nbytes != x->nbytes) {
            TEST_FAIL("%s: missing or of another size in %s", x->name, b);
            continue;
        }
        const float *u = x->data, *v = y->data;
        size_t n = x->nbytes / sizeof(float);
        double scale = 0, diff = 0;
        for (size_t k = 0; k < n; k++) {
            scale = fmax(scale, fabs(u[k]));
            diff = fmax(diff, fabs((double)u[k] - v[k]));
        }
        double rel = diff / fmax(scale, NOISE_SCALE);
        worst = fmax(worst, rel);
        EXPECT(rel <= PARAM_TOL, "%s: largest difference %.3g at scale %.3g (relative %.3g)",
               x->name, diff, scale, rel);
    }
    hvp_st_close(fa);
    hvp_st_close(fb);
    return worst;
}

/* The same for the final weights of two runs. */
static double compare_weights(const char *one, const char *two)
{
    char a[1400], b[1400];
    if (!latest_weights(one, a, sizeof a) || !latest_weights(two, b, sizeof b))
        return 1;
    return compare_weight_files(a, b);
}

/* Whether two safetensors files hold the same tensors bit for bit (their metadata, which
 * names the run's folder, aside). */
static int tensors_equal(const char *a, const char *b)
{
    hvp_st_file *fa = NULL, *fb = NULL;
    int same = hvp_st_open(a, &fa) == HVP_OK && hvp_st_open(b, &fb) == HVP_OK &&
               hvp_st_count(fa) == hvp_st_count(fb) && hvp_st_count(fa) > 0;
    for (int i = 0; same && i < hvp_st_count(fa); i++) {
        const hvp_st_tensor *x = hvp_st_at(fa, i), *y = hvp_st_find(fb, x->name);
        same = y && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0;
    }
    hvp_st_close(fa);
    hvp_st_close(fb);
    return same;
}

/* The latest checkpoints of two runs, bit for bit (weights and optimizer state). */
static void expect_same_checkpoint(const char *run_a, const char *run_b)
{
    char da[1024], db[1024], a[1400], b[1400];
    int64_t sa = -1, sb = -2;
    if (hvp_ckpt_find_latest(run_a, da, sizeof da, &sa) != HVP_OK ||
        hvp_ckpt_find_latest(run_b, db, sizeof db, &sb) != HVP_OK || sa != sb) {
        TEST_FAIL("checkpoints of %s and %s: %s", run_a, run_b, hvp_last_error());
        return;
    }
    const char *files[] = {HVP_CKPT_WEIGHTS, HVP_CKPT_STATE};
    for (int i = 0; i < 2; i++) {
        snprintf(a, sizeof a, "%s/%s", da, files[i]);
        snprintf(b, sizeof b, "%s/%s", db, files[i]);
        EXPECT(tensors_equal(a, b), "%s and %s differ", a, b);
    }
}

/* The log beside dir must say that the 2 ranks ended bitwise equal. */
static void expect_replicas_equal(const char *dir)
{
    char log[1400];
    snprintf(log, sizeof log, "%s.log", dir);
    const char *text = tr_log_text(log);
    EXPECT(text && strstr(text, "replicas: the parameters and buffers of all 2 ranks are "
                                "bitwise identical"), "the two ranks' states differ (%s)", log);
}

/* 3 steps of a method with hard views: one rank with batch 8 against two with 4 each
 * (losses, pairs, weights), both ranks bitwise equal, and (repeat) a second two-rank run
 * bitwise the first. */
static void two_ranks_equal_one(const char *extra, int repeat)
{
    tr_files f;
    char extra_all[1024];
    snprintf(extra_all, sizeof extra_all, "%s[log]\nevery = 1\nchosen_pairs = true\n", extra);
    if (!have_mpi() || !tr_begin(&f, 12, 1, extra_all))
        return;
    char one[1100], two[1100], again[1100];
    snprintf(one, sizeof one, "%s/one", f.root);
    snprintf(two, sizeof two, "%s/two", f.root);
    snprintf(again, sizeof again, "%s/again", f.root);
    if (!train(f.cfg, 0, one, "run.name=one") || !train(f.cfg, 2, two, "run.name=two"))
        return;
    char log[1400];
    snprintf(log, sizeof log, "%s.log", two);
    const char *text = tr_log_text(log);
    expect_replicas_equal(two);
    EXPECT(text && strstr(text, "communication "), "no communication line in %s", log);
    double dl = compare_losses(one, two);
    expect_same_pairs(one, two);
    double dp = compare_weights(one, two);
    printf("     2 ranks x 4 against 1 x 8: losses within %.2g, weights within %.2g relative\n",
           dl, dp);
    if (!repeat || !train(f.cfg, 2, again, "run.name=again"))
        return;
    expect_same_checkpoint(two, again);
}

HVP_TEST(train_mpi_simsiam_two_ranks_equal_one)
{
    two_ranks_equal_one("", 1);
}

/* SimCLR: the negatives of both ranks (gathered projections), the gradient back to the
 * rank that owns each row. */
HVP_TEST(train_mpi_simclr_two_ranks_equal_one)
{
    two_ranks_equal_one("[method]\nname = simclr\n", 0);
}

/* DINO: the teacher's center averaged over both ranks' outputs (and its batch norms
 * synchronised, its EMA the same on both). */
HVP_TEST(train_mpi_dino_two_ranks_equal_one)
{
    two_ranks_equal_one("[method]\nname = dino\nout_dim = 32\nbottleneck_dim = 8\n"
                        "norm_last_layer = false\n[optim]\nname = adamw\nlr = 0.01\n"
                        "weight_decay = 0.04\n", 0);
}

/* The columns of epochs.csv that hold the evaluation: kNN top-1, top-5, at initialisation
 * and of the raw pixels. */
static const struct { int col; const char *name; } knn_columns[] = {
    {3, "knn_top1"}, {4, "knn_top5"}, {10, "knn_init_top1"}, {11, "knn_pixels_top1"}};

/* root/{train,test}/cN/NN.ppm: 6 classes of 4 images a split, each a random pattern at half
 * contrast over a tint of its class, so that kNN is neither at chance nor perfect. */
static void tinted_folder(const char *root)
{
    static const char *const splits[] = {"train", "test"};
    char dir[1200], file[1300];
    for (int s = 0; s < 2; s++) {
        snprintf(dir, sizeof dir, "%s/%s", root, splits[s]);
        td_mkdir(dir);
        for (int c = 0; c < 6; c++) {
            snprintf(dir, sizeof dir, "%s/%s/c%d", root, splits[s], c);
            td_mkdir(dir);
            for (int i = 0; i < 4; i++) {
                uint8_t *px = td_pattern(16, 16, 3, 100 * s + 10 * c + i);
                for (int k = 0; k < 16 * 16 * 3; k++)
                    px[k] = (uint8_t)(px[k] / 2 + (k % 3 == 0 ? 40 * (c % 3) : k % 3 == 1
                                                                 ? 60 * (c / 3) : 30));
                snprintf(file, sizeof file, "%s/%02d.ppm", dir, i);
                td_write_ppm(file, px, 16, 16, 3);
            }
        }
    }
}

/* kNN at initialisation and after the run, and the raw-pixel baseline, with the features
 * extracted by 2 ranks (contiguous shares of the batches, gathered): exactly one rank's
 * top-1 and top-5. A sample of 22 of the 24 training images and all 24 test images, in
 * batches of 5: shares of 2 and 3 batches and a last batch of 2 or 4 images. The two runs
 * read copies of the data at different paths, so that neither finds the other's raw-pixel
 * result in the cache. The online probe's test features are gathered the same way (its
 * result is rank 0's probe's, not compared). Then `hvp knn` and `hvp linear` of one
 * checkpoint, under mpirun and alone. */
HVP_TEST(train_mpi_knn_two_ranks_equal_one)
{
    tr_files f;
    const char *extra = "[eval]\nat_start = true\nbatch_size = 5\nknn_train_limit = 22\n"
                        "knn_k = 5\nonline_probe = true\n";
    if (!have_mpi() || !tr_begin(&f, 0, 1, extra))
        return;
    char copy[1100], cfg2[1200], one[1100], two[1100];
    snprintf(copy, sizeof copy, "%s/copy", f.root);
    snprintf(cfg2, sizeof cfg2, "%s/copy.ini", f.root);
    snprintf(one, sizeof one, "%s/one", f.root);
    snprintf(two, sizeof two, "%s/two", f.root);
    td_mkdir(copy);
    tinted_folder(f.root);
    tinted_folder(copy);
    tr_write_config(cfg2, copy, 1, extra);
    if (!train(f.cfg, 0, one, "eval.every=1") || !train(cfg2, 2, two, "eval.every=1"))
        return;
    char a[1400], b[1400];
    snprintf(a, sizeof a, "%s/epochs.csv", one);
    snprintf(b, sizeof b, "%s/epochs.csv", two);
    for (size_t k = 0; k < sizeof knn_columns / sizeof *knn_columns; k++) {
        double va = -1, vb = -2;
        int na = csv_column(a, knn_columns[k].col, &va, 1);
        int nb = csv_column(b, knn_columns[k].col, &vb, 1);
        EXPECT(na == 1 && nb == 1 && va >= 0 && va == vb,
               "%s: %.10g on one rank, %.10g on two", knn_columns[k].name, va, vb);
        printf("     %s: %.4g%% on one rank, %.4g%% on two\n", knn_columns[k].name, va, vb);
    }
    snprintf(b, sizeof b, "%s.log", two);
    const char *text = tr_log_text(b);
    EXPECT(text && strstr(text, "at initialisation: kNN top-1") &&
               strstr(text, "epoch 1: kNN top-1"),
           "the 2-rank run did not evaluate at the start and at the end (%s)", b);
    EXPECT(text && strstr(text, "online linear probe top-1"),
           "the 2-rank run did not evaluate its online probe (%s)", b);
    /* `hvp knn` and `hvp linear` of one checkpoint under mpirun: one rank's result */
    static const char *const cmds[] = {"knn", "linear"};
    for (int c = 0; c < 2; c++) {
        char la[1400], lb[1400], said[2][200] = {"", ""};
        snprintf(la, sizeof la, "%s/%s1.log", f.root, cmds[c]);
        snprintf(lb, sizeof lb, "%s/%s2.log", f.root, cmds[c]);
        /* kNN in batches of 30: one batch a split, rank 0's share empty */
        const char *args[] = {cmds[c], one, "device.share=true",
                              c ? "eval.linear_epochs=3" : "eval.batch_size=30", NULL};
        int ra = run_ranks(la, 0, args), rb = run_ranks(lb, 2, args);
        EXPECT(ra == 0 && rb == 0, "hvp %s: exit status %d on one rank, %d on two", cmds[c],
               ra, rb);
        for (int k = 0; k < 2; k++) {
            const char *log = tr_log_text(k ? lb : la), *at = log ? strstr(log, ": top-1") : 0;
            if (at)
                snprintf(said[k], sizeof said[k], "%.*s", (int)strcspn(at, "\n"), at);
        }
        EXPECT(said[0][0] && strcmp(said[0], said[1]) == 0, "hvp %s: '%s' on one rank, '%s' "
               "on two", cmds[c], said[0], said[1]);
        printf("     hvp %s%s on one rank and on two\n", cmds[c], said[0]);
    }
}

/* `hvp CMD cfg run.dir=dir device.share=true keys...` on `ranks` ranks (0: alone), its
 * output in dir.log; 1 when it succeeded. */
static int evaluate(const char *cmd, const char *cfg, int ranks, const char *dir,
                    const char *const *keys)
{
    char over[1400], log[1400];
    snprintf(over, sizeof over, "run.dir=%s", dir);
    snprintf(log, sizeof log, "%s.log", dir);
    const char *args[16] = {cmd, cfg, over, "device.share=true"};
    for (int i = 0; keys[i] && i < 11; i++)
        args[4 + i] = keys[i];
    int rc = run_ranks(log, ranks, args);
    EXPECT(rc == 0, "hvp %s, %d rank(s), into %s: exit status %d", cmd, ranks, dir, rc);
    if (rc != 0)
        tr_show_log(log);
    return rc == 0;
}

/* `hvp finetune` of the network at initialisation (the whole ResNet in train mode, its
 * batch norms synchronised), 2 epochs of 3 steps with label smoothing: 2 ranks with 4
 * images each against 1 with 8. Each epoch's loss and test top-1 / top-5 (epochs.csv, the
 * test split shared by the ranks) and the final weights of backbone and head within the
 * tolerance, both ranks bitwise equal; a batch the ranks cannot split is refused. */
HVP_TEST(train_mpi_finetune_two_ranks_equal_one)
{
    tr_files f;
    if (!have_mpi() || !tr_begin(&f, 0, 1, ""))
        return;
    tinted_folder(f.root);
    char one[1100], two[1100], a[1400], b[1400];
    snprintf(one, sizeof one, "%s/one", f.root);
    snprintf(two, sizeof two, "%s/two", f.root);
    /* lr 2: 2 epochs take test top-1 from 29 % to 54 %, neither chance nor perfect */
    const char *keys[] = {"eval.finetune_epochs=2", "eval.finetune_batch_size=8",
                          "eval.finetune_lr=2", "eval.finetune_warmup_epochs=1",
                          "eval.finetune_label_smoothing=0.1", NULL};
    if (!evaluate("finetune", f.cfg, 0, one, keys) || !evaluate("finetune", f.cfg, 2, two, keys))
        return;
    expect_replicas_equal(two);
    snprintf(a, sizeof a, "%s.log", two);
    const char *text = tr_log_text(a);
    EXPECT(text && strstr(text, "fine-tuning epoch 2/2") && strstr(text, "(24 images)"),
           "the 2-rank run did not test on all 24 images (%s)", a);
    snprintf(a, sizeof a, "%s/finetune/epochs.csv", one);
    snprintf(b, sizeof b, "%s/finetune/epochs.csv", two);
    double dl = compare_column(a, b, 2, 2, "loss", LOSS_TOL);
    compare_column(a, b, 4, 2, "top-1", 0);
    compare_column(a, b, 5, 2, "top-5", 0);
    snprintf(a, sizeof a, "%s/finetune", one);
    snprintf(b, sizeof b, "%s/finetune", two);
    double dp = compare_weights(a, b);
    printf("     fine-tuning, 2 ranks x 4 against 1 x 8: losses within %.2g, weights within "
           "%.2g relative\n", dl, dp);
    char odd[1100];
    snprintf(odd, sizeof odd, "%s/odd", f.root);
    const char *args[] = {"finetune", f.cfg, "device.share=true", "eval.finetune_batch_size=7",
                          NULL};
    snprintf(a, sizeof a, "%s.log", odd);
    int rc = run_ranks(a, 2, args);
    text = tr_log_text(a);
    EXPECT(rc != 0 && text && strstr(text, "eval.finetune_batch_size: the global batch of 7 "
                                           "images does not split evenly over 2 ranks"),
           "a batch of 7 on 2 ranks: exit status %d (%s)", rc, a);
}

/* `hvp linear eval.augment=true` (the head on the frozen backbone's features): 2 ranks
 * with 4 images each against 1 with 8, each epoch's loss (printed to 4 decimals) and
 * top-1 / top-5, both ranks bitwise equal. */
HVP_TEST(train_mpi_linear_augmented_two_ranks_equal_one)
{
    tr_files f;
    if (!have_mpi() || !tr_begin(&f, 0, 1, ""))
        return;
    tinted_folder(f.root);
    char dir[2][1100], log[2400]; /* (GCC bounds dir[k] by the whole array) */
    /* lr 64: 2 epochs take test top-1 from 29 % to 46 %, top-5 below 100 % */
    const char *keys[] = {"eval.augment=true", "eval.linear_epochs=2",
                          "eval.linear_batch_size=8", "eval.linear_lr=64", NULL};
    double loss[2][2] = {{-1, -1}, {-2, -2}};
    char acc[2][2][64] = {{"", ""}, {"", ""}};
    for (int k = 0; k < 2; k++) {
        snprintf(dir[k], sizeof dir[k], "%s/%s", f.root, k ? "two" : "one");
        if (!evaluate("linear", f.cfg, 2 * k, dir[k], keys))
            return;
        snprintf(log, sizeof log, "%s.log", dir[k]);
        const char *at = tr_log_text(log);
        for (int e = 0; e < 2 && at; e++) {
            char head[64];
            snprintf(head, sizeof head, "linear probe epoch %d/2: loss ", e + 1);
            at = strstr(at, head);
            if (!at)
                break;
            at += strlen(head);
            loss[k][e] = atof(at);
            const char *t = strstr(at, "test top-1");
            if (t)
                snprintf(acc[k][e], sizeof acc[k][e], "%.*s", (int)strcspn(t, "\n"), t);
        }
    }
    expect_replicas_equal(dir[1]);
    for (int e = 0; e < 2; e++) {
        EXPECT(loss[0][e] > 0 && fabs(loss[0][e] - loss[1][e]) <= 1.5e-4,
               "epoch %d: loss %.4f on one rank, %.4f on two", e + 1, loss[0][e], loss[1][e]);
        EXPECT(acc[0][e][0] && strcmp(acc[0][e], acc[1][e]) == 0,
               "epoch %d: '%s' on one rank, '%s' on two", e + 1, acc[0][e], acc[1][e]);
    }
    printf("     linear probe, epoch 2: loss %.4f on one rank, %.4f on two, %s\n", loss[0][1],
           loss[1][1], acc[1][1]);
}

/* A checkpoint written by 2 ranks (mid-run, after epoch 1 of 2) resumes on 2 ranks to the
 * uninterrupted run's weights bit for bit, and on 1 rank to them within the tolerance
 * (its steps are one rank's from there). */
HVP_TEST(train_mpi_checkpoint_of_two_ranks_resumes_on_one_and_two)
{
    tr_files f;
    if (!have_mpi() || !tr_begin(&f, 12, 2, ""))
        return;
    char run[1100], ref[1400], cmd[4400], path[1400];
    snprintf(run, sizeof run, "%s/two", f.root);
    snprintf(ref, sizeof ref, "%s/uninterrupted.safetensors", f.root);
    if (!train(f.cfg, 2, run, "run.name=two") || !latest_weights(run, path, sizeof path))
        return;
    EXPECT(strstr(path, "step-0000000006"), "the last checkpoint is %s, expected step 6", path);
    /* keep the final weights; remove that checkpoint: the run resumes from step 3 */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -r \"$(dirname '%s')\"", path, ref, path);
    REQUIRE_OK(system(cmd) == 0 ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "%s failed", cmd));
    if (!train(f.cfg, 2, run, "run.name=two"))
        return;
    char log[1400];
    snprintf(log, sizeof log, "%s.log", run);
    const char *text = tr_log_text(log);
    EXPECT(text && strstr(text, "resumed from") && strstr(text, "step 3)"),
           "the 2-rank run did not resume from step 3 (%s)", log);
    if (latest_weights(run, path, sizeof path))
        EXPECT(tensors_equal(path, ref), "resumed on 2 ranks, %s differs from the "
               "uninterrupted run's weights", path);
    REQUIRE_OK(system(cmd) == 0 ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "%s failed", cmd));
    if (!train(f.cfg, 0, run, "run.name=two"))
        return;
    text = tr_log_text(log);
    EXPECT(text && strstr(text, "resumed from") && strstr(text, "step 3)"),
           "the 1-rank run did not resume from step 3 (%s)", log);
    if (latest_weights(run, path, sizeof path)) {
        double d = compare_weight_files(ref, path);
        printf("     resumed on 1 rank: weights within %.2g of 2 ranks' relative\n", d);
    }
}

/* The pid of the child of parent whose environment says it is MPI rank `rank` (-1: none
 * yet). Open MPI's mpirun starts the ranks of its own machine as its children. */
static pid_t rank_pid(pid_t parent, int rank)
{
    static char buf[1 << 17];
    char want[64], path[300];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *proc = opendir("/proc");
    struct dirent *e;
    pid_t found = -1;
    while (proc && found < 0 && (e = readdir(proc))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ppid = -1;
        char state;
        int got = fscanf(f, "%*d %*s %c %d", &state, &ppid);
        fclose(f);
        if (got != 2 || ppid != parent)
            continue;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        if (tr_contains((const unsigned char *)buf, n, want))
            found = pid;
    }
    if (proc)
        closedir(proc);
    return found;
}

/* A rank killed with SIGKILL mid-run ends the whole job within 30 s, with mpirun naming
 * the rank, its host and the signal; the other rank does not hang in a collective. */
HVP_TEST(train_mpi_sigkill_of_one_rank_ends_the_job_and_resumes)
{
    tr_files f;
    if (!have_mpi() || !tr_begin(&f, 12, 40, "[log]\nevery = 1\n"))
        return;
    char steps[1400];
    snprintf(steps, sizeof steps, "%s/steps.csv", f.run_dir);
    /* a checkpoint every 2 steps of 24; rank 1 dies after step 4 */
    const char *args[] = {f.cfg, f.over_dir, "device.share=true", "train.save_every_steps=2",
                          "train.max_steps=24", NULL};
    pid_t job = spawn_ranks(f.log, 2, args);
    pid_t victim = -1;
    for (int i = 0; i < 600 && (victim < 0 || tr_lines(steps) < 5); i++) { /* 60 s at most */
        usleep(100000);
        if (victim < 0)
            victim = rank_pid(job, 1);
        if (waitpid(job, NULL, WNOHANG) == job) {
            TEST_FAIL("the job ended before rank 1 was killed");
            tr_show_log(f.log);
            return;
        }
    }
    EXPECT(victim > 0, "rank 1 of mpirun %d not found", (int)job);
    if (victim > 0)
        tr_signal(victim, SIGKILL);
    int ended = 0, status = 0;
    for (int i = 0; i < 300 && !ended; i++) { /* within 30 s */
        ended = waitpid(job, &status, WNOHANG) == job;
        if (!ended)
            usleep(100000);
    }
    if (!ended) {
        TEST_FAIL("the job did not end within 30 s of rank 1's SIGKILL");
        tr_signal(job, SIGKILL);
        waitpid(job, NULL, 0);
        return;
    }
    EXPECT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "the job ended as if it succeeded");
    const char *text = tr_log_text(f.log);
    EXPECT(text && strstr(text, "rank 1") && strstr(text, "signal 9"),
           "mpirun's message does not name rank 1 and the signal (%s)", f.log);
    if (!text || !strstr(text, "signal 9"))
        tr_show_log(f.log);

    /* resumed, the job ends with the weights of an uninterrupted 2-rank run */
    char ref[1100], resumed_log[1100], a_path[1400], b_path[1400];
    snprintf(ref, sizeof ref, "%s/uninterrupted", f.root);
    snprintf(resumed_log, sizeof resumed_log, "%s.log", f.run_dir);
    if (!train(f.cfg, 2, f.run_dir, "train.max_steps=24") ||
        !train(f.cfg, 2, ref, "train.max_steps=24"))
        return;
    text = tr_log_text(resumed_log);
    EXPECT(text && strstr(text, "resumed from"), "the job did not resume (%s)", resumed_log);
    if (latest_weights(f.run_dir, a_path, sizeof a_path) && latest_weights(ref, b_path, sizeof b_path))
        EXPECT(strstr(a_path, "step-0000000024") && tensors_equal(a_path, b_path),
               "resumed after the SIGKILL, %s differs from the uninterrupted run's %s", a_path,
               b_path);
}
