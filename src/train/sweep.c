/* `hvp sweep SWEEP.ini`: cells of overrides x seeds, each a normal run into its own folder,
 * one after the other; a cell whose run finished is skipped (a stopped one resumes from
 * its checkpoint); then the table of final kNN top-1 (mean and standard deviation over
 * the seeds) with FLOPs and training time, as Markdown and CSV, and an SVG chart of
 * accuracy against FLOPs.
 *
 *   [sweep]
 *   config = configs/quickstart.ini     ; the base config of every run
 *   seeds = 1, 2, 3
 *   dir = runs/sweeps/quick             ; optional; default runs/sweep-<file name>
 *   eval.every = 1                      ; section.key lines here apply to every cell
 *   [hvp]                               ; a cell: its name, then its overrides
 *   hvp.enabled = true
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hvp/checkpoint.h"
#include "hvp/logs.h"
#include "hvp/train.h"

#define LINE 1024

typedef hvp_sweep_cell sweep_cell;

typedef struct sweep_run {
    long steps;
    double knn_top1, flops, seconds;
} sweep_run;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Adds "key=value" to a list of overrides; 0 when full. */
static int add_set(sweep_cell *c, const char *key, const char *value)
{
    if (c->nset == HVP_SWEEP_MAX_SETS)
        return 0;
    snprintf(c->set[c->nset++], HVP_CFG_STR, "%s=%s", key, value);
    return 1;
}

