/* Config loading and validation against the key table (config_keys.c). iniparser reads
 * the values; a small scan of the file of our own finds the line of every (section, key),
 * which iniparser does not keep, and reports syntax errors and duplicates with lines. */
#include <ctype.h>
#include <errno.h>
#include <iniparser.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/nn.h"

_Static_assert(sizeof(hvp_data_format) == sizeof(int) && sizeof(hvp_optim_kind) == sizeof(int),
               "enum fields are stored as int");

static void *field(hvp_config *c, const hvp_config_key *k) { return (char *)c + k->offset; }
static const void *cfield(const hvp_config *c, const hvp_config_key *k)
{
    return (const char *)c + k->offset;
}

static int key_index(const hvp_config_key *k) { return (int)(k - hvp_config_keys); }

const hvp_config_key *hvp_config_find(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot)
        return NULL;
    size_t slen = (size_t)(dot - name);
    for (int i = 0; i < hvp_config_nkeys; i++) {
        const hvp_config_key *k = &hvp_config_keys[i];
        if (strlen(k->section) == slen && strncasecmp(k->section, name, slen) == 0 &&
            strcasecmp(k->key, dot + 1) == 0)
            return k;
    }
    return NULL;
}

static int known_section(const char *s)
{
    for (int i = 0; hvp_config_sections[i]; i++)
        if (strcasecmp(hvp_config_sections[i], s) == 0)
            return 1;
    return 0;
}

int hvp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return 1000;
    int prev[128], cur[128];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(int));
    }
    return prev[lb];
}

/* One of a and b begins with the other (at least 3 characters). */
static int is_prefix(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
    return n >= 3 && strncasecmp(a, b, n) == 0;
}

/* " Did you mean 'optim.lr'?" for the closest key, or "" when nothing is close. The key's
 * name alone (in any section) counts as much as the full name. */
static const char *suggest_key(const char *section, const char *key, char *buf, size_t size)
{
    char full[256];
    snprintf(full, sizeof full, "%s.%s", section, key);
    int best = 1000;
    const hvp_config_key *bk = NULL;
    for (int i = 0; i < hvp_config_nkeys; i++) {
        const hvp_config_key *k = &hvp_config_keys[i];
        char kf[256];
        snprintf(kf, sizeof kf, "%s.%s", k->section, k->key);
        int d = hvp_edit_distance(full, kf);
        int dk = hvp_edit_distance(key, k->key) + (strcasecmp(section, k->section) != 0);
        if (dk < d)
            d = dk;
        if (is_prefix(key, k->key) && d > 1)
            d = 1; /* "batch" for "batch_size" */
        if (d < best) {
            best = d;
            bk = k;
        }
    }
    size_t len = strlen(key);
    int limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    if (bk && best <= limit)
        snprintf(buf, size, " Did you mean '%s.%s'?", bk->section, bk->key);
    else if (buf && size)
        buf[0] = 0;
    return buf;
}

static const char *suggest_section(const char *section, char *buf, size_t size)
{
    int best = 1000;
    const char *bs = NULL;
    for (int i = 0; hvp_config_sections[i]; i++) {
        int d = hvp_edit_distance(section, hvp_config_sections[i]);
        if (is_prefix(section, hvp_config_sections[i]))
            d = 1; /* "optimizer" for "optim" */
        if (d < best) {
            best = d;
            bs = hvp_config_sections[i];
        }
    }
    if (bs && best <= 3)
        snprintf(buf, size, " Did you mean [%s]?", bs);
    else
        buf[0] = 0;
    return buf;
}

/* "FILE:LINE" or "command line". */
static const char *place(const char *where, int line, char *buf, size_t size)
{
    if (line > 0)
        snprintf(buf, size, "%s:%d", where, line);
    else
        snprintf(buf, size, "%s", where);
    return buf;
}

