/* safetensors reader and writer: the header is parsed by cJSON and checked strictly. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "hvp/checkpoint.h"
#include "hvp/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this host is not"
#endif

#define MAX_HEADER (100u << 20) /* HuggingFace's limit */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [HVP_ST_F64] = {"F64", 8}, [HVP_ST_F32] = {"F32", 4}, [HVP_ST_F16] = {"F16", 2},
    [HVP_ST_BF16] = {"BF16", 2}, [HVP_ST_I64] = {"I64", 8}, [HVP_ST_I32] = {"I32", 4},
    [HVP_ST_I16] = {"I16", 2}, [HVP_ST_I8] = {"I8", 1}, [HVP_ST_U8] = {"U8", 1},
    [HVP_ST_BOOL] = {"BOOL", 1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *hvp_st_dtype_name(hvp_st_dtype t)
{
    return (int)t >= 0 && (int)t < NDTYPES ? dtypes[t].name : "?";
}
size_t hvp_st_dtype_size(hvp_st_dtype t)
{
    return (int)t >= 0 && (int)t < NDTYPES ? dtypes[t].size : 0;
}

static const char *shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}

/* numel * element size, or 0 with *ok = 0 on overflow. */
static size_t tensor_bytes(hvp_st_dtype dtype, int ndim, const int64_t *shape, int *ok)
{
    size_t n = hvp_st_dtype_size(dtype);
    *ok = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && n > SIZE_MAX / (size_t)shape[i])) {
            *ok = 0;
            return 0;
        }
        n *= (size_t)shape[i];
    }
    return n;
}

/* ---- writing ----------------------------------------------------------------------- */
typedef struct w_tensor {
    char *name;
    hvp_st_dtype dtype;
    int ndim;
    int64_t shape[HVP_ST_MAX_DIMS];
    size_t nbytes;
    void *data;
} w_tensor;

struct hvp_st_writer {
    w_tensor *t;
    int n, cap;
    char **meta; /* key, value, key, value, ... */
    int nmeta, capmeta;
};

hvp_status hvp_st_writer_new(hvp_st_writer **w)
{
    *w = calloc(1, sizeof **w);
    return *w ? HVP_OK : HVP_FAIL(HVP_ERR_NOMEM, "safetensors writer");
}

void hvp_st_writer_free(hvp_st_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    for (int i = 0; i < 2 * w->nmeta; i++)
        free(w->meta[i]);
    free(w->t);
    free(w->meta);
    free(w);
}

hvp_status hvp_st_add(hvp_st_writer *w, const char *name, hvp_st_dtype dtype, int ndim,
                      const int64_t *shape, const void *data)
{
    char sb[128];
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return HVP_FAIL(HVP_ERR_ARG, "safetensors: invalid tensor name '%s'", name ? name : "(null)");
    if ((int)dtype < 0 || (int)dtype >= NDTYPES)
        return HVP_FAIL(HVP_ERR_ARG, "safetensors: tensor '%s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > HVP_ST_MAX_DIMS)
        return HVP_FAIL(HVP_ERR_ARG, "safetensors: tensor '%s': %d dimensions (at most %d)", name,
                        ndim, HVP_ST_MAX_DIMS);
    int ok;
    size_t nbytes = tensor_bytes(dtype, ndim, shape, &ok);
    if (!ok)
        return HVP_FAIL(HVP_ERR_ARG, "safetensors: tensor '%s': invalid shape %s", name,
                        shape_str(ndim, shape, sb, sizeof sb));
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return HVP_FAIL(HVP_ERR_ARG, "safetensors: tensor '%s' added twice", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        w_tensor *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt)
            return HVP_FAIL(HVP_ERR_NOMEM, "safetensors writer");
        w->t = nt;
        w->cap = cap;
    }
    w_tensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return HVP_FAIL(HVP_ERR_NOMEM, "safetensors: tensor '%s' (%zu bytes)", name, nbytes);
    }
    if (nbytes)
        memcpy(t->data, data, nbytes);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nbytes = nbytes;
    w->n++;
    return HVP_OK;
}