static hvp_status parse_seeds(hvp_sweep *s, const char *value, const char *where)
{
    char text[LINE], *save = NULL;
    snprintf(text, sizeof text, "%s", value);
    s->nseeds = 0;
    for (char *w = strtok_r(text, ", \t", &save); w; w = strtok_r(NULL, ", \t", &save)) {
        char *end;
        long v = strtol(w, &end, 10);
        if (*end || v < 0 || v > 2147483647 || s->nseeds == HVP_SWEEP_MAX_SEEDS)
            return HVP_FAIL(HVP_ERR_ARG, "%s: seeds = %s: expected at most %d whole numbers "
                            "from 0, separated by commas", where, value, HVP_SWEEP_MAX_SEEDS);
        s->seeds[s->nseeds++] = (int)v;
    }
    if (s->nseeds == 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: seeds is empty: expected e.g. seeds = 1, 2, 3", where);
    return HVP_OK;
}

hvp_status hvp_sweep_load(const char *path, hvp_sweep *s)
{
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f)
        return HVP_FAIL(HVP_ERR_IO, "%s: cannot open the sweep file", path);
    char line[LINE], where[LINE + 32];
    int number = 0, in_sweep = 0;
    hvp_status st = HVP_OK;
    while (st == HVP_OK && fgets(line, sizeof line, f)) {
        number++;
        snprintf(where, sizeof where, "%s:%d", path, number);
        char *semi = strstr(line, " ;"); /* a comment after a value */
        if (semi)
            *semi = 0;
        char *l = trim(line);
        if (!*l || *l == ';' || *l == '#')
            continue;
        if (*l == '[') {
            char *end = strchr(l, ']');
            size_t n = end ? (size_t)(end - l - 1) : 0;
            if (!end || end[1] || n == 0 || n >= sizeof s->cells[0].name ||
                strspn(l + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                    != n)
                st = HVP_FAIL(HVP_ERR_ARG, "%s: %s: expected [sweep] or [cell-name] (letters, "
                              "digits, _ and -)", where, l);
            else if ((in_sweep = n == 5 && !strncmp(l + 1, "sweep", 5)) == 0) {
                for (int i = 0; i < s->ncells && st == HVP_OK; i++)
                    if (strlen(s->cells[i].name) == n && !strncmp(s->cells[i].name, l + 1, n))
                        st = HVP_FAIL(HVP_ERR_ARG, "%s: [%s] again: each cell needs its own "
                                      "name (its folder)", where, s->cells[i].name);
                if (st != HVP_OK)
                    break;
                if (s->ncells == HVP_SWEEP_MAX_CELLS)
                    st = HVP_FAIL(HVP_ERR_ARG, "%s: more than %d cells", where,
                                  HVP_SWEEP_MAX_CELLS);
                else
                    snprintf(s->cells[s->ncells++].name, sizeof s->cells[0].name, "%.*s",
                             (int)n, l + 1);
            }
            continue;
        }
        char *eq = strchr(l, '=');
        if (!eq) {
            st = HVP_FAIL(HVP_ERR_ARG, "%s: %s: expected key = value", where, l);
            break;
        }
        *eq = 0;
        char *key = trim(l), *value = trim(eq + 1);
        if (!in_sweep && s->ncells == 0) {
            st = HVP_FAIL(HVP_ERR_ARG, "%s: %s outside a section: start with [sweep]", where, key);
        } else if (strchr(key, '.')) { /* an override: of every cell, or of this one */
            sweep_cell *c = in_sweep ? &s->common : &s->cells[s->ncells - 1];
            if (!hvp_config_find(key))
                st = HVP_FAIL(HVP_ERR_ARG, "%s: %s is no config key (hvp --help-config lists "
                              "them)", where, key);
            else if (!add_set(c, key, value))
                st = HVP_FAIL(HVP_ERR_ARG, "%s: more than %d overrides", where,
                              HVP_SWEEP_MAX_SETS);
        } else if (in_sweep && !strcmp(key, "config")) {
            snprintf(s->config, sizeof s->config, "%s", value);
        } else if (in_sweep && !strcmp(key, "dir")) {
            snprintf(s->dir, sizeof s->dir, "%s", value);
        } else if (in_sweep && !strcmp(key, "seeds")) {
            st = parse_seeds(s, value, where);
        } else {
            st = HVP_FAIL(HVP_ERR_ARG, "%s: unknown key %s: [sweep] takes config, seeds, dir "
                          "and section.key overrides; a cell takes section.key overrides",
                          where, key);
        }
    }
    fclose(f);
    HVP_TRY(st);
    if (!s->config[0])
        return HVP_FAIL(HVP_ERR_ARG, "%s: [sweep] needs config = CONFIG.ini", path);
    if (s->nseeds == 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: [sweep] needs seeds = ...", path);
    if (s->ncells == 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: no cell: add [name] sections with overrides", path);
    if (!s->dir[0]) { /* runs/sweep-<file name without folder and extension> */
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        int n = (int)strcspn(base, ".");
        snprintf(s->dir, sizeof s->dir, "runs/sweep-%.*s", n, base);
    }
    return HVP_OK;
}

/* The config of one run: the base config, the sweep's overrides, the cell's, then the
 * seed and the run's folder. */
static hvp_status run_config(const hvp_sweep *s, int cell, int seed, hvp_config *c,
                             char *run_dir, size_t size)
{
    const sweep_cell *common = &s->common, *own = &s->cells[cell];
    char *argv[2 * HVP_SWEEP_MAX_SETS + 2];
    int n = 0;
    for (int i = 0; i < common->nset; i++)
        argv[n++] = (char *)common->set[i];
    for (int i = 0; i < own->nset; i++)
        argv[n++] = (char *)own->set[i];
    char seed_set[64], dir_set[LINE + 16];
    snprintf(run_dir, size, "%s/%s/seed-%d", s->dir, own->name, seed);
    snprintf(seed_set, sizeof seed_set, "run.seed=%d", seed);
    snprintf(dir_set, sizeof dir_set, "run.dir=%s", run_dir);
    argv[n++] = seed_set;
    argv[n++] = dir_set;
    return hvp_config_from_cli(c, s->config, n, argv);
}

/* A finished run's figures from its folder: FLOPs and training seconds summed over
 * epochs.csv (a resumed run's epochs too), the last kNN top-1, the steps. */
static void read_run(const char *run_dir, sweep_run *r)
{
    char path[LINE + 32];
    hvp_csv t;
    r->flops = r->seconds = 0;
    r->knn_top1 = -1;
    r->steps = 0;
    snprintf(path, sizeof path, "%s/epochs.csv", run_dir);
    if (hvp_csv_read(path, &t) != HVP_OK)
        return;
    int sf = hvp_csv_column(&t, "select_flops"), tf = hvp_csv_column(&t, "train_flops"),
        sec = hvp_csv_column(&t, "seconds"), knn = hvp_csv_column(&t, "knn_top1"),
        step = hvp_csv_column(&t, "step");
    for (int i = 0; i < t.nrows; i++) {
        const double *row = t.v + (size_t)i * t.ncols;
        if (sf >= 0 && tf >= 0 && isfinite(row[sf]) && isfinite(row[tf]))
            r->flops += row[sf] + row[tf];
        if (sec >= 0 && isfinite(row[sec]))
            r->seconds += row[sec];
        if (knn >= 0 && isfinite(row[knn]) && row[knn] >= 0)
            r->knn_top1 = row[knn];
        if (step >= 0 && isfinite(row[step]))
            r->steps = (long)row[step];
    }
    hvp_csv_free(&t);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void mean_std(const double *v, int n, double *mean, double *std)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    *mean = n ? sum / n : NAN;
    for (int i = 0; i < n; i++)
        sq += (v[i] - *mean) * (v[i] - *mean);
    *std = n > 1 ? sqrt(sq / (n - 1)) : 0; /* over seeds: the sample standard deviation */
}

/* sweep.md, sweep.csv and accuracy_vs_flops.svg in the sweep's folder. */
static hvp_status write_table(const hvp_sweep *s, sweep_run (*runs)[HVP_SWEEP_MAX_SEEDS],
                              FILE *out)
{
    char path[LINE + 32];
    snprintf(path, sizeof path, "%s/sweep.csv", s->dir);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/sweep.md", s->dir);
    FILE *md = fopen(path, "w");
    if (!csv || !md) {
        if (csv)
            fclose(csv);
        if (md)
            fclose(md);
        return HVP_FAIL(HVP_ERR_IO, "%s: cannot write the sweep's table", s->dir);
    }
    fprintf(csv, "cell,seeds,steps,knn_top1_mean,knn_top1_std,flops,train_seconds,knn_top1_by_seed\n");
    fprintf(md, "| cell | seeds | steps | kNN top-1 (mean ± std) | by seed | TFLOP | training s |\n"
                "| --- | --- | --- | --- | --- | --- | --- |\n");
    hvp_curve curves[HVP_SWEEP_MAX_CELLS];
    double xs[HVP_SWEEP_MAX_CELLS][HVP_SWEEP_MAX_SEEDS], ys[HVP_SWEEP_MAX_CELLS][HVP_SWEEP_MAX_SEEDS];
    char labels[HVP_SWEEP_MAX_CELLS][128];
    int ncurves = 0;
    for (int c = 0; c < s->ncells; c++) {
        double knn[HVP_SWEEP_MAX_SEEDS], flops[HVP_SWEEP_MAX_SEEDS], sec[HVP_SWEEP_MAX_SEEDS];
        int n = 0;
        char by_seed[256] = "", by_seed_csv[256] = "";
        long steps = runs[c][0].steps;
        for (int k = 0; k < s->nseeds; k++) {
            const sweep_run *r = &runs[c][k];
            flops[k] = r->flops;
            sec[k] = r->seconds;
            size_t at = strlen(by_seed), at_csv = strlen(by_seed_csv);
            snprintf(by_seed + at, sizeof by_seed - at, "%s%.2f", k ? " / " : "", r->knn_top1);
            snprintf(by_seed_csv + at_csv, sizeof by_seed_csv - at_csv, "%s%.2f", k ? " " : "",
                     r->knn_top1);
            if (r->knn_top1 >= 0) {
                knn[n] = r->knn_top1;
                xs[ncurves][n] = r->flops * 1e-12;
                ys[ncurves][n] = r->knn_top1;
                n++;
            }
        }
        double km, ks, fm, fs, sm, ss;
        mean_std(knn, n, &km, &ks);
        mean_std(flops, s->nseeds, &fm, &fs);
        mean_std(sec, s->nseeds, &sm, &ss);
        fprintf(csv, "%s,%d,%ld,%.4f,%.4f,%.6g,%.2f,%s\n", s->cells[c].name, s->nseeds, steps,
                km, ks, fm, sm, by_seed_csv);
        fprintf(md, "| %s | %d | %ld | %.2f ± %.2f | %s | %.4g | %.1f |\n", s->cells[c].name,
                s->nseeds, steps, km, ks, by_seed, fm * 1e-12, sm);
        if (out)
            fprintf(out, "%-28s %d seeds, %ld steps: kNN top-1 %.2f ± %.2f (%s), %.4g TFLOP, "
                    "%.1f s training\n", s->cells[c].name, s->nseeds, steps, km, ks, by_seed,
                    fm * 1e-12, sm);
        if (n > 0) { /* a cell's seeds, lowest to highest: a vertical bar at its FLOPs */
            for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && ys[ncurves][j] < ys[ncurves][j - 1]; j--) {
                    double y = ys[ncurves][j], x = xs[ncurves][j];
                    ys[ncurves][j] = ys[ncurves][j - 1], xs[ncurves][j] = xs[ncurves][j - 1];
                    ys[ncurves][j - 1] = y, xs[ncurves][j - 1] = x;
                }
            snprintf(labels[ncurves], sizeof labels[0], "%s", s->cells[c].name);
            curves[ncurves] = (hvp_curve){s->cells[c].name, labels[ncurves], n, xs[ncurves],
                                          ys[ncurves]};
            ncurves++;
        }
    }
    int failed = fclose(csv) != 0;
    failed |= fclose(md) != 0;
    if (failed)
        return HVP_FAIL(HVP_ERR_IO, "%s: writing the sweep's table failed", s->dir);
    snprintf(path, sizeof path, "%s/accuracy_vs_flops.svg", s->dir);
    int written;
    return hvp_chart_lines(path, "final kNN top-1 (%) against training FLOPs, each seed a dot",
                           "TFLOP (selection and training)", curves, ncurves, &written);
}

hvp_status hvp_sweep_run(const hvp_sweep *s, FILE *out, int *stopped)
{
    *stopped = 0;
    HVP_TRY(hvp_mkdirs(s->dir));
    sweep_run(*runs)[HVP_SWEEP_MAX_SEEDS] = calloc(HVP_SWEEP_MAX_CELLS, sizeof *runs);
    hvp_config *c = malloc(sizeof *c);
    if (!runs || !c) {
        free(runs);
        free(c);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    }
    hvp_status st = HVP_OK;
    for (int i = 0; st == HVP_OK && !*stopped && i < s->ncells; i++)
        for (int k = 0; st == HVP_OK && !*stopped && k < s->nseeds; k++) {
            char run_dir[LINE], done[LINE + 16];
            st = run_config(s, i, s->seeds[k], c, run_dir, sizeof run_dir);
            if (st != HVP_OK)
                break;
            snprintf(done, sizeof done, "%s/sweep_done", run_dir);
            if (file_exists(done)) { /* finished by an earlier invocation */
                if (out)
                    fprintf(out, "sweep: %s seed %d finished before: skipped\n", s->cells[i].name,
                            s->seeds[k]);
            } else {
                if (out)
                    fprintf(out, "sweep: %s seed %d -> %s\n", s->cells[i].name, s->seeds[k],
                            run_dir);
                hvp_train_result r;
                st = hvp_train(c, out, &r);
                *stopped = st == HVP_OK && r.stopped;
                if (st == HVP_OK && !*stopped) {
                    FILE *f = fopen(done, "w");
                    if (!f || fclose(f) != 0)
                        st = HVP_FAIL(HVP_ERR_IO, "%s: cannot write", done);
                }
            }
            read_run(run_dir, &runs[i][k]);
        }
    if (st == HVP_OK && !*stopped)
        st = write_table(s, runs, out);
    if (st == HVP_OK && !*stopped && out)
        fprintf(out, "sweep: %s/sweep.md, sweep.csv and accuracy_vs_flops.svg\n", s->dir);
    free(runs);
    free(c);
    return st;
}
