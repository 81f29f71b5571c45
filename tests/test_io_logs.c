/* Logs: CRC-32C known answers, TensorBoard event files decoded back (TFRecord framing and
 * the Event protobuf), CSV/JSONL metrics, the progress line. Host only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/logs.h"

#define EXPECT_MSG(needle)                                                               \
    EXPECT(strstr(hvp_last_error(), needle), "message lacks '%s': %s", needle, hvp_last_error())

HVP_TEST(io_crc32c_known_answers)
{
    /* "123456789" is the standard check value; the 32-byte vectors are from RFC 3720
     * (iSCSI), appendix B.4. */
    EXPECT(hvp_crc32c("123456789", 9) == 0xE3069283u, "check value %08x", hvp_crc32c("123456789", 9));
    EXPECT(hvp_crc32c("", 0) == 0, "empty");
    unsigned char b[32];
    memset(b, 0, 32);
    EXPECT(hvp_crc32c(b, 32) == 0x8A9136AAu, "zeros %08x", hvp_crc32c(b, 32));
    memset(b, 0xff, 32);
    EXPECT(hvp_crc32c(b, 32) == 0x62A8AB43u, "ones %08x", hvp_crc32c(b, 32));
    for (int i = 0; i < 32; i++)
        b[i] = (unsigned char)i;
    EXPECT(hvp_crc32c(b, 32) == 0x46DD794Eu, "ascending %08x", hvp_crc32c(b, 32));
    uint32_t c = hvp_crc32c("123456789", 9);
    EXPECT(hvp_crc32c_masked("123456789", 9) == ((c >> 15) | (c << 17)) + 0xa282ead8u, "mask");
}

/* ---- a minimal protobuf/TFRecord decoder, independent of the writer ----------------- */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return 1;
    }
    return 0;
}

typedef struct event {
    double wall_time;
    int64_t step;
    char file_version[64];
    char tag[64];
    float value;
    int has_value;
} event;

