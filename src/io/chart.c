/* Numeric CSV files back in, and SVG charts of them, for `hvp report` and
 * `hvp compare-devices`: viewable in any browser, no plotting library or Python. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/checkpoint.h"
#include "hvp/logs.h"

void hvp_csv_free(hvp_csv *t)
{
    for (int c = 0; c < t->ncols; c++)
        free(t->names[c]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

hvp_status hvp_csv_read(const char *path, hvp_csv *t)
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
    while (st == HVP_OK && t->ncols > 0 && fgets(line, sizeof line, f)) {
        double *grown = realloc(t->v, (size_t)(t->nrows + 1) * (size_t)t->ncols * sizeof *grown);
        if (!grown) {
            st = HVP_FAIL(HVP_ERR_NOMEM, "reading %s", path);
            break;
        }
        t->v = grown;
        double *row = t->v + (size_t)t->nrows * (size_t)t->ncols;
        const char *p = line;
        for (int c = 0; c < t->ncols; c++) {
            char *end;
            double x = p ? strtod(p, &end) : 0;
            row[c] = !p || end == p ? NAN : x;
            p = p ? strchr(p, ',') : NULL;
            p = p ? p + 1 : NULL;
        }
        t->nrows++;
    }
    fclose(f);
    if (st != HVP_OK)
        hvp_csv_free(t);
    return st;
}

int hvp_csv_column(const hvp_csv *t, const char *name)
{
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}

int hvp_csv_curve(const hvp_csv *t, const char *x, const char *y, int skip_negative,
                  hvp_curve *c)
{
    int cx = hvp_csv_column(t, x), cy = hvp_csv_column(t, y);
    c->n = 0;
    c->x = c->y = NULL;
    if (cx < 0 || cy < 0 || t->nrows == 0)
        return 0;
    double *xs = malloc((size_t)t->nrows * sizeof *xs), *ys = malloc((size_t)t->nrows * sizeof *ys);
    if (!xs || !ys) {
        free(xs);
        free(ys);
        return 0;
    }
    for (int r = 0; r < t->nrows; r++) {
        double a = t->v[(size_t)r * (size_t)t->ncols + (size_t)cx];
        double b = t->v[(size_t)r * (size_t)t->ncols + (size_t)cy];
        if (isfinite(a) && isfinite(b) && !(skip_negative && b < 0)) {
            xs[c->n] = a;
            ys[c->n++] = b;
        }
    }
    c->x = xs;
    c->y = ys;
    return c->n;
}

void hvp_curve_free(hvp_curve *c)
{
    free((void *)c->x);
    free((void *)c->y);
    c->x = c->y = NULL;
    c->n = 0;
}

enum { W = 640, H = 300, LEFT = 70, RIGHT = 20, TOP = 36, BOTTOM = 44 };

static const char *const palette[] = {"#4477aa", "#cc6677", "#228833", "#999933", "#aa3377",
                                      "#66ccee", "#ccbb44", "#bbbbbb"};
#define NCOLORS (int)(sizeof palette / sizeof palette[0])

static void header(FILE *f, const char *title)
{
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"20\" font-size=\"14\">%s</text>\n", W, H, LEFT, title);
}

hvp_status hvp_chart_lines(const char *path, const char *title, const char *xlabel,
                           const hvp_curve *c, int nc, int *written)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < nc; i++)
        for (int k = 0; k < c[i].n; k++) {
            x0 = fmin(x0, c[i].x[k]), x1 = fmax(x1, c[i].x[k]);
            y0 = fmin(y0, c[i].y[k]), y1 = fmax(y1, c[i].y[k]);
        }
    *written = x0 <= x1;
    if (!*written)
        return HVP_OK;
    if (x1 == x0)
        x1 = x0 + 1;
    if (y1 == y0)
        y1 = y0 + (y0 == 0 ? 1 : fabs(y0) * 0.1);
    double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
    /* room above the highest point for the legend's lines, so that they cover no point */
    double legend = 14.0 * nc + 4;
    if (legend < ph / 2)
        y1 += (y1 - y0) * legend / (ph - legend);
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    FILE *f = af.f;
    header(f, title);
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
    for (int i = 0; i < nc; i++) {
        const char *color = palette[i % NCOLORS];
        fprintf(f, "<polyline data-series=\"%s\" fill=\"none\" stroke=\"%s\" "
                   "stroke-width=\"1.5\" points=\"", c[i].id, color);
        for (int k = 0; k < c[i].n; k++)
            fprintf(f, "%.2f,%.2f ", LEFT + pw * (c[i].x[k] - x0) / (x1 - x0),
                    TOP + ph * (y1 - c[i].y[k]) / (y1 - y0));
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", W - RIGHT - 220,
                TOP + 14 + 14 * i, color, c[i].label);
        for (int k = 0; c[i].n <= 100 && k < c[i].n; k++) /* few points: mark each */
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                    LEFT + pw * (c[i].x[k] - x0) / (x1 - x0),
                    TOP + ph * (y1 - c[i].y[k]) / (y1 - y0), color);
    }
    fprintf(f, "</svg>\n");
    return hvp_atomic_commit(&af);
}