/* The expected form of a key's value, for messages and --help-config. */
static const char *expected_form(const hvp_config_key *k, char *buf, size_t size)
{
    switch (k->type) {
    case HVP_CFG_INT:
        snprintf(buf, size, "an integer in [%.0f, %.0f]", k->min, k->max);
        break;
    case HVP_CFG_FLOAT:
        snprintf(buf, size, "a number in [%g, %g]", k->min, k->max);
        break;
    case HVP_CFG_BOOL:
        snprintf(buf, size, "true or false");
        break;
    case HVP_CFG_STRING:
        snprintf(buf, size, "a string without quotes or newlines");
        break;
    case HVP_CFG_ENUM: {
        size_t n = (size_t)snprintf(buf, size, "one of ");
        for (int i = 0; k->choices[i] && n < size; i++)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "|" : "", k->choices[i]);
        break;
    }
    case HVP_CFG_FLOATS:
        if (k->min_count == k->max_count)
            snprintf(buf, size, "%d comma-separated numbers in [%g, %g]", k->min_count, k->min, k->max);
        else
            snprintf(buf, size, "%d to %d comma-separated numbers in [%g, %g]", k->min_count,
                     k->max_count, k->min, k->max);
        break;
    }
    return buf;
}

static int parse_double(const char *s, double *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno == ERANGE || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Parses text into a temporary of the key's type; 0 if malformed or out of range. */
static int parse_value(const hvp_config_key *k, const char *text, void *dst)
{
    switch (k->type) {
    case HVP_CFG_INT: {
        const char *s = text;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            return 0;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end || errno == ERANGE || (double)v < k->min || (double)v > k->max)
            return 0;
        *(int *)dst = (int)v;
        return 1;
    }
    case HVP_CFG_FLOAT: {
        double v;
        if (!parse_double(text, &v) || v < k->min || v > k->max)
            return 0;
        *(double *)dst = v;
        return 1;
    }
    case HVP_CFG_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1", NULL};
        static const char *const no[] = {"false", "no", "off", "0", NULL};
        char t[16];
        size_t n = 0;
        for (const char *s = text; *s && n + 1 < sizeof t; s++)
            if (!isspace((unsigned char)*s))
                t[n++] = *s;
        t[n] = 0;
        for (int i = 0; yes[i]; i++)
            if (strcasecmp(t, yes[i]) == 0)
                return *(int *)dst = 1, 1;
        for (int i = 0; no[i]; i++)
            if (strcasecmp(t, no[i]) == 0)
                return *(int *)dst = 0, 1;
        return 0;
    }
    case HVP_CFG_STRING:
        if (strlen(text) >= HVP_CFG_STR || strpbrk(text, "\"\n\r"))
            return 0;
        strcpy(dst, text);
        return 1;
    case HVP_CFG_ENUM: {
        char t[64];
        size_t n = 0;
        for (const char *s = text; *s && n + 1 < sizeof t; s++)
            if (!isspace((unsigned char)*s))
                t[n++] = *s;
        t[n] = 0;
        for (int i = 0; k->choices[i]; i++)
            if (strcasecmp(t, k->choices[i]) == 0)
                return *(int *)dst = i, 1;
        return 0;
    }
    case HVP_CFG_FLOATS: {
        hvp_cfg_floats f = {0};
        const char *s = text;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            char item[64];
            if (len >= sizeof item || f.n == HVP_CFG_LIST_MAX)
                return 0;
            memcpy(item, s, len);
            item[len] = 0;
            double v;
            if (!parse_double(item, &v) || v < k->min || v > k->max)
                return 0;
            f.v[f.n++] = v;
            if (!comma)
                break;
            s = comma + 1;
        }
        if (f.n < k->min_count || f.n > k->max_count)
            return 0;
        *(hvp_cfg_floats *)dst = f;
        return 1;
    }
    }
    return 0;
}

static void store(hvp_config *c, const hvp_config_key *k, const void *tmp)
{
    size_t size = 0;
    switch (k->type) {
    case HVP_CFG_INT:
    case HVP_CFG_BOOL:
    case HVP_CFG_ENUM: size = sizeof(int); break;
    case HVP_CFG_FLOAT: size = sizeof(double); break;
    case HVP_CFG_STRING: size = strlen(tmp) + 1; break;
    case HVP_CFG_FLOATS: size = sizeof(hvp_cfg_floats); break;
    }
    memcpy(field(c, k), tmp, size);
}

void hvp_config_defaults(hvp_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < hvp_config_nkeys; i++) {
        const hvp_config_key *k = &hvp_config_keys[i];
        union {
            int i;
            double d;
            hvp_cfg_floats f;
            char s[HVP_CFG_STR];
        } tmp;
        if (!parse_value(k, k->def, &tmp)) {
            /* A broken table is a programming error that the tests catch. */
            fprintf(stderr, "hvp: bad default '%s' for %s.%s\n", k->def, k->section, k->key);
            abort();
        }
        store(c, k, &tmp);
    }
}

