/* `hvp report`: a one-page HTML report of a run from its own logs (steps.csv, epochs.csv,
 * pair_wins.csv) with SVG plots beside it, readable without Python or a server. Each
 * plotted series is a polyline whose points are the logged rows, in order, so what the
 * plot shows can be checked against the logs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvp/checkpoint.h"
#include "hvp/logs.h"

/* A CSV file of numbers with a header line; empty cells are NAN. */
typedef struct table {
    int ncols, nrows;
    char **names;
    double *v; /* row-major [nrows][ncols] */
} table;

static void table_free(table *t)
{
    for (int c = 0; c < t->ncols; c++)
        free(t->names[c]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* Reads path into t; a missing file gives an empty table. */
static hvp_status table_read(const char *path, table *t)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f)
        return HVP_OK;
    char line[4096];
    hvp_status st = HVP_OK;
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        for (char *tok = strtok(line, ","); tok && st == HVP_OK; tok = strtok(NULL, ",")) {
            char **grown = realloc(t->names, (size_t)(t->ncols + 1) * sizeof *grown);
            if (!grown || !(grown[t->ncols] = strdup(tok)))
                st = HVP_FAIL(HVP_ERR_NOMEM, "reading %s", path);
            if (grown)
                t->names = grown;
            if (st == HVP_OK)
                t->ncols++;
        }
    }
    while (st == HVP_OK && fgets(line, sizeof line, f)) {
        double *grown = realloc(t->v, (size_t)(t->nrows + 1) * (size_t)t->ncols * sizeof *grown);
        if (!grown) {
            st = HVP_FAIL(HVP_ERR_NOMEM, "reading %s", path);
            break;
        }
        t->v = grown;
        double *row = t->v + (size_t)t->nrows * (size_t)t->ncols;
        char *p = line;
        for (int c = 0; c < t->ncols; c++) {
            char *end;
            double x = strtod(p, &end);
            row[c] = end == p ? NAN : x;
            p = strchr(end, ',');
            if (!p) {
                for (int r = c + 1; r < t->ncols; r++)
                    row[r] = NAN;
                break;
            }
            p++;
        }
        t->nrows++;
    }
    fclose(f);
    if (st != HVP_OK)
        table_free(t);
    return st;
}

static int column(const table *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

/* One line of a chart: column y against column x of a table; values < 0 mean "not
 * measured" where skip_negative is set (kNN of epochs without evaluation). */
typedef struct series {
    const table *t;
    const char *x, *y, *label, *color;
    int skip_negative;
} series;

enum { W = 640, H = 300, LEFT = 70, RIGHT = 20, TOP = 36, BOTTOM = 44 };

static int usable(const series *s, int r, double *x, double *y)
{
    int cx = column(s->t, s->x), cy = column(s->t, s->y);
    if (cx < 0 || cy < 0)
        return 0;
    *x = s->t->v[(size_t)r * (size_t)s->t->ncols + (size_t)cx];
    *y = s->t->v[(size_t)r * (size_t)s->t->ncols + (size_t)cy];
    return isfinite(*x) && isfinite(*y) && !(s->skip_negative && *y < 0);
}

/* A line chart of the series into dir/name; 0 when no series has a point (no file). */
static hvp_status line_chart(const char *dir, const char *name, const char *title,
                             const char *xlabel, const series *s, int ns, int *written)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY, x, y;
    for (int i = 0; i < ns; i++)
        for (int r = 0; r < s[i].t->nrows; r++)
            if (usable(&s[i], r, &x, &y)) {
                x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
            }
    *written = x0 <= x1;
    if (!*written)
        return HVP_OK;
    if (x1 == x0)
        x1 = x0 + 1;
    if (y1 == y0)
        y1 = y0 + (y0 == 0 ? 1 : fabs(y0) * 0.1);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    FILE *f = af.f;
    double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"14\">%s</text>\n", LEFT, title);
    for (int k = 0; k <= 4; k++) { /* grid lines with their values */
        double gy = TOP + ph * k / 4, gv = y1 - (y1 - y0) * k / 4;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n",
                LEFT, gy, W - RIGHT, gy, LEFT - 6, gy + 4, gv);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\">%.6g</text><text x=\"%d\" y=\"%d\" "
               "text-anchor=\"end\">%.6g</text><text x=\"%.1f\" y=\"%d\" "
               "text-anchor=\"middle\">%s</text>\n",
            LEFT, H - BOTTOM + 16, x0, W - RIGHT, H - BOTTOM + 16, x1, LEFT + pw / 2, H - 8,
            xlabel);
    for (int i = 0; i < ns; i++) {
        fprintf(f, "<polyline data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
                   "stroke-width=\"1.5\" points=\"", s[i].y, s[i].color);
        for (int r = 0; r < s[i].t->nrows; r++)
            if (usable(&s[i], r, &x, &y))
                fprintf(f, "%.2f,%.2f ", LEFT + pw * (x - x0) / (x1 - x0),
                        TOP + ph * (y1 - y) / (y1 - y0));
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n",
                W - RIGHT - 200, TOP + 14 + 14 * i, s[i].color, s[i].label);
        if (s[i].t->nrows <= 100) /* few points (per epoch): mark each, one alone shows */
            for (int r = 0; r < s[i].t->nrows; r++)
                if (usable(&s[i], r, &x, &y))
                    fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                            LEFT + pw * (x - x0) / (x1 - x0), TOP + ph * (y1 - y) / (y1 - y0),
                            s[i].color);
    }
    fprintf(f, "</svg>\n");
    return hvp_atomic_commit(&af);
}

