/* Whole runs whose length is set by FLOPs: train.match spends the reference run's FLOPs
 * within one step, and what a run counts without computing is what it then spends. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/train.h"
#include "test_data_util.h"
#include "test_train_util.h"

static int run(const char *cfg, const char *const *overrides, hvp_train_result *res)
{
    int n = 0;
    while (overrides[n])
        n++;
    hvp_config c;
    hvp_status st = hvp_config_from_cli(&c, cfg, n, (char *const *)overrides);
    if (st == HVP_OK)
        st = hvp_train(&c, NULL, res);
    if (st != HVP_OK)
        TEST_FAIL("%s %s: %s", cfg, n > 0 ? overrides[0] : "", hvp_last_error());
    return st == HVP_OK;
}

/* 20 images in batches of 8 with the last one kept: 3 steps an epoch, the third of 4 images. */
HVP_TEST(train_flops_match_spends_the_reference_budget_within_one_step)
{
    tr_files f;
    if (!tr_begin(&f, 10, 2, "[train]\n"))
        return;
    char dir_ref[1100], dir_hvp[1100], match[2048];
    snprintf(dir_ref, sizeof dir_ref, "run.dir=%s/ref", f.root);
    snprintf(dir_hvp, sizeof dir_hvp, "run.dir=%s/hvp", f.root);
    /* the baseline for 2 epochs (6 steps) ... */
    const char *baseline[] = {dir_ref, "hvp.enabled=false", "data.drop_last=false", NULL};
    hvp_train_result ref, hvp;
    if (!run(f.cfg, baseline, &ref))
        return;
    /* ... counted without computing, as train.match does ... */
    hvp_config c;
    hvp_step_flops plan;
    long steps = 0;
    REQUIRE_OK(hvp_config_from_cli(&c, f.cfg, 3, (char *const *)baseline));
    REQUIRE_OK(hvp_train_count_flops(&c, &plan, &steps));
    EXPECT(steps == 6 && ref.steps == 6, "the baseline runs %ld steps (counted %ld), expected 6",
           ref.steps, steps);
    EXPECT(plan.step[1][1] < plan.step[1][0], "the last batch of 4 costs %.0f FLOPs, a full one "
           "%.0f", plan.step[1][1], plan.step[1][0]);
    EXPECT(hvp_step_flops_sum(&plan, steps) == ref.flops,
           "counted without computing %.0f FLOPs, the run spent %.0f",
           hvp_step_flops_sum(&plan, steps), ref.flops);

    /* ... and HVP with 3 views, scoring every other step, matched to it */
    snprintf(match, sizeof match, "train.match=%s hvp.enabled=false data.drop_last=false",
             f.cfg);
    const char *matched[] = {dir_hvp, "data.drop_last=false", "hvp.select_every=2", match, NULL};
    if (!run(f.cfg, matched, &hvp))
        return;
    REQUIRE_OK(hvp_config_from_cli(&c, f.cfg, 4, (char *const *)matched));
    hvp_step_flops own;
    REQUIRE_OK(hvp_train_count_flops(&c, &own, &steps));
    double largest = fmax(own.step[1][0], own.step[0][0]); /* a full batch, scored or not */
    printf("  baseline %ld steps, %.6g FLOPs; HVP %ld steps, %.6g FLOPs (%.2f of its largest "
           "step apart)\n", ref.steps, ref.flops, hvp.steps, hvp.flops,
           fabs(hvp.flops - ref.flops) / largest);
    EXPECT(fabs(hvp.flops - ref.flops) <= largest / 2,
           "the matched run spent %.0f FLOPs in %ld steps, the reference %.0f: more than half "
           "a step (%.0f) apart", hvp.flops, hvp.steps, ref.flops, largest);
    EXPECT(hvp.steps < ref.steps, "HVP took %ld steps, the baseline %ld: selection costs FLOPs",
           hvp.steps, ref.steps);

    /* The matched run trains bit for bit as the same config given its number of steps:
     * counting leaves nothing behind (it once left the selector's pair table unset, and
     * every image trained on one view twice). */
    char dir_direct[1100], steps_over[64], run_hvp[1100], run_direct[1100];
    snprintf(dir_direct, sizeof dir_direct, "run.dir=%s/direct", f.root);
    snprintf(steps_over, sizeof steps_over, "train.max_steps=%ld", hvp.steps);
    const char *direct[] = {dir_direct, "data.drop_last=false", "hvp.select_every=2", steps_over,
                            NULL};
    hvp_train_result d;
    if (!run(f.cfg, direct, &d))
        return;
    snprintf(run_hvp, sizeof run_hvp, "%s/hvp", f.root);
    snprintf(run_direct, sizeof run_direct, "%s/direct", f.root);
    size_t na = 0, nb = 0;
    int64_t sa = -1, sb = -1;
    unsigned char *wa = tr_final_weights(run_hvp, &na, &sa);
    unsigned char *wb = tr_final_weights(run_direct, &nb, &sb);
    EXPECT(wa && wb && sa == sb && na == nb && memcmp(wa, wb, na) == 0,
           "the matched run's weights after step %lld differ from those of the same config "
           "run for %ld steps (step %lld)", (long long)sa, hvp.steps, (long long)sb);
}