hvp_status hvp_config_set(hvp_config *c, const char *section, const char *key,
                          const char *value, const char *where, int line)
{
    char at[HVP_CFG_STR + 32], hint[128];
    place(where, line, at, sizeof at);
    if (!known_section(section))
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: unknown section [%s].%s", at, section,
                        suggest_section(section, hint, sizeof hint));
    char full[256];
    snprintf(full, sizeof full, "%s.%s", section, key);
    const hvp_config_key *k = hvp_config_find(full);
    if (!k)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: unknown key '%s' in [%s].%s", at, key, section,
                        suggest_key(section, key, hint, sizeof hint));
    union {
        int i;
        double d;
        hvp_cfg_floats f;
        char s[HVP_CFG_STR];
    } tmp;
    if (!parse_value(k, value, &tmp)) {
        char form[256];
        const char *extra = "";
        if (k->type == HVP_CFG_ENUM) {
            /* the nearest allowed name, for "resnet15" and the like */
            int best = 1000;
            for (int i = 0; k->choices[i]; i++) {
                int d = hvp_edit_distance(value, k->choices[i]);
                if (d < best) {
                    best = d;
                    snprintf(hint, sizeof hint, " Did you mean '%s'?", k->choices[i]);
                }
            }
            if (best <= 2)
                extra = hint;
        }
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: %s.%s = '%s': expected %s.%s", at, k->section,
                        k->key, value, expected_form(k, form, sizeof form), extra);
    }
    store(c, k, &tmp);
    int i = key_index(k);
    c->from[i] = (unsigned char)(line > 0 ? HVP_CFG_FROM_FILE : HVP_CFG_FROM_CLI);
    c->line[i] = line;
    return HVP_OK;
}

/* ---- the file scan: (section, key) -> line ---------------------------------------- */
typedef struct scan_entry {
    char section[64], key[128];
    int line;
    int is_section;
} scan_entry;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Reads path into a list of sections and keys in file order, with lines; syntax errors
 * and duplicate keys are reported with their lines. */
/* A value that starts with a quote and has no closing one (iniparser would take the rest
 * of the line, quote included, without a word). */
static int unterminated_quote(const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    return (*value == '"' || *value == '\'') && !strchr(value + 1, *value);
}

static hvp_status scan_file(const char *path, scan_entry **out, int *count)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return HVP_FAIL(HVP_ERR_IO, "cannot open config '%s': %s", path, strerror(errno));
    scan_entry *e = NULL;
    int n = 0, cap = 0, lineno = 0, continued = 0;
    char section[64] = "";
    char buf[4096];
    hvp_status st = HVP_OK;
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = trim(buf);
        int was_continued = continued;
        len = strlen(s);
        continued = len > 0 && s[len - 1] == '\\';
        if (was_continued || !*s || *s == ';' || *s == '#')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            scan_entry *ne = realloc(e, (size_t)cap * sizeof *e);
            if (!ne) {
                st = HVP_FAIL(HVP_ERR_NOMEM, "reading '%s'", path);
                break;
            }
            e = ne;
        }
        scan_entry *it = &e[n];
        memset(it, 0, sizeof *it);
        it->line = lineno;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) {
                st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: section header without ']': %s", path,
                              lineno, s);
                break;
            }
            *close = 0;
            char *name = trim(s + 1);
            if (strlen(name) >= sizeof section) {
                st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: section name too long", path, lineno);
                break;
            }
            strcpy(section, name);
            lower(section);
            strcpy(it->section, section);
            it->is_section = 1;
            n++;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            st = HVP_FAIL(HVP_ERR_FORMAT,
                          "%s:%d: expected 'key = value' or '[section]', found '%s'", path,
                          lineno, s);
            break;
        }
        *eq = 0;
        char *key = trim(s);
        if (!*key || strlen(key) >= sizeof it->key) {
            st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: missing or overlong key before '='", path,
                          lineno);
            break;
        }
        if (!*section) {
            st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: key '%s' before any [section]", path, lineno,
                          key);
            break;
        }
        if (!continued && unterminated_quote(eq + 1)) {
            st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: the value of %s.%s opens a quote that it "
                          "never closes: %s", path, lineno, section, key, trim(eq + 1));
            break;
        }
        strcpy(it->key, key);
        lower(it->key);
        strcpy(it->section, section);
        for (int j = 0; j < n; j++)
            if (!e[j].is_section && strcmp(e[j].section, section) == 0 &&
                strcmp(e[j].key, it->key) == 0) {
                st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: duplicate key %s.%s (first set on line %d)",
                              path, lineno, section, it->key, e[j].line);
                break;
            }
        if (st != HVP_OK)
            break;
        n++;
    }
    if (st == HVP_OK && ferror(f))
        st = HVP_FAIL(HVP_ERR_IO, "reading '%s': %s", path, strerror(errno));
    fclose(f);
    if (st != HVP_OK) {
        free(e);
        return st;
    }
    *out = e;
    *count = n;
    return HVP_OK;
}