/* Bars of the last epoch's wins per pair of views (pair_wins.csv). */
static hvp_status wins_chart(const char *dir, const table *t, int *written)
{
    int ce = column(t, "epoch"), ci = column(t, "first_view"), cj = column(t, "second_view"),
        cw = column(t, "wins");
    *written = 0;
    if (ce < 0 || ci < 0 || cj < 0 || cw < 0 || t->nrows == 0)
        return HVP_OK;
    double last = t->v[(size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)ce], top = 1;
    int n = 0;
    for (int r = 0; r < t->nrows; r++) {
        const double *row = t->v + (size_t)r * (size_t)t->ncols;
        if (row[ce] == last) {
            n++;
            top = fmax(top, row[cw]);
        }
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/pair_wins.svg", dir);
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    FILE *f = af.f;
    double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM, bw = pw / n;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"14\">times each pair of views was the "
               "hardest, epoch %.0f (most: %.0f)</text>\n", LEFT, last, top);
    int k = 0;
    for (int r = 0; r < t->nrows; r++) {
        const double *row = t->v + (size_t)r * (size_t)t->ncols;
        if (row[ce] != last)
            continue;
        double h = ph * row[cw] / top, x = LEFT + bw * k++;
        fprintf(f, "<rect data-wins=\"%.0f\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                   "height=\"%.1f\" fill=\"#4477aa\"/>", row[cw], x + 1, TOP + ph - h,
                bw - 2 > 1 ? bw - 2 : 1, h);
        if (n <= 32)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f,%.0f</text>",
                    x + bw / 2, H - BOTTOM + 14, row[ci], row[cj]);
        fprintf(f, "\n");
    }
    fprintf(f, "</svg>\n");
    *written = 1;
    return hvp_atomic_commit(&af);
}