/* train.flops_budget and train.match together are refused, naming both. */
HVP_TEST(io_config_flops_budget_and_match_are_exclusive)
{
    hvp_config c;
    hvp_config_defaults(&c);
    REQUIRE_OK(hvp_config_override(&c, "train.flops_budget=1e12"));
    REQUIRE_OK(hvp_config_override(&c, "train.match=configs/quickstart.ini"));
    hvp_status st = hvp_config_check(&c);
    EXPECT(st != HVP_OK && strstr(hvp_last_error(), "train.flops_budget") &&
               strstr(hvp_last_error(), "train.match"),
           "expected an error naming both keys, got: %s", st == HVP_OK ? "none" : hvp_last_error());
}

/* Occurrences of what in the file at path (0 when it is missing). */
static int count_in(const char *path, const char *what)
{
    size_t n = 0;
    unsigned char *p = test_read_file(path, &n);
    int count = 0;
    for (size_t i = 0; p && i + strlen(what) <= n; i++)
        count += memcmp(p + i, what, strlen(what)) == 0;
    return count;
}

/* `hvp sweep`: 2 cells x 2 seeds of a 2-step epoch, each its own run; the table (Markdown, CSV)
 * has a row per cell with both seeds' kNN, the chart a dot per run; a second invocation
 * skips the finished runs and writes the same table. */
HVP_TEST(train_sweep_runs_cells_and_seeds_then_table_and_chart)
{
    tr_files f;
    if (!tr_begin(&f, 10, 1, "")) /* 20 images: 2 steps of 8 */
        return;
    char sweep[1100], dir[1100], path[1200], log2[1100];
    snprintf(sweep, sizeof sweep, "%s/tiny_sweep.ini", f.root);
    snprintf(dir, sizeof dir, "%s/sweep", f.root);
    FILE *s = fopen(sweep, "w");
    REQUIRE_OK(s ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "%s", sweep));
    fprintf(s, "; a tiny sweep\n[sweep]\nconfig = %s\nseeds = 1, 2\ndir = %s\n"
               "eval.every = 1 ; kNN at the end\neval.knn_k = 3\n"
               "[baseline]\nhvp.enabled = false\n"
               "[hvp-matched]\nhvp.enabled = true\n"
               "train.match = %s hvp.enabled=false\n", f.cfg, dir, f.cfg);
    fclose(s);
    int rc = tr_run(f.log, (const char *[]){"sweep", sweep, NULL});
    if (rc != 0)
        tr_show_log(f.log);
    EXPECT(rc == 0, "hvp sweep exited with %d", rc);
    static const char *const cells[] = {"baseline", "hvp-matched"};
    for (int c = 0; c < 2; c++)
        for (int seed = 1; seed <= 2; seed++) {
            snprintf(path, sizeof path, "%s/%s/seed-%d/sweep_done", dir, cells[c], seed);
            EXPECT(access(path, F_OK) == 0, "%s is missing", path);
        }
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    EXPECT(tr_lines(path) == 3, "%s has %ld lines, expected a header and 2 cells", path,
           tr_lines(path));
    EXPECT(count_in(path, "\nbaseline,2,2,") == 1 && count_in(path, "\nhvp-matched,2,") == 1,
           "%s lacks a row per cell with 2 seeds", path);
    snprintf(path, sizeof path, "%s/sweep.md", dir);
    EXPECT(tr_lines(path) == 4 && count_in(path, " ± ") == 3,
           "%s: expected a header, a rule and 2 rows with mean ± std", path);
    size_t md_size = 0;
    unsigned char *md = test_read_file(path, &md_size);
    snprintf(path, sizeof path, "%s/accuracy_vs_flops.svg", dir);
    EXPECT(count_in(path, "data-series=\"baseline\"") == 1 &&
               count_in(path, "data-series=\"hvp-matched\"") == 1 && count_in(path, "<circle") == 4,
           "%s: expected a series per cell and a dot per run", path);

    snprintf(log2, sizeof log2, "%s/log2.txt", f.root);
    rc = tr_run(log2, (const char *[]){"sweep", sweep, NULL});
    EXPECT(rc == 0 && count_in(log2, "finished before: skipped") == 4,
           "the second sweep exited with %d and skipped %d runs, expected 4", rc,
           count_in(log2, "finished before: skipped"));
    snprintf(path, sizeof path, "%s/sweep.md", dir);
    size_t again_size = 0;
    unsigned char *again = test_read_file(path, &again_size);
    EXPECT(md && again && md_size == again_size && memcmp(md, again, md_size) == 0,
           "the resumed sweep wrote another table");
}