/* iniparser reports through one process-wide callback that takes no user pointer, so its
 * message lands here: load configs from one thread at a time. */
static char ini_message[512];
static int ini_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ini_message, sizeof ini_message, fmt, ap);
    va_end(ap);
    return n;
}

hvp_status hvp_config_load(const char *path, hvp_config *c)
{
    hvp_config_defaults(c);
    if (strlen(path) >= sizeof c->file)
        return HVP_FAIL(HVP_ERR_ARG, "config path too long");
    scan_entry *e;
    int n;
    HVP_TRY(scan_file(path, &e, &n));
    ini_message[0] = 0;
    iniparser_set_error_callback(ini_error);
    dictionary *d = iniparser_load(path);
    iniparser_set_error_callback(NULL);
    if (!d) {
        free(e);
        return HVP_FAIL(HVP_ERR_FORMAT, "cannot parse config '%s': %s", path,
                        ini_message[0] ? trim(ini_message) : "iniparser failed");
    }
    hvp_status st = HVP_OK;
    int nkeys = 0;
    for (int i = 0; i < n; i++)
        nkeys += !e[i].is_section;
    if (nkeys == 0)
        st = HVP_FAIL(HVP_ERR_FORMAT, "config '%s' sets no key (it is empty or only comments): "
                      "start from one in configs/; hvp --help-config lists every key", path);
    char hint[128];
    for (int i = 0; i < n && st == HVP_OK; i++) {
        if (e[i].is_section) {
            if (!known_section(e[i].section))
                st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: unknown section [%s].%s", path, e[i].line,
                              e[i].section, suggest_section(e[i].section, hint, sizeof hint));
            continue;
        }
        char entry[256];
        snprintf(entry, sizeof entry, "%s:%s", e[i].section, e[i].key);
        const char *value = iniparser_getstring(d, entry, NULL);
        if (!value) {
            st = HVP_FAIL(HVP_ERR_FORMAT, "%s:%d: iniparser did not read %s.%s", path,
                          e[i].line, e[i].section, e[i].key);
            break;
        }
        st = hvp_config_set(c, e[i].section, e[i].key, value, path, e[i].line);
    }
    iniparser_freedict(d);
    free(e);
    if (st == HVP_OK)
        strcpy(c->file, path);
    return st;
}

hvp_status hvp_config_override(hvp_config *c, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    const char *dot = strchr(assignment, '.');
    if (!eq || !dot || dot > eq)
        return HVP_FAIL(HVP_ERR_ARG,
                        "command line: '%s': expected section.key=value (e.g. optim.lr=0.1)",
                        assignment);
    char section[64], key[128], value[HVP_CFG_STR + 2];
    size_t slen = (size_t)(dot - assignment), klen = (size_t)(eq - dot - 1);
    if (slen >= sizeof section || klen >= sizeof key || strlen(eq + 1) >= sizeof value)
        return HVP_FAIL(HVP_ERR_ARG, "command line: '%s' is too long", assignment);
    memcpy(section, assignment, slen);
    section[slen] = 0;
    memcpy(key, dot + 1, klen);
    key[klen] = 0;
    strcpy(value, eq + 1);
    char *s = trim(section), *k = trim(key), *v = trim(value);
    size_t vlen = strlen(v);
    if (vlen >= 2 && ((v[0] == '"' && v[vlen - 1] == '"') || (v[0] == '\'' && v[vlen - 1] == '\''))) {
        v[vlen - 1] = 0;
        v++;
    } else if (unterminated_quote(v)) {
        return HVP_FAIL(HVP_ERR_ARG, "command line: '%s': the value opens a quote that it never "
                        "closes", assignment);
    }
    lower(s);
    lower(k);
    return hvp_config_set(c, s, k, v, "command line", 0);
}