/* Decodes one message body; fields we do not know fail the test. */
static int decode_value(const unsigned char *p, const unsigned char *end, event *e)
{
    while (p < end) {
        uint64_t key, len;
        if (!get_varint(&p, end, &key))
            return 0;
        if (key == (1 << 3 | 2)) {
            if (!get_varint(&p, end, &len) || len >= sizeof e->tag || (size_t)(end - p) < len)
                return 0;
            memcpy(e->tag, p, len);
            e->tag[len] = 0;
            p += len;
        } else if (key == (2 << 3 | 5)) {
            if (end - p < 4)
                return 0;
            memcpy(&e->value, p, 4);
            e->has_value = 1;
            p += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int decode_event(const unsigned char *p, const unsigned char *end, event *e)
{
    memset(e, 0, sizeof *e);
    while (p < end) {
        uint64_t key, v, len;
        if (!get_varint(&p, end, &key))
            return 0;
        switch (key) {
        case 1 << 3 | 1:
            if (end - p < 8)
                return 0;
            memcpy(&e->wall_time, p, 8);
            p += 8;
            break;
        case 2 << 3 | 0:
            if (!get_varint(&p, end, &v))
                return 0;
            e->step = (int64_t)v;
            break;
        case 3 << 3 | 2:
            if (!get_varint(&p, end, &len) || len >= sizeof e->file_version || (size_t)(end - p) < len)
                return 0;
            memcpy(e->file_version, p, len);
            p += len;
            break;
        case 5 << 3 | 2: { /* Summary { repeated Value value = 1; } */
            if (!get_varint(&p, end, &len) || (size_t)(end - p) < len)
                return 0;
            const unsigned char *s = p, *send = p + len;
            p += len;
            uint64_t k2, l2;
            if (!get_varint(&s, send, &k2) || k2 != (1 << 3 | 2) || !get_varint(&s, send, &l2) ||
                (size_t)(send - s) != l2)
                return 0;
            if (!decode_value(s, send, e))
                return 0;
            break;
        }
        default:
            return 0;
        }
    }
    return 1;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

HVP_TEST(io_tensorboard_events_decode_back)
{
    char *dir = test_tmpdir();
    char logdir[300];
    snprintf(logdir, sizeof logdir, "%s/tb", dir);
    hvp_tb *tb;
    REQUIRE_OK(hvp_tb_open(logdir, &tb));
    const char *path = hvp_tb_path(tb);
    EXPECT(strstr(path, "/tb/events.out.tfevents.") != NULL, "file name %s", path);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    EXPECT(strstr(path, host) != NULL, "host name missing in %s", path);
    static const struct {
        const char *tag;
        int64_t step;
        double value;
    } sc[] = {{"train/loss", 1, -0.5}, {"train/lr", 1, 0.05}, {"train/loss", 2, -0.75},
              {"eval/knn_top1", 300, 41.25}, {"train/loss", 5000000000LL, 1e-3}};
    int n = (int)(sizeof sc / sizeof sc[0]);
    for (int i = 0; i < n; i++)
        REQUIRE_OK(hvp_tb_scalar(tb, sc[i].tag, sc[i].step, sc[i].value));
    EXPECT(hvp_tb_scalar(tb, "", 1, 0) == HVP_ERR_ARG, "empty tag accepted");
    char saved_path[600];
    snprintf(saved_path, sizeof saved_path, "%s", path);
    REQUIRE_OK(hvp_tb_close(tb));

    size_t size;
    unsigned char *b = test_read_file(saved_path, &size);
    const unsigned char *p = b, *end = b + size;
    double now = (double)time(NULL);
    int rec = 0;
    while (p < end) {
        if (end - p < 12) {
            TEST_FAIL("record %d: %zu stray bytes", rec, (size_t)(end - p));
            break;
        }
        uint64_t len = 0;
        for (int i = 0; i < 8; i++)
            len |= (uint64_t)p[i] << (8 * i);
        EXPECT(le32(p + 8) == hvp_crc32c_masked(p, 8), "record %d: length CRC", rec);
        if ((uint64_t)(end - p) < 16 + len) {
            TEST_FAIL("record %d: truncated", rec);
            break;
        }
        const unsigned char *data = p + 12;
        EXPECT(le32(data + len) == hvp_crc32c_masked(data, len), "record %d: data CRC", rec);
        event e;
        EXPECT(decode_event(data, data + len, &e), "record %d: undecodable event", rec);
        EXPECT(fabs(e.wall_time - now) < 60, "record %d: wall_time %f", rec, e.wall_time);
        if (rec == 0) {
            EXPECT(strcmp(e.file_version, "brain.Event:2") == 0, "file_version '%s'", e.file_version);
            EXPECT(!e.has_value, "first event has a value");
        } else if (rec <= n) {
            int i = rec - 1;
            EXPECT(strcmp(e.tag, sc[i].tag) == 0, "record %d: tag '%s'", rec, e.tag);
            EXPECT(e.step == sc[i].step, "record %d: step %lld", rec, (long long)e.step);
            EXPECT(e.has_value && e.value == (float)sc[i].value, "record %d: value %g", rec, e.value);
        }
        p = data + len + 4;
        rec++;
    }
    EXPECT(rec == n + 1, "%d records, want %d", rec, n + 1);

    /* a second writer in the same directory (and second) gets its own file */
    hvp_tb *t1, *t2;
    REQUIRE_OK(hvp_tb_open(logdir, &t1));
    REQUIRE_OK(hvp_tb_open(logdir, &t2));
    EXPECT(strcmp(hvp_tb_path(t1), hvp_tb_path(t2)) != 0, "two writers share %s", hvp_tb_path(t1));
    REQUIRE_OK(hvp_tb_close(t1));
    REQUIRE_OK(hvp_tb_close(t2));
    test_rmdir(dir);
}

HVP_TEST(io_metrics_csv_and_jsonl)
{
    char *dir = test_tmpdir();
    char csv[300], jsonl[300];
    snprintf(csv, sizeof csv, "%s/steps.csv", dir);
    snprintf(jsonl, sizeof jsonl, "%s/steps.jsonl", dir);
    hvp_metrics *c, *j;
    REQUIRE_OK(hvp_metrics_open(csv, HVP_METRICS_CSV, &c));
    REQUIRE_OK(hvp_metrics_open(jsonl, HVP_METRICS_JSONL, &j));
    hvp_metric r1[] = {{"step", 1}, {"epoch", 1}, {"loss", -0.123456789012}, {"lr", 0.05}};
    hvp_metric r2[] = {{"loss", NAN}, {"step", 2}, {"lr", 1e-7}}; /* other order, no epoch */
    REQUIRE_OK(hvp_metrics_row(c, r1, 4));
    REQUIRE_OK(hvp_metrics_row(j, r1, 4));
    REQUIRE_OK(hvp_metrics_row(c, r2, 3));
    REQUIRE_OK(hvp_metrics_row(j, r2, 3));
    hvp_metric bad[] = {{"step", 3}, {"img_per_s", 100}};
    EXPECT(hvp_metrics_row(c, bad, 2) == HVP_ERR_ARG, "new column accepted");
    EXPECT_MSG("'img_per_s' is not a column");
    hvp_metric comma[] = {{"a,b", 1}};
    EXPECT(hvp_metrics_row(j, comma, 1) == HVP_ERR_ARG, "comma in a key accepted");
    REQUIRE_OK(hvp_metrics_close(c));
    REQUIRE_OK(hvp_metrics_close(j));

    /* a resumed run appends under the existing header */
    REQUIRE_OK(hvp_metrics_open(csv, HVP_METRICS_CSV, &c));
    hvp_metric r3[] = {{"step", 3}, {"loss", 2.5}};
    REQUIRE_OK(hvp_metrics_row(c, r3, 2));
    REQUIRE_OK(hvp_metrics_close(c));

    size_t size;
    const char *text = (const char *)test_read_file(csv, &size);
    const char *want_csv = "step,epoch,loss,lr\n"
                           "1,1,-0.123456789,0.05\n"
                           "2,,nan,1e-07\n"
                           "3,,2.5,\n";
    EXPECT(strcmp(text, want_csv) == 0, "csv:\n%s", text);
    text = (const char *)test_read_file(jsonl, &size);
    const char *want_jsonl = "{\"step\": 1, \"epoch\": 1, \"loss\": -0.123456789, \"lr\": 0.05}\n"
                             "{\"loss\": null, \"step\": 2, \"lr\": 1e-07}\n";
    EXPECT(strcmp(text, want_jsonl) == 0, "jsonl:\n%s", text);
    EXPECT(hvp_metrics_open("/nonexistent/dir/x.csv", HVP_METRICS_CSV, &c) == HVP_ERR_IO, "bad path");

    /* resumed by a newer hvp that logs more: the header gains the columns, earlier rows
     * leave them empty; once a row is written, a new column is an error again */
    REQUIRE_OK(hvp_metrics_open(csv, HVP_METRICS_CSV, &c));
    hvp_metric r4[] = {{"step", 4}, {"flops", 7}, {"loss", 1}, {"seconds", 2}};
    REQUIRE_OK(hvp_metrics_row(c, r4, 4));
    EXPECT(hvp_metrics_row(c, bad, 2) == HVP_ERR_ARG, "new column accepted after a row");
    REQUIRE_OK(hvp_metrics_close(c));
    text = (const char *)test_read_file(csv, &size);
    const char *wider = "step,epoch,loss,lr,flops,seconds\n"
                        "1,1,-0.123456789,0.05,,\n"
                        "2,,nan,1e-07,,\n"
                        "3,,2.5,,,\n"
                        "4,,1,,7,2\n";
    EXPECT(strcmp(text, wider) == 0, "widened csv:\n%s", text);
    test_rmdir(dir);
}

HVP_TEST(io_progress_line)
{
    char buf[256];
    hvp_progress_format(buf, sizeof buf, 3, 100, 120, 195, -0.81234, 0.05, 812.44, 3723);
    EXPECT(strcmp(buf, "epoch 3/100 step 120/195 loss -0.8123 lr 0.05 812.4 img/s ETA 1:02:03") == 0,
           "'%s'", buf);
    hvp_progress_format(buf, sizeof buf, 1, 1, 1, 1, 0, 0, 0, -1);
    EXPECT(strstr(buf, "ETA ?") != NULL, "'%s'", buf);
    hvp_progress_format(buf, sizeof buf, 1, 1, 1, 1, 0, 0, 0, 65);
    EXPECT(strstr(buf, "ETA 1:05") != NULL, "'%s'", buf);

    /* plain lines (not a terminal): every N steps and at the end of each epoch */
    char *out = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&out, &size);
    hvp_progress p;
    hvp_progress_init(&p, f, 0, 4, 20, 0);
    EXPECT(!p.in_place, "a memory stream taken for a terminal");
    for (int g = 1; g <= 20; g++)
        hvp_progress_step(&p, g, (g - 1) / 10 + 1, 2, (g - 1) % 10 + 1, 10, 1.0 / g, 0.1, 32);
    hvp_progress_break(&p);
    fclose(f);
    int lines = 0;
    for (char *s = out; *s; s++)
        lines += *s == '\n';
    /* steps 4, 8, 10 of each epoch */
    EXPECT(lines == 6, "%d lines:\n%s", lines, out);
    EXPECT(strstr(out, "epoch 1/2 step 10/10") && strstr(out, "epoch 2/2 step 8/10") && !strchr(out, '\r'),
           "lines:\n%s", out);
    free(out);

    /* in place: '\r' redraws, a newline at the end of each epoch */
    out = NULL;
    f = open_memstream(&out, &size);
    hvp_progress_init(&p, f, 1, 4, 6, 0);
    for (int g = 1; g <= 6; g++)
        hvp_progress_step(&p, g, (g - 1) / 3 + 1, 2, (g - 1) % 3 + 1, 3, 0.5, 0.1, 8);
    hvp_progress_break(&p);
    fclose(f);
    EXPECT(strchr(out, '\r') && strstr(out, "epoch 1/2 step 3/3") && strstr(out, "epoch 2/2 step 3/3"),
           "in place:\n%s", out);
    lines = 0;
    for (char *s = out; *s; s++)
        lines += *s == '\n';
    EXPECT(lines == 2, "%d newlines in place", lines);
    free(out);

    /* off: nothing at all */
    out = NULL;
    f = open_memstream(&out, &size);
    hvp_progress_init(&p, f, 3, 1, 6, 0);
    for (int g = 1; g <= 6; g++)
        hvp_progress_step(&p, g, 1, 1, g, 6, 0.5, 0.1, 8);
    hvp_progress_break(&p);
    fclose(f);
    EXPECT(size == 0, "progress off printed '%s'", out);
    free(out);
}
