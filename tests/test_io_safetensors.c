/* safetensors: exact bytes of the format, round trips of every dtype, strict rejection of
 * truncated and garbled files, dtype/shape checks on load, strict integers in the metadata.
 * Host only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/safetensors.h"

#define EXPECT_MSG(needle)                                                               \
    EXPECT(strstr(hvp_last_error(), needle), "message lacks '%s': %s", needle, hvp_last_error())

/* A file as bytes: 8-byte length + header text (as given, unpadded) + data. */
static unsigned char *make_file(const char *header, const void *data, size_t dsize, size_t *size)
{
    size_t h = strlen(header);
    *size = 8 + h + dsize;
    unsigned char *b = test_alloc(*size);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    if (dsize)
        memcpy(b + 8 + h, data, dsize);
    return b;
}

HVP_TEST(io_safetensors_exact_bytes)
{
    /* What HuggingFace's writer produces for {"a": tensor([1., 2.])}: compact JSON padded
     * with spaces to a multiple of 8. */
    char *dir = test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    hvp_st_writer *w;
    REQUIRE_OK(hvp_st_writer_new(&w));
    float a[2] = {1.0f, 2.0f};
    REQUIRE_OK(hvp_st_add_f32(w, "a", 1, (int[]){2}, a));
    REQUIRE_OK(hvp_st_save(w, path));
    hvp_st_writer_free(w);
    size_t size;
    unsigned char *b = test_read_file(path, &size);
    const char *want = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(want), padded = (hl + 7) / 8 * 8;
    EXPECT(size == 8 + padded + 8, "size %zu, want %zu", size, 8 + padded + 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)b[i] << (8 * i);
    EXPECT(n == padded, "header length %llu, want %zu", (unsigned long long)n, padded);
    EXPECT(size >= 8 + padded && memcmp(b + 8, want, hl) == 0, "header '%.*s'", (int)hl, (char *)b + 8);
    for (size_t i = hl; i < padded && 8 + i < size; i++)
        EXPECT(b[8 + i] == ' ', "padding byte %zu is %d", i, b[8 + i]);
    EXPECT(size == 8 + padded + 8 && memcmp(b + 8 + padded, a, 8) == 0, "data bytes");
    /* no temporary file left behind */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
    EXPECT(system(cmd) != 0, "a temporary file was left in %s", dir);
    test_rmdir(dir);
}