/* Horizontal bars, a row each with its label on the left: for long labels (tensor names). */
static hvp_status bars_across(const char *path, const char *title, const char *attr, int n,
                              const char *const *labels, const double *values, int log_scale,
                              double lo, double hi)
{
    enum { ROW = 18, NAMES = 330 };
    int height = TOP + ROW * n + 30;
    double pw = W - NAMES - RIGHT;
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    FILE *f = af.f;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "font-family=\"sans-serif\" font-size=\"11\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
               "<text x=\"10\" y=\"20\" font-size=\"14\">%s</text>\n", W, height, title);
    for (int k = 0; k <= 4; k++) {
        double gx = NAMES + pw * k / 4, gv = lo + (hi - lo) * k / 4;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                gx, TOP, gx, TOP + ROW * n, gx, TOP + ROW * n + 16, log_scale ? pow(10, gv) : gv);
    }
    for (int i = 0; i < n; i++) {
        double v = log_scale ? log10(fmax(values[i], 1e-30)) : values[i];
        double len = pw * (v - lo) / (hi - lo);
        int y = TOP + ROW * i;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.52s</text>"
                   "<rect data-%s=\"%.6g\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                   "fill=\"%s\"><title>%s: %.6g</title></rect>\n",
                NAMES - 6, y + ROW - 5, labels[i], attr, values[i], NAMES, y + 2,
                len > 0 ? len : 0, ROW - 4, palette[0], labels[i], values[i]);
    }
    fprintf(f, "</svg>\n");
    return hvp_atomic_commit(&af);
}

hvp_status hvp_chart_bars(const char *path, const char *title, const char *attr, int n,
                          const char *const *labels, const double *values, int log_scale)
{
    double top = log_scale ? -INFINITY : 0, bottom = log_scale ? INFINITY : 0;
    for (int i = 0; i < n; i++) {
        double v = log_scale ? log10(fmax(values[i], 1e-30)) : values[i];
        top = fmax(top, v);
        bottom = fmin(bottom, v);
    }
    if (n == 0 || !(top > bottom)) {
        top = bottom + 1;
    }
    if (log_scale)
        bottom = floor(bottom), top = ceil(top) > bottom ? ceil(top) : bottom + 1;
    size_t longest = 0;
    for (int i = 0; i < n; i++)
        longest = strlen(labels[i]) > longest ? strlen(labels[i]) : longest;
    if (n > 0 && longest * 6 > (size_t)((W - LEFT - RIGHT) / n)) /* names under bars collide */
        return bars_across(path, title, attr, n, labels, values, log_scale, bottom, top);
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    FILE *f = af.f;
    double pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM, bw = n > 0 ? pw / n : pw;
    header(f, title);
    for (int k = 0; k <= 4; k++) {
        double gy = TOP + ph * k / 4, gv = top - (top - bottom) * k / 4;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
                LEFT, gy, W - RIGHT, gy, LEFT - 6, gy + 4, log_scale ? pow(10, gv) : gv);
    }
    for (int i = 0; i < n; i++) {
        double v = log_scale ? log10(fmax(values[i], 1e-30)) : values[i];
        double h = ph * (v - bottom) / (top - bottom), x = LEFT + bw * i;
        fprintf(f, "<rect data-%s=\"%.6g\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"%s\"><title>%s: %.6g</title></rect>",
                attr, values[i], x + 1, TOP + ph - h, bw - 2 > 1 ? bw - 2 : 1, h, palette[0],
                labels[i], values[i]);
        if (n <= 32)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%s"
                       "</text>", x + bw / 2, H - BOTTOM + 14, labels[i]);
        fprintf(f, "\n");
    }
    fprintf(f, "</svg>\n");
    return hvp_atomic_commit(&af);
}