hvp_status hvp_st_add_f32(hvp_st_writer *w, const char *name, int ndim, const int *shape,
                          const float *data)
{
    int64_t s[HVP_ST_MAX_DIMS];
    if (ndim < 0 || ndim > HVP_ST_MAX_DIMS)
        return HVP_FAIL(HVP_ERR_ARG, "safetensors: tensor '%s': %d dimensions", name, ndim);
    for (int i = 0; i < ndim; i++)
        s[i] = shape[i];
    return hvp_st_add(w, name, HVP_ST_F32, ndim, s, data);
}

hvp_status hvp_st_set_metadata(hvp_st_writer *w, const char *key, const char *value)
{
    for (int i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[2 * i], key) == 0) {
            char *v = strdup(value);
            if (!v)
                return HVP_FAIL(HVP_ERR_NOMEM, "safetensors metadata");
            free(w->meta[2 * i + 1]);
            w->meta[2 * i + 1] = v;
            return HVP_OK;
        }
    if (w->nmeta == w->capmeta) {
        int cap = w->capmeta ? 2 * w->capmeta : 8;
        char **nm = realloc(w->meta, (size_t)cap * 2 * sizeof *nm);
        if (!nm)
            return HVP_FAIL(HVP_ERR_NOMEM, "safetensors metadata");
        w->meta = nm;
        w->capmeta = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return HVP_FAIL(HVP_ERR_NOMEM, "safetensors metadata");
    }
    w->meta[2 * w->nmeta] = k;
    w->meta[2 * w->nmeta + 1] = v;
    w->nmeta++;
    return HVP_OK;
}