HVP_TEST(io_safetensors_round_trip_every_dtype)
{
    char *dir = test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    float w1[2 * 3 * 3 * 3];
    test_fill_uniform(w1, 54, -1, 1);
    int64_t nbt = 12345678901234LL;
    int32_t ix[3] = {-1, 0, 2147483647};
    uint8_t u[5] = {0, 1, 127, 128, 255};
    double dd[2] = {1e-300, -2.5};
    hvp_st_writer *w;
    REQUIRE_OK(hvp_st_writer_new(&w));
    REQUIRE_OK(hvp_st_add_f32(w, "layer1.0.conv1.weight", 4, (int[]){2, 3, 3, 3}, w1));
    REQUIRE_OK(hvp_st_add(w, "bn1.num_batches_tracked", HVP_ST_I64, 0, NULL, &nbt));
    REQUIRE_OK(hvp_st_add(w, "idx", HVP_ST_I32, 2, (int64_t[]){3, 1}, ix));
    REQUIRE_OK(hvp_st_add(w, "bytes", HVP_ST_U8, 1, (int64_t[]){5}, u));
    REQUIRE_OK(hvp_st_add(w, "dbl", HVP_ST_F64, 1, (int64_t[]){2}, dd));
    REQUIRE_OK(hvp_st_add(w, "empty", HVP_ST_F32, 2, (int64_t[]){0, 4}, NULL));
    EXPECT(hvp_st_add(w, "idx", HVP_ST_I32, 1, (int64_t[]){1}, ix) == HVP_ERR_ARG, "duplicate name accepted");
    EXPECT(hvp_st_add(w, "", HVP_ST_I32, 1, (int64_t[]){1}, ix) == HVP_ERR_ARG, "empty name accepted");
    EXPECT(hvp_st_add(w, "__metadata__", HVP_ST_I32, 1, (int64_t[]){1}, ix) == HVP_ERR_ARG,
           "__metadata__ accepted as a tensor name");
    REQUIRE_OK(hvp_st_set_metadata(w, "format", "pt"));
    REQUIRE_OK(hvp_st_set_metadata(w, "config", "[run]\nname = \"x\\y\"\t\x01 caf\xc3\xa9"));
    REQUIRE_OK(hvp_st_set_metadata(w, "format", "pt2")); /* replaces */
    REQUIRE_OK(hvp_st_save(w, path));
    hvp_st_writer_free(w);

    hvp_st_file *f;
    REQUIRE_OK(hvp_st_open(path, &f));
    EXPECT(hvp_st_count(f) == 6, "count %d", hvp_st_count(f));
    EXPECT(hvp_st_metadata_count(f) == 2, "metadata count %d", hvp_st_metadata_count(f));
    const char *fmt = hvp_st_metadata(f, "format"), *cfg = hvp_st_metadata(f, "config");
    EXPECT(fmt && strcmp(fmt, "pt2") == 0, "format '%s'", fmt ? fmt : "(null)");
    EXPECT(cfg && strcmp(cfg, "[run]\nname = \"x\\y\"\t\x01 caf\xc3\xa9") == 0, "config '%s'", cfg ? cfg : "(null)");
    /* data aligned to element size relative to the start of the file */
    for (int i = 0; i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        const hvp_st_tensor *first = hvp_st_at(f, 0);
        size_t rel = (size_t)((const char *)t->data - (const char *)first->data);
        EXPECT(rel % hvp_st_dtype_size(t->dtype) == 0, "%s misaligned at %zu", t->name, rel);
    }
    float *r1 = test_floats(54);
    REQUIRE_OK(hvp_st_get_f32(f, "layer1.0.conv1.weight", 4, (int[]){2, 3, 3, 3}, r1));
    EXPECT(memcmp(r1, w1, sizeof w1) == 0, "F32 data differs");
    int64_t rn = 0;
    REQUIRE_OK(hvp_st_get(f, "bn1.num_batches_tracked", HVP_ST_I64, 0, NULL, &rn));
    EXPECT(rn == nbt, "I64 %lld", (long long)rn);
    int32_t rix[3];
    REQUIRE_OK(hvp_st_get(f, "idx", HVP_ST_I32, 2, (int64_t[]){3, 1}, rix));
    EXPECT(memcmp(rix, ix, sizeof ix) == 0, "I32 data differs");
    uint8_t ru[5];
    REQUIRE_OK(hvp_st_get(f, "bytes", HVP_ST_U8, 1, (int64_t[]){5}, ru));
    EXPECT(memcmp(ru, u, 5) == 0, "U8 data differs");
    double rd[2];
    REQUIRE_OK(hvp_st_get(f, "dbl", HVP_ST_F64, 1, (int64_t[]){2}, rd));
    EXPECT(rd[0] == dd[0] && rd[1] == dd[1], "F64 data differs");
    const hvp_st_tensor *e = hvp_st_find(f, "empty");
    EXPECT(e && e->nbytes == 0 && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 4, "empty tensor");

    /* wrong shape, wrong dtype, absent tensor */
    EXPECT(hvp_st_get_f32(f, "layer1.0.conv1.weight", 4, (int[]){2, 3, 7, 7}, r1) == HVP_ERR_FORMAT,
           "wrong shape accepted");
    EXPECT_MSG("layer1.0.conv1.weight");
    EXPECT_MSG("expected F32 [2, 3, 7, 7], found F32 [2, 3, 3, 3]");
    EXPECT_MSG(path);
    EXPECT(hvp_st_get_f32(f, "bn1.num_batches_tracked", 0, NULL, r1) == HVP_ERR_FORMAT,
           "wrong dtype accepted");
    EXPECT_MSG("expected F32 [], found I64 []");
    EXPECT(hvp_st_get_f32(f, "fc.weight", 1, (int[]){1}, r1) == HVP_ERR_NOTFOUND, "absent tensor");
    EXPECT_MSG("no tensor 'fc.weight'");
    hvp_st_close(f);
    test_rmdir(dir);
}