hvp_status hvp_config_from_cli(hvp_config *c, const char *path, int noverrides,
                               char *const *overrides)
{
    if (path)
        HVP_TRY(hvp_config_load(path, c));
    else
        hvp_config_defaults(c);
    for (int i = 0; i < noverrides; i++)
        HVP_TRY(hvp_config_override(c, overrides[i]));
    return hvp_config_check(c);
}

/* Where a key's value came from, for messages: "cfg.ini:12", "command line", "default". */
static const char *origin(const hvp_config *c, const char *name, char *buf, size_t size)
{
    const hvp_config_key *k = hvp_config_find(name);
    int i = key_index(k);
    switch (c->from[i]) {
    case HVP_CFG_FROM_FILE: snprintf(buf, size, "%s:%d", c->file, c->line[i]); break;
    case HVP_CFG_FROM_CLI: snprintf(buf, size, "command line"); break;
    default: snprintf(buf, size, "default"); break;
    }
    return buf;
}

hvp_status hvp_config_check(const hvp_config *c)
{
    char a[HVP_CFG_STR + 32], b[HVP_CFG_STR + 32];
    if (c->data.channels == 2)
        return HVP_FAIL(HVP_ERR_ARG, "%s: data.channels = 2: expected 0 (from the dataset), 1 or 3",
                        origin(c, "data.channels", a, sizeof a));
    if (c->hvp.select_resolution > c->data.image_size)
        return HVP_FAIL(HVP_ERR_ARG,
                        "hvp.select_resolution = %d (%s) is larger than data.image_size = %d (%s)",
                        c->hvp.select_resolution, origin(c, "hvp.select_resolution", a, sizeof a),
                        c->data.image_size, origin(c, "data.image_size", b, sizeof b));
    if (c->hvp.select_by == HVP_SELECT_BY_OVERLAP &&
        (c->hvp.score_fraction < 1 || c->hvp.select_resolution > 0))
        return HVP_FAIL(HVP_ERR_ARG, "hvp.select_by = overlap (%s) runs no forward, so "
                        "hvp.score_fraction = %g and hvp.select_resolution = %d change nothing: "
                        "leave them at 1 and 0", origin(c, "hvp.select_by", a, sizeof a),
                        c->hvp.score_fraction, c->hvp.select_resolution);
    if (c->train.flops_budget > 0 && c->train.match[0])
        return HVP_FAIL(HVP_ERR_ARG, "train.flops_budget (%s) and train.match (%s) both set the "
                        "run's length: give one", origin(c, "train.flops_budget", a, sizeof a),
                        origin(c, "train.match", b, sizeof b));
    const hvp_backbone_ops *family = hvp_backbone_arch_at(c->model.arch)->ops;
    /* A patch-tiled backbone (a ViT) takes any side its patches tile: pos_embed is
     * interpolated */
    int tiled = family->patch_tiled;
    if (tiled && c->hvp.select_resolution % c->model.patch_size != 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "hvp.select_resolution = %d (%s) is not a multiple of model.patch_size "
                        "= %d (%s): %s patches must tile the scored views",
                        c->hvp.select_resolution, origin(c, "hvp.select_resolution", a, sizeof a),
                        c->model.patch_size, origin(c, "model.patch_size", b, sizeof b),
                        family->name);
    if (tiled && c->data.local_crops > 0 && c->data.local_image_size % c->model.patch_size != 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "data.local_image_size = %d (%s) with data.local_crops = %d is not a "
                        "multiple of model.patch_size = %d (%s): %s patches must tile the "
                        "local crops",
                        c->data.local_image_size, origin(c, "data.local_image_size", a, sizeof a),
                        c->data.local_crops, c->model.patch_size,
                        origin(c, "model.patch_size", b, sizeof b), family->name);
    if (tiled && c->data.image_size % c->model.patch_size != 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "data.image_size = %d (%s) is not a multiple of model.patch_size = %d "
                        "(%s): %s patches must tile the image",
                        c->data.image_size, origin(c, "data.image_size", a, sizeof a),
                        c->model.patch_size, origin(c, "model.patch_size", b, sizeof b),
                        family->name);
    if (c->eval.recipe != HVP_RECIPE_DEFAULT && !c->eval.augment)
        return HVP_FAIL(HVP_ERR_ARG, "eval.recipe = %s (%s) is an official protocol on augmented "
                        "views: set eval.augment = true",
                        c->eval.recipe == HVP_RECIPE_SIMSIAM ? "simsiam" : "dino",
                        origin(c, "eval.recipe", a, sizeof a));
    if (c->eval.last_blocks > 1 && (!family->forward_last_blocks || !c->eval.augment))
        return HVP_FAIL(HVP_ERR_ARG, "eval.last_blocks = %d (%s) takes a backbone with "
                        "features per block (a %s has %s) and eval.augment = true",
                        c->eval.last_blocks, origin(c, "eval.last_blocks", a, sizeof a),
                        family->name, family->forward_last_blocks ? "them" : "none");
    if (c->data.crop_scale.v[0] > c->data.crop_scale.v[1])
        return HVP_FAIL(HVP_ERR_ARG, "%s: data.crop_scale = %g, %g: min is larger than max",
                        origin(c, "data.crop_scale", a, sizeof a), c->data.crop_scale.v[0],
                        c->data.crop_scale.v[1]);
    if (c->data.blur_sigma.v[0] > c->data.blur_sigma.v[1])
        return HVP_FAIL(HVP_ERR_ARG, "%s: data.blur_sigma = %g, %g: min is larger than max",
                        origin(c, "data.blur_sigma", a, sizeof a), c->data.blur_sigma.v[0],
                        c->data.blur_sigma.v[1]);
    if (c->data.mean.n != c->data.std.n)
        return HVP_FAIL(HVP_ERR_ARG, "data.mean has %d values (%s) but data.std has %d (%s)",
                        c->data.mean.n, origin(c, "data.mean", a, sizeof a), c->data.std.n,
                        origin(c, "data.std", b, sizeof b));
    if (c->data.channels && c->data.mean.n != 1 && c->data.mean.n != c->data.channels)
        return HVP_FAIL(HVP_ERR_ARG,
                        "data.mean has %d values (%s) for %d channels: give 1 or %d",
                        c->data.mean.n, origin(c, "data.mean", a, sizeof a), c->data.channels,
                        c->data.channels);
    if (c->optim.min_lr > c->optim.lr)
        return HVP_FAIL(HVP_ERR_ARG, "optim.min_lr = %g (%s) is larger than optim.lr = %g (%s)",
                        c->optim.min_lr, origin(c, "optim.min_lr", a, sizeof a), c->optim.lr,
                        origin(c, "optim.lr", b, sizeof b));
    return HVP_OK;
}