/* A JSON string literal. */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static int order_cmp(const void *a, const void *b)
{
    const w_tensor *x = *(const w_tensor *const *)a, *y = *(const w_tensor *const *)b;
    size_t sx = hvp_st_dtype_size(x->dtype), sy = hvp_st_dtype_size(y->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

hvp_status hvp_st_save(hvp_st_writer *w, const char *path)
{
    w_tensor **order = malloc((size_t)(w->n ? w->n : 1) * sizeof *order);
    if (!order)
        return HVP_FAIL(HVP_ERR_NOMEM, "safetensors writer");
    for (int i = 0; i < w->n; i++)
        order[i] = &w->t[i];
    qsort(order, (size_t)w->n, sizeof *order, order_cmp);

    char *header = NULL;
    size_t hsize = 0;
    FILE *h = open_memstream(&header, &hsize);
    if (!h) {
        free(order);
        return HVP_FAIL(HVP_ERR_NOMEM, "safetensors header");
    }
    fputc('{', h);
    int first = 1;
    if (w->nmeta) {
        fputs("\"__metadata__\":{", h);
        for (int i = 0; i < w->nmeta; i++) {
            if (i)
                fputc(',', h);
            put_json_string(h, w->meta[2 * i]);
            fputc(':', h);
            put_json_string(h, w->meta[2 * i + 1]);
        }
        fputc('}', h);
        first = 0;
    }
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const w_tensor *t = order[i];
        if (!first)
            fputc(',', h);
        first = 0;
        put_json_string(h, t->name);
        fprintf(h, ":{\"dtype\":\"%s\",\"shape\":[", hvp_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            fprintf(h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        fprintf(h, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    fputc('}', h);
    /* pad with spaces to a multiple of 8 */
    while ((ftell(h)) % 8)
        fputc(' ', h);
    if (fclose(h) != 0) {
        free(header);
        free(order);
        return HVP_FAIL(HVP_ERR_NOMEM, "safetensors header");
    }

    hvp_atomic_file af;
    hvp_status st = hvp_atomic_open(path, &af);
    if (st == HVP_OK) {
        unsigned char len[8];
        for (int i = 0; i < 8; i++)
            len[i] = (unsigned char)((uint64_t)hsize >> (8 * i));
        int ok = fwrite(len, 1, 8, af.f) == 8 && fwrite(header, 1, hsize, af.f) == hsize;
        for (int i = 0; ok && i < w->n; i++)
            ok = order[i]->nbytes == 0 ||
                 fwrite(order[i]->data, 1, order[i]->nbytes, af.f) == order[i]->nbytes;
        if (!ok) {
            int e = errno;
            hvp_atomic_abort(&af);
            st = HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", path, strerror(e));
        } else {
            st = hvp_atomic_commit(&af);
        }
    }
    free(header);
    free(order);
    return st;
}

/* ---- reading ----------------------------------------------------------------------- */
struct hvp_st_file {
    char *name;        /* for messages */
    unsigned char *buf; /* the whole file */
    size_t size;
    hvp_st_tensor *t;
    int n;
    char **meta; /* key, value, ... */
    int nmeta;
    char *strings; /* names and metadata, owned */
};

void hvp_st_close(hvp_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++)
        free((char *)f->t[i].name);
    for (int i = 0; i < 2 * f->nmeta; i++)
        free(f->meta[i]);
    free(f->t);
    free(f->meta);
    free(f->buf);
    free(f->name);
    free(f);
}

/* at: the byte of the header where JSON parsing stopped (counted from the file's start). */
static hvp_status malformed_at(const hvp_st_file *f, size_t at, const char *what)
{
    return HVP_FAIL(HVP_ERR_FORMAT, "%s: malformed safetensors header at byte %zu: %s", f->name,
                    at + 8, what);
}

static hvp_status malformed(const hvp_st_file *f, const char *what)
{
    return HVP_FAIL(HVP_ERR_FORMAT, "%s: malformed safetensors header: %s", f->name, what);
}

/* A whole number that a double holds exactly (JSON numbers reach us as doubles). */
static hvp_status json_uint(const hvp_st_file *f, const cJSON *v, const char *what, uint64_t *out)
{
    char msg[160];
    if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
        snprintf(msg, sizeof msg, "%s: expected a non-negative integer", what);
        return malformed(f, msg);
    }
    if (v->valuedouble != floor(v->valuedouble)) {
        snprintf(msg, sizeof msg, "%s: expected an integer, not %g", what, v->valuedouble);
        return malformed(f, msg);
    }
    if (v->valuedouble >= 9007199254740992.0) { /* 2^53: doubles are exact below it */
        snprintf(msg, sizeof msg, "%s: number too large", what);
        return malformed(f, msg);
    }
    *out = (uint64_t)v->valuedouble;
    return HVP_OK;
}

/* A JSON array of at most max whole numbers into v; its length into *n. */
static hvp_status json_uints(const hvp_st_file *f, const cJSON *a, const char *what, uint64_t *v,
                             int max, int *n)
{
    char msg[160];
    *n = 0;
    if (!cJSON_IsArray(a)) {
        snprintf(msg, sizeof msg, "%s: expected an array", what);
        return malformed(f, msg);
    }
    for (const cJSON *e = a->child; e; e = e->next) {
        if (*n == max) {
            snprintf(msg, sizeof msg, "%s: array too long (at most %d entries)", what, max);
            return malformed(f, msg);
        }
        HVP_TRY(json_uint(f, e, what, &v[(*n)++]));
    }
    return HVP_OK;
}

/* The first entry after `e` with e's key, or NULL (cJSON keeps repeated keys). */
static const cJSON *repeated_key(const cJSON *e)
{
    for (const cJSON *o = e->next; o; o = o->next)
        if (strcmp(o->string, e->string) == 0)
            return o;
    return NULL;
}

static hvp_status parse_metadata(hvp_st_file *f, const cJSON *meta)
{
    if (!cJSON_IsObject(meta))
        return malformed(f, "__metadata__ must be an object");
    for (const cJSON *e = meta->child; e; e = e->next)
        f->nmeta++;
    f->meta = calloc((size_t)f->nmeta * 2 + 1, sizeof *f->meta);
    if (!f->meta)
        return HVP_FAIL(HVP_ERR_NOMEM, "%s: metadata", f->name);
    int i = 0;
    for (const cJSON *e = meta->child; e; e = e->next, i++) {
        if (!cJSON_IsString(e))
            return malformed(f, "metadata values must be strings");
        if (repeated_key(e))
            return malformed(f, "a metadata key appears twice");
        f->meta[2 * i] = strdup(e->string);
        f->meta[2 * i + 1] = strdup(e->valuestring);
        if (!f->meta[2 * i] || !f->meta[2 * i + 1])
            return HVP_FAIL(HVP_ERR_NOMEM, "%s: metadata", f->name);
    }
    return HVP_OK;
}

/* One tensor entry {"dtype": .., "shape": [..], "data_offsets": [begin, end]}. */
static hvp_status parse_tensor(hvp_st_file *f, const cJSON *e, hvp_st_tensor *t, uint64_t off[2])
{
    char what[160];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(e->string)))
        return HVP_FAIL(HVP_ERR_NOMEM, "%s: tensor names", f->name);
    if (!cJSON_IsObject(e)) {
        snprintf(what, sizeof what, "tensor '%.40s' must be an object", t->name);
        return malformed(f, what);
    }
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *field = e->child; field; field = field->next) {
        const cJSON **slot = strcmp(field->string, "dtype") == 0          ? &dtype
                             : strcmp(field->string, "shape") == 0        ? &shape
                             : strcmp(field->string, "data_offsets") == 0 ? &offsets
                                                                          : NULL;
        if (!slot || *slot) {
            snprintf(what, sizeof what, "tensor '%.40s': unexpected or repeated field '%.20s'",
                     t->name, field->string);
            return malformed(f, what);
        }
        *slot = field;
    }
    if (!dtype || !shape || !offsets) {
        snprintf(what, sizeof what, "tensor '%.40s' lacks %s", t->name,
                 !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
        return malformed(f, what);
    }
    int found = -1;
    for (int k = 0; cJSON_IsString(dtype) && k < NDTYPES; k++)
        if (strcmp(dtype->valuestring, dtypes[k].name) == 0)
            found = k;
    if (found < 0) {
        snprintf(what, sizeof what, "tensor '%.40s': unsupported dtype '%.16s'", t->name,
                 cJSON_IsString(dtype) ? dtype->valuestring : "(not a string)");
        return malformed(f, what);
    }
    t->dtype = (hvp_st_dtype)found;
    uint64_t dims[HVP_ST_MAX_DIMS];
    snprintf(what, sizeof what, "tensor '%.40s' shape", t->name);
    HVP_TRY(json_uints(f, shape, what, dims, HVP_ST_MAX_DIMS, &t->ndim));
    for (int k = 0; k < t->ndim; k++)
        t->shape[k] = (int64_t)dims[k];
    int n2;
    snprintf(what, sizeof what, "tensor '%.40s' data_offsets", t->name);
    HVP_TRY(json_uints(f, offsets, what, off, 2, &n2));
    if (n2 != 2) {
        snprintf(what, sizeof what, "tensor '%.40s': data_offsets must have 2 entries", t->name);
        return malformed(f, what);
    }
    return HVP_OK;
}

/* The header's JSON by cJSON (Debian's libcjson), then the format's rules: string metadata,
 * tensors with exactly dtype, shape and data_offsets, no name twice, whole numbers. */
static hvp_status parse_json(hvp_st_file *f, const char *hdr, size_t hlen, uint64_t (**offs)[2])
{
    /* cJSON decodes \u0000 into a terminator, which would shorten a name silently. */
    for (size_t i = 0; i + 6 <= hlen; i++)
        if (hdr[i] == '\\' && hdr[i + 1] == 'u' && memcmp(hdr + i + 2, "0000", 4) == 0)
            return malformed_at(f, i, "NUL character in a string");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
    if (!root)
        return malformed_at(f, end ? (size_t)(end - hdr) : 0, "not valid JSON");
    size_t at = (size_t)(end - hdr);
    while (at < hlen && (hdr[at] == ' ' || hdr[at] == '\t' || hdr[at] == '\n' || hdr[at] == '\r'))
        at++;
    hvp_status st = HVP_OK;
    if (at != hlen)
        st = malformed_at(f, at, "unexpected bytes after the header object");
    else if (!cJSON_IsObject(root))
        st = malformed(f, "the header is not a JSON object");
    int n = 0;
    for (const cJSON *e = root->child; st == HVP_OK && e; e = e->next) {
        if (repeated_key(e))
            st = malformed(f, strcmp(e->string, "__metadata__") == 0
                                     ? "__metadata__ appears twice"
                                     : "a tensor name appears twice");
        n += strcmp(e->string, "__metadata__") != 0;
    }
    if (st == HVP_OK && n > 0) {
        f->t = calloc((size_t)n, sizeof *f->t);
        *offs = calloc((size_t)n, sizeof **offs);
        if (!f->t || !*offs)
            st = HVP_FAIL(HVP_ERR_NOMEM, "%s: %d tensors", f->name, n);
    }
    for (const cJSON *e = root->child; st == HVP_OK && e; e = e->next)
        if (strcmp(e->string, "__metadata__") == 0) {
            st = parse_metadata(f, e);
        } else {
            int i = f->n++; /* counted first: hvp_st_close frees the name on failure */
            st = parse_tensor(f, e, &f->t[i], (*offs)[i]);
        }
    cJSON_Delete(root);
    return st;
}

static hvp_status parse_header(hvp_st_file *f, const char *hdr, size_t hlen, size_t data_size)
{
    uint64_t (*offs)[2] = NULL;
    hvp_status st = parse_json(f, hdr, hlen, &offs);
    if (st != HVP_OK) {
        free(offs);
        return st;
    }

    /* Offsets: each tensor's span must match its size, and the spans, sorted, must tile
     * the data exactly (no overlap, no hole, nothing past the end). */
    for (int i = 0; i < f->n; i++) {
        hvp_st_tensor *t = &f->t[i];
        int ok;
        size_t want = tensor_bytes(t->dtype, t->ndim, t->shape, &ok);
        char sb[128];
        if (!ok || offs[i][1] < offs[i][0] || offs[i][1] - offs[i][0] != want) {
            hvp_status st = HVP_FAIL(HVP_ERR_FORMAT,
                            "%s: tensor '%s' (%s %s) has data_offsets [%llu, %llu]: expected "
                            "%zu bytes",
                            f->name, t->name, hvp_st_dtype_name(t->dtype),
                            shape_str(t->ndim, t->shape, sb, sizeof sb),
                            (unsigned long long)offs[i][0], (unsigned long long)offs[i][1], want);
            free(offs);
            return st;
        }
        t->nbytes = want;
    }
    /* sort tensors by begin offset (insertion sort keeps it simple; files have ~hundreds) */
    for (int i = 1; i < f->n; i++) {
        hvp_st_tensor t = f->t[i];
        uint64_t o0 = offs[i][0], o1 = offs[i][1];
        int k = i;
        while (k > 0 && (offs[k - 1][0] > o0 || (offs[k - 1][0] == o0 && offs[k - 1][1] > o1))) {
            f->t[k] = f->t[k - 1];
            offs[k][0] = offs[k - 1][0];
            offs[k][1] = offs[k - 1][1];
            k--;
        }
        f->t[k] = t;
        offs[k][0] = o0;
        offs[k][1] = o1;
    }
    uint64_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        if (offs[i][0] != pos) {
            hvp_status st = HVP_FAIL(HVP_ERR_FORMAT, "%s: tensor '%s' starts at data offset %llu; "
                                     "expected %llu (overlap or hole)",
                                     f->name, f->t[i].name, (unsigned long long)offs[i][0],
                                     (unsigned long long)pos);
            free(offs);
            return st;
        }
        pos = offs[i][1];
        f->t[i].data = (const unsigned char *)hdr + hlen + offs[i][0];
    }
    free(offs);
    if (pos != data_size)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: the tensors cover %llu bytes of data but the file "
                        "holds %zu after the header (%s)",
                        f->name, (unsigned long long)pos, data_size,
                        pos > data_size ? "truncated file?" : "trailing bytes");
    return HVP_OK;
}

