/* What a run reports: scalar metrics as CSV and JSON lines, TensorBoard event files
 * (written natively: TFRecord framing and a hand-encoded Event protobuf), and the
 * progress line. */
#ifndef HVP_LOGS_H
#define HVP_LOGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hvp/status.h"

/* ---- CSV and JSONL ----------------------------------------------------------------- */
/* One scalar of a row. Integral values (steps, epochs, counts) print without a point. */
typedef struct hvp_metric {
    const char *key;
    double value;
} hvp_metric;

typedef enum { HVP_METRICS_CSV, HVP_METRICS_JSONL } hvp_metrics_format;

typedef struct hvp_metrics hvp_metrics;

/* Opens path for appending. CSV: the header line is the first row's keys, or, when the
 * file already has one (a resumed run), that header; later rows must use those keys
 * (missing ones give empty cells, unknown ones are an error). JSONL: one object per row. */
hvp_status hvp_metrics_open(const char *path, hvp_metrics_format format, hvp_metrics **m);
hvp_status hvp_metrics_row(hvp_metrics *m, const hvp_metric *values, int n);
hvp_status hvp_metrics_close(hvp_metrics *m); /* NULL is fine */

/* ---- TensorBoard ------------------------------------------------------------------- */
/* CRC-32C (Castagnoli), and TFRecord's masked form ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t hvp_crc32c(const void *data, size_t n);
uint32_t hvp_crc32c_masked(const void *data, size_t n);

typedef struct hvp_tb hvp_tb;

/* Creates DIR/events.out.tfevents.<seconds>.<hostname> (DIR is created) and writes the
 * first event (file_version "brain.Event:2"). */
hvp_status hvp_tb_open(const char *dir, hvp_tb **tb);
/* One scalar summary event (wall_time now), flushed so TensorBoard sees it at once. */
hvp_status hvp_tb_scalar(hvp_tb *tb, const char *tag, int64_t step, double value);
hvp_status hvp_tb_flush(hvp_tb *tb);
hvp_status hvp_tb_close(hvp_tb *tb); /* NULL is fine */
const char *hvp_tb_path(const hvp_tb *tb);

/* ---- CSV back in, and SVG charts ---------------------------------------------------- */
/* A CSV file of numbers under a header line (what hvp_metrics writes); empty or
 * non-numeric cells are NAN. */
typedef struct hvp_csv {
    int ncols, nrows;
    char **names;
    double *v; /* row-major [nrows][ncols] */
} hvp_csv;
/* A missing file reads as no columns and no rows. */
hvp_status hvp_csv_read(const char *path, hvp_csv *t);
void hvp_csv_free(hvp_csv *t);
int hvp_csv_column(const hvp_csv *t, const char *name); /* -1 when absent */

/* One line of a chart: n points; id names its polyline (data-series), label the legend. */
typedef struct hvp_curve {
    const char *id, *label;
    int n;
    const double *x, *y;
} hvp_curve;
/* Column y against column x over the rows where both are finite (and y >= 0 when
 * skip_negative, for "not measured" cells); x and y are malloc'ed (hvp_curve_free).
 * Returns the number of points. id and label are left to the caller. */
int hvp_csv_curve(const hvp_csv *t, const char *x, const char *y, int skip_negative,
                  hvp_curve *c);
void hvp_curve_free(hvp_curve *c);
/* An SVG line chart at path; *written 0 (and no file) when no curve has a point. */
hvp_status hvp_chart_lines(const char *path, const char *title, const char *xlabel,
                           const hvp_curve *c, int nc, int *written);
/* An SVG bar chart at path, a bar per value with its label (and data-<attr> = value);
 * log_scale: bar heights by log10 (for values over orders of magnitude). */
hvp_status hvp_chart_bars(const char *path, const char *title, const char *attr, int n,
                          const char *const *labels, const double *values, int log_scale);

/* ---- report ------------------------------------------------------------------------ */
/* RUN_DIR/report/index.html with SVG plots beside it (loss and learning rate per step, kNN
 * top-1 with its values at initialisation and for raw pixels, the chosen pairs' loss
 * against all pairs', the last epoch's wins per pair of views) from the run's steps.csv,
 * epochs.csv and pair_wins.csv; views_image (a file in RUN_DIR/report, or NULL) is shown
 * too. out gets the HTML file's path. */
hvp_status hvp_report_write(const char *run_dir, const char *views_image, char *out,
                            size_t out_size);

/* ---- progress line ------------------------------------------------------------------- */
typedef struct hvp_progress {
    FILE *out;
    int in_place;   /* redraw with '\r' (a terminal) or print plain lines */
    int every;      /* plain lines: every N steps (and the last step of an epoch) */
    int64_t total_steps; /* of the whole run, for the ETA */
    double t_start, t_last;
    int64_t steps_done_start; /* global step when timing started */
    int64_t images_since_last;
    double img_per_s;
    int line_open;  /* a '\r' line is on screen */
} hvp_progress;

/* mode as log.progress (hvp_progress_mode): 0 auto (in place when out is a terminal),
 * 1 in place, 2 plain lines, 3 off (nothing is printed). */
void hvp_progress_init(hvp_progress *p, FILE *out, int mode, int every, int64_t total_steps,
                       int64_t first_step);
/* Called after every step with its global step (1-based count of steps done), the epoch
 * (1-based), the step within the epoch (1-based) of steps_per_epoch, loss, lr, and the
 * images the step processed. Draws when due. */
void hvp_progress_step(hvp_progress *p, int64_t global_step, int epoch, int epochs, int step,
                       int steps_per_epoch, double loss, double lr, int images);
/* Ends an in-place line with a newline (before other output, and at the end). */
void hvp_progress_break(hvp_progress *p);
/* The text of one line (no newline): "epoch 3/100 step 120/195 loss -0.8123 lr 0.0500
 * 812.4 img/s ETA 1:02:03". eta_s < 0 prints "ETA ?". */
const char *hvp_progress_format(char *buf, size_t size, int epoch, int epochs, int step,
                                int steps_per_epoch, double loss, double lr, double img_per_s,
                                double eta_s);

#endif