hvp_status hvp_config_require(const hvp_config *c, const char *name, const char *hint)
{
    const hvp_config_key *k = hvp_config_find(name);
    if (!k)
        return HVP_FAIL(HVP_ERR_ARG, "hvp_config_require: no key '%s'", name);
    int missing = k->type == HVP_CFG_STRING ? ((const char *)cfield(c, k))[0] == 0
                                            : c->from[key_index(k)] == HVP_CFG_FROM_DEFAULT;
    if (!missing)
        return HVP_OK;
    char form[256];
    expected_form(k, form, sizeof form);
    return HVP_FAIL(HVP_ERR_ARG, "%s.%s is not set: put '%s = ...' in [%s]%s%s or pass %s.%s=... "
                    "on the command line (%s).%s%s",
                    k->section, k->key, k->key, k->section, c->file[0] ? " of " : "", c->file,
                    k->section, k->key, form, hint ? " " : "", hint ? hint : "");
}

/* ---- output ------------------------------------------------------------------------ */
/* The shortest %g form that reads back as the same double. */
static void format_double(double v, char *buf, size_t size)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    /* keep it recognisably a number with a point */
    if (!strpbrk(buf, ".eEni") && strlen(buf) + 2 < size)
        strcat(buf, ".0");
}

const char *hvp_config_value(const hvp_config *c, const hvp_config_key *k, char *buf,
                             size_t size)
{
    const void *p = cfield(c, k);
    switch (k->type) {
    case HVP_CFG_INT: snprintf(buf, size, "%d", *(const int *)p); break;
    case HVP_CFG_BOOL: snprintf(buf, size, "%s", *(const int *)p ? "true" : "false"); break;
    case HVP_CFG_FLOAT: format_double(*(const double *)p, buf, size); break;
    case HVP_CFG_STRING: snprintf(buf, size, "%s", (const char *)p); break;
    case HVP_CFG_ENUM: snprintf(buf, size, "%s", k->choices[*(const int *)p]); break;
    case HVP_CFG_FLOATS: {
        const hvp_cfg_floats *f = p;
        size_t n = 0;
        buf[0] = 0;
        for (int i = 0; i < f->n && n < size; i++) {
            char one[40];
            format_double(f->v[i], one, sizeof one);
            n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", one);
        }
        break;
    }
    }
    return buf;
}