static hvp_status parse_owned(unsigned char *buf, size_t size, const char *name, hvp_st_file **out)
{
    *out = NULL;
    hvp_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->name = strdup(name))) {
        free(f);
        free(buf);
        return HVP_FAIL(HVP_ERR_NOMEM, "reading %s", name);
    }
    f->buf = buf;
    f->size = size;
    if (size < 8) {
        hvp_st_close(f);
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: %zu bytes: too short for a safetensors file", name, size);
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)buf[i] << (8 * i);
    if (hlen > MAX_HEADER || hlen > size - 8) {
        hvp_status st = HVP_FAIL(HVP_ERR_FORMAT, "%s: header length %llu %s (file has %zu bytes)",
                                 name, (unsigned long long)hlen,
                                 hlen > MAX_HEADER ? "exceeds 100 MB" : "runs past the end", size);
        hvp_st_close(f);
        return st;
    }
    if (hlen < 2 || buf[8] != '{') {
        hvp_st_close(f);
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: the header does not start with '{': not a "
                        "safetensors file", name);
    }
    hvp_status st = parse_header(f, (const char *)buf + 8, (size_t)hlen, size - 8 - (size_t)hlen);
    if (st != HVP_OK) {
        hvp_st_close(f);
        return st;
    }
    *out = f;
    return HVP_OK;
}