HVP_TEST(io_safetensors_reads_other_writers_layout)
{
    /* whitespace, escapes and an order of keys other than ours, as other writers may use */
    const char *hdr = "{ \"w\\u00e9\\n\" : { \"shape\" : [ 2 ], \"data_offsets\" : [ 8, 10 ],\n"
                      "   \"dtype\" : \"U8\" },\n \"__metadata__\": {\"k\\\"\": \"v\\/\\ud83d\\ude00\"},"
                      " \"x\": {\"dtype\": \"F32\", \"shape\": [2, 1], \"data_offsets\": [0, 8]} }    ";
    unsigned char data[10];
    float x[2] = {3.5f, -1.0f};
    memcpy(data, x, 8);
    data[8] = 7;
    data[9] = 9;
    size_t size;
    unsigned char *b = make_file(hdr, data, sizeof data, &size);
    hvp_st_file *f;
    REQUIRE_OK(hvp_st_parse(b, size, "mem", &f));
    EXPECT(hvp_st_count(f) == 2, "count");
    EXPECT(strcmp(hvp_st_at(f, 0)->name, "x") == 0, "sorted by offset");
    const hvp_st_tensor *t = hvp_st_find(f, "w\xc3\xa9\n");
    EXPECT(t && t->dtype == HVP_ST_U8 && ((const uint8_t *)t->data)[1] == 9, "escaped name");
    const char *v = hvp_st_metadata(f, "k\"");
    EXPECT(v && strcmp(v, "v/\xf0\x9f\x98\x80") == 0, "metadata '%s'", v ? v : "(null)");
    float rx[2];
    REQUIRE_OK(hvp_st_get(f, "x", HVP_ST_F32, 2, (int64_t[]){2, 1}, rx));
    EXPECT(rx[0] == 3.5f && rx[1] == -1.0f, "values");
    hvp_st_close(f);
}

HVP_TEST(io_safetensors_rejects_malformed)
{
    static const struct {
        const char *header;
        size_t dsize;
        const char *needle;
    } bad[] = {
        {"", 0, "does not start with '{'"},
        {"[]", 0, "does not start with '{'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "at byte 60: not valid JSON"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unsupported dtype 'F33'"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "lacks dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "lacks shape"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, "unexpected or repeated field 'x'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "expected an integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9007199254740993]}}", 8, "number too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8, "expected an array"},
        {"{\"a\":[1],\"b\":{}}", 0, "tensor 'a' must be an object"},
        {"{\"a\\u0000b\":{}}", 0, "NUL character"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "2 entries"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "expected 8 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap or hole"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlap or hole"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "truncated"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "metadata values must be strings"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}} x", 1, "unexpected bytes after"},
        {"{\"a\\q\":{}}", 0, "at byte 11: not valid JSON"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, NULL /* valid */},
    };
    unsigned char zeros[16] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t size;
        unsigned char *b = make_file(bad[i].header, zeros, bad[i].dsize, &size);
        hvp_st_file *f = NULL;
        hvp_status st = hvp_st_parse(b, size, "case.safetensors", &f);
        if (!bad[i].needle) {
            EXPECT(st == HVP_OK, "valid case %zu rejected: %s", i, hvp_last_error());
            hvp_st_close(f);
            continue;
        }
        EXPECT(st == HVP_ERR_FORMAT, "case %zu accepted: %s", i, bad[i].header);
        EXPECT(!f, "case %zu: file handed out on failure", i);
        EXPECT(strstr(hvp_last_error(), bad[i].needle) && strstr(hvp_last_error(), "case.safetensors"),
               "case %zu: message lacks '%s': %s", i, bad[i].needle, hvp_last_error());
    }
    /* a header length past the end, and one beyond the 100 MB limit */
    unsigned char h[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    hvp_st_file *f = NULL;
    EXPECT(hvp_st_parse(h, 10, "x", &f) == HVP_ERR_FORMAT, "header past the end accepted");
    EXPECT_MSG("runs past the end");
    h[0] = 0;
    h[1] = 0;
    h[4] = 1;
    EXPECT(hvp_st_parse(h, 10, "x", &f) == HVP_ERR_FORMAT, "huge header accepted");
    EXPECT_MSG("exceeds 100 MB");
    EXPECT(hvp_st_parse(h, 5, "x", &f) == HVP_ERR_FORMAT, "5-byte file accepted");
    EXPECT(hvp_st_open("/nonexistent/none.safetensors", &f) == HVP_ERR_NOTFOUND, "missing file");
}

HVP_TEST(io_safetensors_truncated_and_garbled_files)
{
    char *dir = test_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    hvp_st_writer *w;
    REQUIRE_OK(hvp_st_writer_new(&w));
    float x[12];
    test_fill_uniform(x, 12, -1, 1);
    REQUIRE_OK(hvp_st_add_f32(w, "fc.weight", 2, (int[]){3, 4}, x));
    REQUIRE_OK(hvp_st_add_f32(w, "fc.bias", 1, (int[]){3}, x));
    REQUIRE_OK(hvp_st_set_metadata(w, "step", "10"));
    REQUIRE_OK(hvp_st_save(w, path));
    hvp_st_writer_free(w);
    size_t size;
    unsigned char *b = test_read_file(path, &size);
    /* every truncation is rejected as malformed */
    for (size_t n = 0; n < size; n++) {
        hvp_st_file *f = NULL;
        hvp_status st = hvp_st_parse(b, n, "t", &f);
        EXPECT(st == HVP_ERR_FORMAT, "truncated to %zu of %zu bytes: status %d", n, size, (int)st);
        hvp_st_close(f);
    }
    /* every single-byte corruption of the header is either rejected as malformed or still
     * describes a consistent file (e.g. a changed letter in a name); never a crash */
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)b[i] << (8 * i);
    int rejected = 0;
    unsigned char *c = test_alloc(size);
    for (size_t pos = 0; pos < 8 + hl; pos++)
        for (int v = 0; v < 3; v++) {
            static const unsigned char repl[3] = {'"', '9', 0x00};
            memcpy(c, b, size);
            c[pos] = c[pos] == repl[v] ? 'x' : repl[v];
            hvp_st_file *f = NULL;
            hvp_status st = hvp_st_parse(c, size, "g", &f);
            EXPECT(st == HVP_OK || st == HVP_ERR_FORMAT, "byte %zu: status %d", pos, (int)st);
            if (st == HVP_OK) {
                int64_t total = 0;
                for (int i = 0; i < hvp_st_count(f); i++)
                    total += (int64_t)hvp_st_at(f, i)->nbytes;
                EXPECT(total == 60, "byte %zu: accepted with %lld data bytes", pos, (long long)total);
            } else {
                rejected++;
            }
            hvp_st_close(f);
        }
    EXPECT(rejected > (int)hl, "only %d of %d corruptions rejected", rejected, (int)(3 * (8 + hl)));
    test_rmdir(dir);
}

