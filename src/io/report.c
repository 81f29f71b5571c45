/* `hvp report`: a one-page HTML report of a run from its own logs (steps.csv, epochs.csv,
 * pair_wins.csv, local_wins.csv) with SVG plots beside it (src/io/chart.c), readable
 * without Python or a server. Each plotted series is a polyline whose points are the logged rows, in order, so
 * what the plot shows can be checked against the logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp/checkpoint.h"
#include "hvp/logs.h"

/* Column y of a CSV against x as a curve with an id (its column) and a legend label. */
static hvp_curve curve(const hvp_csv *t, const char *x, const char *y, const char *label,
                       int skip_negative)
{
    hvp_curve c;
    hvp_csv_curve(t, x, y, skip_negative, &c);
    c.id = y;
    c.label = label;
    return c;
}

static hvp_status lines(const char *dir, const char *name, const char *title, hvp_curve *c,
                        int nc, int *written)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hvp_status st = hvp_chart_lines(path, title, "step", c, nc, written);
    for (int i = 0; i < nc; i++)
        hvp_curve_free(&c[i]);
    return st;
}

/* Bars of the last epoch's wins (pair_wins.csv: per pair of views, labelled by
 * first_view,second_view; local_wins.csv: per local candidate, by local_view) into file. */
static hvp_status wins_chart(const char *dir, const hvp_csv *t, const char *col_a,
                             const char *col_b, const char *file, const char *what,
                             int *written)
{
    int ce = hvp_csv_column(t, "epoch"), ci = hvp_csv_column(t, col_a),
        cj = col_b ? hvp_csv_column(t, col_b) : -2, cw = hvp_csv_column(t, "wins");
    *written = 0;
    if (ce < 0 || ci < 0 || cj == -1 || cw < 0 || t->nrows == 0)
        return HVP_OK;
    double last = t->v[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)ce];
    char(*labels)[24] = calloc((size_t)t->nrows, sizeof *labels);
    const char **names = calloc((size_t)t->nrows, sizeof *names);
    double *wins = calloc((size_t)t->nrows, sizeof *wins);
    hvp_status st = labels && names && wins ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "report");
    int n = 0;
    for (int r = 0; st == HVP_OK && r < t->nrows; r++) {
        const double *row = t->v + (size_t)r * (size_t)t->ncols;
        if (row[ce] != last)
            continue;
        if (cj >= 0)
            snprintf(labels[n], sizeof labels[n], "%.0f,%.0f", row[ci], row[cj]);
        else
            snprintf(labels[n], sizeof labels[n], "%.0f", row[ci]);
        names[n] = labels[n];
        wins[n++] = row[cw];
    }
    char path[1200], title[160];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(title, sizeof title, "%s, epoch %.0f", what, last);
    if (st == HVP_OK)
        st = hvp_chart_bars(path, title, "wins", n, names, wins, 0);
    *written = st == HVP_OK;
    free(labels);
    free(names);
    free(wins);
    return st;
}