hvp_status hvp_st_parse(const void *bytes, size_t size, const char *name, hvp_st_file **f)
{
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return HVP_FAIL(HVP_ERR_NOMEM, "reading %s (%zu bytes)", name, size);
    if (size)
        memcpy(buf, bytes, size);
    return parse_owned(buf, size, name, f);
}

hvp_status hvp_st_open(const char *path, hvp_st_file **f)
{
    *f = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return HVP_FAIL(errno == ENOENT ? HVP_ERR_NOTFOUND : HVP_ERR_IO, "cannot open '%s': %s",
                        path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return HVP_FAIL(HVP_ERR_IO, "cannot seek in '%s'", path);
    }
    long size = ftell(fp);
    rewind(fp);
    if (size < 0) {
        fclose(fp);
        return HVP_FAIL(HVP_ERR_IO, "cannot size '%s'", path);
    }
    unsigned char *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(fp);
        return HVP_FAIL(HVP_ERR_NOMEM, "reading '%s' (%ld bytes)", path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, fp);
    int e = ferror(fp);
    fclose(fp);
    if (got != (size_t)size || e) {
        free(buf);
        return HVP_FAIL(HVP_ERR_IO, "reading '%s': short read", path);
    }
    return parse_owned(buf, (size_t)size, path, f);
}