/* A sweep file's mistakes name the file and line. */
HVP_TEST(io_sweep_file_errors_name_the_line)
{
    const char *dir = td_dir();
    char path[1100];
    snprintf(path, sizeof path, "%s/bad.ini", dir);
    static const char *const bad[][2] = {
        {"[sweep]\nconfig = a.ini\nseeds = 1, x\n[c]\nhvp.enabled = true\n", ":3: seeds"},
        {"[sweep]\nconfig = a.ini\nseeds = 1\n[c]\nhvp.enabeld = true\n", ":5: hvp.enabeld"},
        {"[sweep]\nconfig = a.ini\nseeds = 1\n[c d]\n", ":4: [c d]"},
        {"[sweep]\nseeds = 1\n[c]\nhvp.enabled = true\n", "needs config"},
        {"[sweep]\nconfig = a.ini\nseeds = 1\n", "no cell"},
        {"[sweep]\nconfig = a.ini\nseeds = 1\n[c]\n[c]\n", ":5: [c] again"},
    };
    hvp_sweep *s = test_alloc(sizeof *s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        REQUIRE_OK(f ? HVP_OK : HVP_FAIL(HVP_ERR_IO, "%s", path));
        fputs(bad[i][0], f);
        fclose(f);
        hvp_status st = hvp_sweep_load(path, s);
        EXPECT(st != HVP_OK && strstr(hvp_last_error(), bad[i][1]),
               "case %zu: expected an error with \"%s\", got: %s", i, bad[i][1],
               st == HVP_OK ? "none" : hvp_last_error());
    }
}

/* hvp.select_by = overlap runs no forward: a score_fraction or select_resolution with it
 * would change nothing, and is refused naming the key. */
HVP_TEST(io_config_select_by_overlap_refuses_scoring_keys)
{
    static const char *const with[] = {"hvp.score_fraction=0.5", "hvp.select_resolution=8"};
    for (int i = 0; i < 2; i++) {
        hvp_config c;
        hvp_config_defaults(&c);
        REQUIRE_OK(hvp_config_override(&c, "hvp.select_by=overlap"));
        REQUIRE_OK(hvp_config_override(&c, with[i]));
        hvp_status st = hvp_config_check(&c);
        EXPECT(st != HVP_OK && strstr(hvp_last_error(), "hvp.select_by = overlap"),
               "%s with hvp.select_by = overlap: expected an error, got: %s", with[i],
               st == HVP_OK ? "none" : hvp_last_error());
    }
    hvp_config c;
    hvp_config_defaults(&c);
    REQUIRE_OK(hvp_config_override(&c, "hvp.select_by=overlap"));
    REQUIRE_OK(hvp_config_check(&c));
}