hvp_status hvp_report_write(const char *run_dir, const char *views_image, char *out,
                            size_t out_size)
{
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/report", run_dir);
    if (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot create the report folder %s", dir);
    hvp_csv steps, epochs, wins = {0}, local_wins = {0};
    snprintf(path, sizeof path, "%s/steps.csv", run_dir);
    HVP_TRY(hvp_csv_read(path, &steps));
    snprintf(path, sizeof path, "%s/epochs.csv", run_dir);
    hvp_status st = hvp_csv_read(path, &epochs);
    snprintf(path, sizeof path, "%s/pair_wins.csv", run_dir);
    if (st == HVP_OK)
        st = hvp_csv_read(path, &wins);
    snprintf(path, sizeof path, "%s/local_wins.csv", run_dir);
    if (st == HVP_OK)
        st = hvp_csv_read(path, &local_wins);
    if (st == HVP_OK && steps.nrows == 0 && epochs.nrows == 0)
        st = HVP_FAIL(HVP_ERR_NOTFOUND, "%s has no steps.csv or epochs.csv with rows (log.csv "
                      "= false, or not a run folder?)", run_dir);
    int has[6] = {0};
    hvp_curve loss[] = {curve(&steps, "step", "loss", "loss per step", 0),
                        curve(&epochs, "step", "loss", "mean loss per epoch", 0)};
    hvp_curve lr[] = {curve(&steps, "step", "lr", "learning rate", 0)};
    hvp_curve knn[] = {curve(&epochs, "step", "knn_top1", "kNN top-1 (%)", 1),
                       curve(&epochs, "step", "knn_init_top1", "at initialisation", 1),
                       curve(&epochs, "step", "knn_pixels_top1", "raw pixels", 1)};
    hvp_curve hvp[] = {curve(&epochs, "step", "hvp_chosen_loss", "chosen pairs", 1),
                       curve(&epochs, "step", "hvp_all_loss", "all pairs", 1)};
    loss[1].id = "epoch_loss";
    if (st == HVP_OK)
        st = lines(dir, "loss.svg", "training loss", loss, 2, &has[0]);
    if (st == HVP_OK)
        st = lines(dir, "lr.svg", "learning rate", lr, 1, &has[1]);
    if (st == HVP_OK)
        st = lines(dir, "knn.svg", "kNN top-1 on the test sample (%)", knn, 3, &has[2]);
    if (st == HVP_OK)
        st = lines(dir, "hvp_loss.svg", "hard view selection: mean loss of the chosen pairs "
                   "and of all pairs", hvp, 2, &has[3]);
    if (st == HVP_OK)
        st = wins_chart(dir, &wins, "first_view", "second_view", "pair_wins.svg",
                        "times each pair of views was the hardest", &has[4]);
    if (st == HVP_OK)
        st = wins_chart(dir, &local_wins, "local_view", NULL, "local_wins.svg",
                        "times each local candidate was kept", &has[5]);
    hvp_atomic_file af;
    snprintf(path, sizeof path, "%s/index.html", dir);
    if (st == HVP_OK)
        st = hvp_atomic_open(path, &af);
    if (st == HVP_OK) {
        static const char *const files[] = {"loss.svg", "lr.svg", "knn.svg", "hvp_loss.svg",
                                            "pair_wins.svg", "local_wins.svg"};
        fprintf(af.f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hvp run "
                      "%s</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>hvp "
                      "run %s</h1>\n", run_dir, run_dir);
        if (epochs.nrows > 0) {
            const double *last = epochs.v + (size_t)(epochs.nrows - 1) * (size_t)epochs.ncols;
            int c1 = hvp_csv_column(&epochs, "knn_top1"),
                ci = hvp_csv_column(&epochs, "knn_init_top1"),
                cp = hvp_csv_column(&epochs, "knn_pixels_top1");
            if (c1 >= 0 && last[c1] >= 0) {
                fprintf(af.f, "<p>kNN top-1 after training: <b>%.2f%%</b>", last[c1]);
                if (ci >= 0 && last[ci] >= 0)
                    fprintf(af.f, "; at initialisation %.2f%%", last[ci]);
                if (cp >= 0 && last[cp] >= 0)
                    fprintf(af.f, "; raw pixels on the same samples %.2f%%", last[cp]);
                fprintf(af.f, ".</p>\n");
            }
        }
        for (int i = 0; i < 6; i++)
            if (has[i])
                fprintf(af.f, "<p><img src=\"%s\" alt=\"%s\"></p>\n", files[i], files[i]);
        if (views_image)
            fprintf(af.f, "<h2>Views</h2>\n<p>Each row: an image, then the views the run's "
                          "config cuts from it.</p>\n<p><img src=\"%s\" alt=\"views\"></p>\n",
                    views_image);
        fprintf(af.f, "</body></html>\n");
        st = hvp_atomic_commit(&af);
    }
    hvp_csv_free(&steps);
    hvp_csv_free(&epochs);
    hvp_csv_free(&wins);
    hvp_csv_free(&local_wins);
    if (st == HVP_OK)
        snprintf(out, out_size, "%s", path);
    return st;
}