int hvp_st_count(const hvp_st_file *f) { return f->n; }

const hvp_st_tensor *hvp_st_at(const hvp_st_file *f, int i)
{
    return i >= 0 && i < f->n ? &f->t[i] : NULL;
}

const hvp_st_tensor *hvp_st_find(const hvp_st_file *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0)
            return &f->t[i];
    return NULL;
}

const char *hvp_st_metadata(const hvp_st_file *f, const char *key)
{
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0)
            return f->meta[2 * i + 1];
    return NULL;
}

hvp_status hvp_st_metadata_int(const hvp_st_file *f, const char *key, int64_t lo, int64_t hi,
                               int64_t *out)
{
    const char *v = hvp_st_metadata(f, key);
    if (!v)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: no \"%s\" in the metadata (expected a whole "
                        "number in [%" PRId64 ", %" PRId64 "])", f->name, key, lo, hi);
    /* strtoll alone would take leading blanks, a '+' and trailing junk */
    const char *digits = v + (*v == '-');
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*digits < '0' || *digits > '9' || *end || errno == ERANGE || n < lo || n > hi)
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: metadata \"%s\" is \"%.40s\", expected a whole "
                        "number in [%" PRId64 ", %" PRId64 "]", f->name, key, v, lo, hi);
    *out = n;
    return HVP_OK;
}

int hvp_st_metadata_count(const hvp_st_file *f) { return f->nmeta; }

const char *hvp_st_name(const hvp_st_file *f) { return f->name; }

void hvp_st_metadata_at(const hvp_st_file *f, int i, const char **key, const char **value)
{
    *key = f->meta[2 * i];
    *value = f->meta[2 * i + 1];
}

hvp_status hvp_st_get(const hvp_st_file *f, const char *name, hvp_st_dtype dtype, int ndim,
                      const int64_t *shape, void *dst)
{
    const hvp_st_tensor *t = hvp_st_find(f, name);
    if (!t)
        return HVP_FAIL(HVP_ERR_NOTFOUND, "%s: no tensor '%s'", f->name, name);
    int same = t->dtype == dtype && t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        return HVP_FAIL(HVP_ERR_FORMAT, "%s: tensor '%s': expected %s %s, found %s %s", f->name,
                        name, hvp_st_dtype_name(dtype), shape_str(ndim, shape, a, sizeof a),
                        hvp_st_dtype_name(t->dtype), shape_str(t->ndim, t->shape, b, sizeof b));
    }
    if (t->nbytes)
        memcpy(dst, t->data, t->nbytes);
    return HVP_OK;
}

hvp_status hvp_st_get_f32(const hvp_st_file *f, const char *name, int ndim, const int *shape,
                          float *dst)
{
    int64_t s[HVP_ST_MAX_DIMS];
    if (ndim < 0 || ndim > HVP_ST_MAX_DIMS)
        return HVP_FAIL(HVP_ERR_ARG, "tensor '%s': %d dimensions", name, ndim);
    for (int i = 0; i < ndim; i++)
        s[i] = shape[i];
    return hvp_st_get(f, name, HVP_ST_F32, ndim, s, dst);
}