void hvp_config_write(const hvp_config *c, FILE *f, int annotate)
{
    fprintf(f, "# hvp configuration (resolved: every key, defaults included)\n");
    for (int s = 0; hvp_config_sections[s]; s++) {
        fprintf(f, "%s[%s]\n", s ? "\n" : "", hvp_config_sections[s]);
        for (int i = 0; i < hvp_config_nkeys; i++) {
            const hvp_config_key *k = &hvp_config_keys[i];
            if (strcmp(k->section, hvp_config_sections[s]) != 0)
                continue;
            char v[HVP_CFG_STR + 64];
            hvp_config_value(c, k, v, sizeof v);
            if (k->type == HVP_CFG_STRING)
                fprintf(f, "%s = \"%s\"", k->key, v);
            else
                fprintf(f, "%s = %s", k->key, v);
            if (annotate && c->from[i] == HVP_CFG_FROM_FILE)
                fprintf(f, "  ; %s:%d", c->file, c->line[i]);
            else if (annotate && c->from[i] == HVP_CFG_FROM_CLI)
                fprintf(f, "  ; command line");
            fputc('\n', f);
        }
    }
}

char *hvp_config_to_string(const hvp_config *c)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return NULL;
    hvp_config_write(c, f, 0);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

hvp_status hvp_config_save(const hvp_config *c, const char *path)
{
    hvp_atomic_file af;
    HVP_TRY(hvp_atomic_open(path, &af));
    hvp_config_write(c, af.f, 1);
    return hvp_atomic_commit(&af);
}

const hvp_config_key *hvp_config_diff(const hvp_config *a, const hvp_config *b)
{
    for (int i = 0; i < hvp_config_nkeys; i++) {
        const hvp_config_key *k = &hvp_config_keys[i];
        char va[HVP_CFG_STR + 64], vb[HVP_CFG_STR + 64];
        /* the written forms round-trip exactly, so comparing them compares values */
        if (strcmp(hvp_config_value(a, k, va, sizeof va), hvp_config_value(b, k, vb, sizeof vb)) != 0)
            return k;
    }
    return NULL;
}

void hvp_config_print_help(FILE *f)
{
    fprintf(f, "Configuration keys: KEY = DEFAULT, what it takes, what it does.\n"
               "Set them in the INI file's [section], or on the command line as section.key=value.\n");
    for (int s = 0; hvp_config_sections[s]; s++) {
        fprintf(f, "\n[%s]\n", hvp_config_sections[s]);
        for (int i = 0; i < hvp_config_nkeys; i++) {
            const hvp_config_key *k = &hvp_config_keys[i];
            if (strcmp(k->section, hvp_config_sections[s]) != 0)
                continue;
            char lhs[128], form[256];
            snprintf(lhs, sizeof lhs, "%s = %s", k->key, k->def[0] ? k->def : "\"\"");
            if (k->type == HVP_CFG_STRING)
                snprintf(form, sizeof form, "a string");
            else
                expected_form(k, form, sizeof form);
            fprintf(f, "  %-34s %s\n      %s\n", lhs, form, k->help);
        }
    }
}

const char *hvp_config_run_dir(const hvp_config *c, char *buf, size_t size)
{
    if (c->run.dir[0])
        snprintf(buf, size, "%s", c->run.dir);
    else
        snprintf(buf, size, "runs/%s", c->run.name);
    return buf;
}
