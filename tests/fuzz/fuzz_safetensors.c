/* The safetensors reader, on the bytes of a weights or state file. A file that parses must
 * be consistent (every tensor found by name, its bytes inside the file, hvp_st_get
 * returning them) and must survive a round trip through the writer: saved and read back,
 * it holds the same tensors and metadata. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hvp/safetensors.h"

static int same_tensor(const hvp_st_tensor *a, const hvp_st_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
}

/* Reads every tensor back through hvp_st_get. */
static int check_tensors(const hvp_st_file *f)
{
    for (int i = 0; i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        if (hvp_st_find(f, t->name) != t)
            return fuzz_fail("tensor %d ('%s') is not found by its name", i, t->name);
        size_t want = hvp_st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++)
            want *= (size_t)t->shape[d];
        if (t->nbytes != want || (want && !t->data))
            return fuzz_fail("tensor '%s' has %zu bytes, its shape says %zu", t->name, t->nbytes,
                             want);
        unsigned char *copy = malloc(t->nbytes ? t->nbytes : 1);
        if (!copy)
            continue;
        hvp_status s = hvp_st_get(f, t->name, t->dtype, t->ndim, t->shape, copy);
        int bad = s != HVP_OK ? fuzz_fail("hvp_st_get('%s') with its own dtype and shape: %s",
                                          t->name, hvp_last_error())
                  : t->nbytes && memcmp(copy, t->data, t->nbytes) != 0
                      ? fuzz_fail("hvp_st_get('%s') returned other bytes", t->name)
                      : 0;
        free(copy);
        if (bad)
            return 1;
    }
    return 0;
}

/* Writes f again and compares what is read back. A writer that refuses what the reader
 * took (e.g. an empty name) is fine; a file that changes is not. */
static int round_trip(const hvp_st_file *f, const char *dir)
{
    hvp_st_writer *w = NULL;
    if (hvp_st_writer_new(&w) != HVP_OK)
        return 0;
    hvp_status s = HVP_OK;
    for (int i = 0; s == HVP_OK && i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        s = hvp_st_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
    }
    for (int i = 0; s == HVP_OK && i < hvp_st_metadata_count(f); i++) {
        const char *k, *v;
        hvp_st_metadata_at(f, i, &k, &v);
        s = hvp_st_set_metadata(w, k, hvp_st_metadata(f, k)); /* a repeated key: the first */
    }
    char *path = fuzz_path(dir, "back.safetensors");
    if (s == HVP_OK && path)
        s = hvp_st_save(w, path);
    hvp_st_writer_free(w);
    hvp_st_file *g = NULL;
    int bad = 0;
    if (s == HVP_OK && path && hvp_st_open(path, &g) != HVP_OK)
        bad = fuzz_fail("the written file does not parse: %s", hvp_last_error());
    for (int i = 0; g && !bad && i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i), *u = hvp_st_find(g, t->name);
        if (!u || !same_tensor(t, u))
            bad = fuzz_fail("tensor '%s' changed in the round trip", t->name);
    }
    for (int i = 0; g && !bad && i < hvp_st_metadata_count(f); i++) {
        const char *k, *v;
        hvp_st_metadata_at(f, i, &k, &v);
        const char *back = hvp_st_metadata(g, k);
        if (!back || strcmp(back, hvp_st_metadata(f, k)) != 0)
            bad = fuzz_fail("metadata '%s' changed in the round trip", k);
    }
    if (g && !bad && hvp_st_count(g) != hvp_st_count(f))
        bad = fuzz_fail("%d tensors written, %d read back", hvp_st_count(f), hvp_st_count(g));
    hvp_st_close(g);
    free(path);
    return bad;
}

int fuzz_safetensors(const uint8_t *data, size_t size)
{
    hvp_st_file *f = NULL;
    if (hvp_st_parse(data, size, "fuzz.safetensors", &f) != HVP_OK)
        return 0;
    const char *dir = fuzz_scratch();
    int bad = check_tensors(f);
    if (!bad && dir)
        bad = round_trip(f, dir);
    hvp_st_close(f);
    return bad;
}
