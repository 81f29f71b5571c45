/* Scalar metrics as CSV (header from the first row) and JSON lines, flushed per row. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/checkpoint.h" /* hvp_atomic_* */
#include "hvp/logs.h"

#define MAX_COLUMNS 256

struct hvp_metrics {
    FILE *f;
    char *path;
    hvp_metrics_format format;
    char *columns[MAX_COLUMNS]; /* CSV header, once known */
    int ncolumns;
    int rows; /* written by this writer */
};

static void format_value(double v, int json, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "%s", json ? "null" : isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, size, "%.0f", v);
    else
        snprintf(buf, size, "%.10g", v);
}

static int valid_key(const char *k)
{
    return k && *k && !strpbrk(k, ",\"\\\n\r");
}

/* Reads the header of an existing CSV file into m->columns. */
static hvp_status read_header(hvp_metrics *m)
{
    FILE *f = fopen(m->path, "r");
    if (!f)
        return HVP_OK; /* new file */
    char line[8192];
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return HVP_OK; /* empty */
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    for (char *save = NULL, *tok = strtok_r(line, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (m->ncolumns == MAX_COLUMNS)
            return HVP_FAIL(HVP_ERR_FORMAT, "%s: more than %d columns", m->path, MAX_COLUMNS);
        if (!(m->columns[m->ncolumns++] = strdup(tok)))
            return HVP_FAIL(HVP_ERR_NOMEM, "metrics header");
    }
    return HVP_OK;
}

hvp_status hvp_metrics_open(const char *path, hvp_metrics_format format, hvp_metrics **out)
{
    *out = NULL;
    hvp_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return HVP_FAIL(HVP_ERR_NOMEM, "metrics writer");
    }
    m->format = format;
    hvp_status st = format == HVP_METRICS_CSV ? read_header(m) : HVP_OK;
    if (st == HVP_OK && !(m->f = fopen(path, "a")))
        st = HVP_FAIL(HVP_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (st != HVP_OK) {
        hvp_metrics_close(m);
        return st;
    }
    *out = m;
    return HVP_OK;
}

/* A run resumed by a newer hvp logs columns the file's header lacks: before this writer's
 * first row, the file is rewritten (atomically) with them appended to the header and left
 * empty in its earlier rows. Later, a new column is a caller's mistake. */
static hvp_status widen_header(hvp_metrics *m, const hvp_metric *v, int n)
{
    int old = m->ncolumns;
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int c = 0; c < m->ncolumns && !found; c++)
            found = strcmp(m->columns[c], v[i].key) == 0;
        if (found)
            continue;
        if (m->ncolumns == MAX_COLUMNS)
            return HVP_FAIL(HVP_ERR_ARG, "%s: more than %d columns", m->path, MAX_COLUMNS);
        if (!(m->columns[m->ncolumns] = strdup(v[i].key)))
            return HVP_FAIL(HVP_ERR_NOMEM, "metrics header");
        m->ncolumns++;
    }
    if (m->ncolumns == old)
        return HVP_OK;
    fclose(m->f);
    m->f = NULL;
    FILE *in = fopen(m->path, "r");
    if (!in)
        return HVP_FAIL(HVP_ERR_IO, "cannot read '%s': %s", m->path, strerror(errno));
    hvp_atomic_file af;
    hvp_status st = hvp_atomic_open(m->path, &af);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    for (int first = 1; st == HVP_OK && (len = getline(&line, &cap, in)) > 0; first = 0) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line)
            continue;
        fputs(line, af.f);
        for (int c = old; c < m->ncolumns; c++)
            fprintf(af.f, ",%s", first ? m->columns[c] : "");
        fputc('\n', af.f);
    }
    free(line);
    int bad = ferror(in);
    fclose(in);
    if (st == HVP_OK && bad) {
        hvp_atomic_abort(&af);
        st = HVP_FAIL(HVP_ERR_IO, "cannot read '%s'", m->path);
    }
    if (st == HVP_OK)
        st = hvp_atomic_commit(&af);
    if (st == HVP_OK && !(m->f = fopen(m->path, "a")))
        st = HVP_FAIL(HVP_ERR_IO, "cannot open '%s': %s", m->path, strerror(errno));
    return st;
}

static hvp_status write_csv(hvp_metrics *m, const hvp_metric *v, int n)
{
    if (m->ncolumns > 0 && m->rows == 0)
        HVP_TRY(widen_header(m, v, n));
    if (m->ncolumns == 0) {
        if (n > MAX_COLUMNS)
            return HVP_FAIL(HVP_ERR_ARG, "%s: more than %d columns", m->path, MAX_COLUMNS);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++)
                if (strcmp(v[i].key, v[j].key) == 0)
                    return HVP_FAIL(HVP_ERR_ARG, "%s: column '%s' given twice", m->path, v[i].key);
            if (!(m->columns[i] = strdup(v[i].key)))
                return HVP_FAIL(HVP_ERR_NOMEM, "metrics header");
            m->ncolumns = i + 1;
            fprintf(m->f, "%s%s", i ? "," : "", v[i].key);
        }
        fputc('\n', m->f);
    }
    /* every key must be a column */
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int c = 0; c < m->ncolumns && !found; c++)
            found = strcmp(m->columns[c], v[i].key) == 0;
        if (!found)
            return HVP_FAIL(HVP_ERR_ARG, "%s: '%s' is not a column of this file (its header "
                            "was fixed by the first row)", m->path, v[i].key);
    }
    for (int c = 0; c < m->ncolumns; c++) {
        if (c)
            fputc(',', m->f);
        for (int i = 0; i < n; i++)
            if (strcmp(m->columns[c], v[i].key) == 0) {
                char buf[64];
                format_value(v[i].value, 0, buf, sizeof buf);
                fputs(buf, m->f);
                break;
            }
    }
    fputc('\n', m->f);
    m->rows++;
    return HVP_OK;
}

static void write_jsonl(hvp_metrics *m, const hvp_metric *v, int n)
{
    fputc('{', m->f);
    for (int i = 0; i < n; i++) {
        char buf[64];
        format_value(v[i].value, 1, buf, sizeof buf);
        fprintf(m->f, "%s\"%s\": %s", i ? ", " : "", v[i].key, buf);
    }
    fputs("}\n", m->f);
}

hvp_status hvp_metrics_row(hvp_metrics *m, const hvp_metric *values, int n)
{
    if (n <= 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: empty row", m->path);
    for (int i = 0; i < n; i++)
        if (!valid_key(values[i].key))
            return HVP_FAIL(HVP_ERR_ARG, "%s: invalid metric name '%s' (empty, or with a comma, "
                            "quote, backslash or newline)", m->path, values[i].key ? values[i].key : "(null)");
    if (m->format == HVP_METRICS_CSV)
        HVP_TRY(write_csv(m, values, n));
    else
        write_jsonl(m, values, n);
    if (fflush(m->f) != 0 || ferror(m->f))
        return HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", m->path, strerror(errno));
    return HVP_OK;
}

hvp_status hvp_metrics_close(hvp_metrics *m)
{
    if (!m)
        return HVP_OK;
    hvp_status st = HVP_OK;
    if (m->f && fclose(m->f) != 0)
        st = HVP_FAIL(HVP_ERR_IO, "closing '%s': %s", m->path, strerror(errno));
    for (int i = 0; i < m->ncolumns; i++)
        free(m->columns[i]);
    free(m->path);
    free(m);
    return st;
}