HVP_TEST(io_safetensors_metadata_integers_are_strict)
{
    static const struct {
        const char *value;
        int ok;
    } cases[] = {{"12", 1}, {"0", 1}, {"-3", 1}, {"", 0}, {"-", 0}, {" 12", 0}, {"12 ", 0},
                 {"+12", 0}, {"12x", 0}, {"1e3", 0}, {"0x10", 0}, {"99999999999999999999", 0},
                 {"13", 0} /* above hi */, {"-4", 0} /* below lo */};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hvp_st_writer *w;
        REQUIRE_OK(hvp_st_writer_new(&w));
        REQUIRE_OK(hvp_st_set_metadata(w, "step", cases[i].value));
        char *dir = test_tmpdir(), path[256];
        snprintf(path, sizeof path, "%s/s.safetensors", dir);
        REQUIRE_OK(hvp_st_save(w, path));
        hvp_st_writer_free(w);
        hvp_st_file *f;
        REQUIRE_OK(hvp_st_open(path, &f));
        EXPECT(strcmp(hvp_st_name(f), path) == 0, "name %s", hvp_st_name(f));
        int64_t v = 77;
        hvp_status st = hvp_st_metadata_int(f, "step", -3, 12, &v);
        if (cases[i].ok) {
            EXPECT(st == HVP_OK && v == strtoll(cases[i].value, NULL, 10), "'%s' read as %lld",
                   cases[i].value, (long long)v);
        } else {
            EXPECT(st == HVP_ERR_FORMAT && v == 77, "'%s' accepted as %lld", cases[i].value,
                   (long long)v);
            EXPECT_MSG(path);
            EXPECT_MSG("metadata \"step\"");
            EXPECT_MSG("expected a whole number in [-3, 12]");
        }
        EXPECT(hvp_st_metadata_int(f, "epoch", 0, 1, &v) == HVP_ERR_FORMAT, "missing key accepted");
        EXPECT_MSG("no \"epoch\" in the metadata");
        hvp_st_close(f);
        test_rmdir(dir);
    }
}