hvp_status hvp_report_write(const char *run_dir, const char *views_image, char *out,
                            size_t out_size)
{
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/report", run_dir);
    if (mkdir(dir, 0755) != 0 && access(dir, W_OK) != 0)
        return HVP_FAIL(HVP_ERR_IO, "cannot create the report folder %s", dir);
    table steps, epochs, wins;
    snprintf(path, sizeof path, "%s/steps.csv", run_dir);
    HVP_TRY(table_read(path, &steps));
    snprintf(path, sizeof path, "%s/epochs.csv", run_dir);
    hvp_status st = table_read(path, &epochs);
    snprintf(path, sizeof path, "%s/pair_wins.csv", run_dir);
    if (st == HVP_OK)
        st = table_read(path, &wins);
    if (st == HVP_OK && steps.nrows == 0 && epochs.nrows == 0)
        st = HVP_FAIL(HVP_ERR_NOTFOUND, "%s has no steps.csv or epochs.csv with rows (log.csv "
                      "= false, or not a run folder?)", run_dir);
    int has[5] = {0};
    const series loss[] = {{&steps, "step", "loss", "loss per step", "#4477aa", 0},
                           {&epochs, "step", "loss", "mean loss per epoch", "#cc6677", 0}};
    const series lr[] = {{&steps, "step", "lr", "learning rate", "#228833", 0}};
    const series knn[] = {{&epochs, "step", "knn_top1", "kNN top-1 (%)", "#4477aa", 1},
                          {&epochs, "step", "knn_init_top1", "at initialisation", "#999933", 1},
                          {&epochs, "step", "knn_pixels_top1", "raw pixels", "#cc6677", 1}};
    const series hvp[] = {{&epochs, "step", "hvp_chosen_loss", "chosen pairs", "#cc6677", 1},
                          {&epochs, "step", "hvp_all_loss", "all pairs", "#4477aa", 1}};
    if (st == HVP_OK)
        st = line_chart(dir, "loss.svg", "training loss", "step", loss, 2, &has[0]);
    if (st == HVP_OK)
        st = line_chart(dir, "lr.svg", "learning rate", "step", lr, 1, &has[1]);
    if (st == HVP_OK)
        st = line_chart(dir, "knn.svg", "kNN top-1 on the test sample (%)", "step", knn, 3,
                        &has[2]);
    if (st == HVP_OK)
        st = line_chart(dir, "hvp_loss.svg", "hard view selection: mean loss of the chosen "
                        "pairs and of all pairs", "step", hvp, 2, &has[3]);
    if (st == HVP_OK)
        st = wins_chart(dir, &wins, &has[4]);
    hvp_atomic_file af;
    snprintf(path, sizeof path, "%s/index.html", dir);
    if (st == HVP_OK)
        st = hvp_atomic_open(path, &af);
    if (st == HVP_OK) {
        static const char *const files[] = {"loss.svg", "lr.svg", "knn.svg", "hvp_loss.svg",
                                            "pair_wins.svg"};
        fprintf(af.f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>hvp run "
                      "%s</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>hvp "
                      "run %s</h1>\n", run_dir, run_dir);
        if (epochs.nrows > 0) {
            const double *last = epochs.v + (size_t)(epochs.nrows - 1) * (size_t)epochs.ncols;
            int c1 = column(&epochs, "knn_top1"), ci = column(&epochs, "knn_init_top1"),
                cp = column(&epochs, "knn_pixels_top1");
            if (c1 >= 0 && last[c1] >= 0) {
                fprintf(af.f, "<p>kNN top-1 after training: <b>%.2f%%</b>", last[c1]);
                if (ci >= 0 && last[ci] >= 0)
                    fprintf(af.f, "; at initialisation %.2f%%", last[ci]);
                if (cp >= 0 && last[cp] >= 0)
                    fprintf(af.f, "; raw pixels on the same samples %.2f%%", last[cp]);
                fprintf(af.f, ".</p>\n");
            }
        }
        for (int i = 0; i < 5; i++)
            if (has[i])
                fprintf(af.f, "<p><img src=\"%s\" alt=\"%s\"></p>\n", files[i], files[i]);
        if (views_image)
            fprintf(af.f, "<h2>Views</h2>\n<p>Each row: an image, then the views the run's "
                          "config cuts from it.</p>\n<p><img src=\"%s\" alt=\"views\"></p>\n",
                    views_image);
        fprintf(af.f, "</body></html>\n");
        st = hvp_atomic_commit(&af);
    }
    table_free(&steps);
    table_free(&epochs);
    table_free(&wins);
    if (st == HVP_OK)
        snprintf(out, out_size, "%s", path);
    return st;
}
