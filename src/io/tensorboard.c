/* TensorBoard event files without protobuf or TensorFlow: TFRecord framing
 *   uint64 length, uint32 masked CRC-32C of the length, data, uint32 masked CRC-32C of data
 * around hand-encoded tensorflow.Event messages:
 *   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
 *   Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; } */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hvp/checkpoint.h"
#include "hvp/logs.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1; /* Castagnoli, reflected */
        crc_table[i] = c;
    }
}

uint32_t hvp_crc32c(const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

uint32_t hvp_crc32c_masked(const void *data, size_t n)
{
    uint32_t c = hvp_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf encoding into a small buffer ---------------------------------------- */
typedef struct pb {
    unsigned char b[1024];
    size_t n;
    int overflow;
} pb;

static void pb_byte(pb *p, unsigned char c)
{
    if (p->n < sizeof p->b)
        p->b[p->n++] = c;
    else
        p->overflow = 1;
}

static void pb_varint(pb *p, uint64_t v)
{
    while (v >= 0x80) {
        pb_byte(p, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    pb_byte(p, (unsigned char)v);
}

static void pb_bytes(pb *p, int field, const void *data, size_t n)
{
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, n);
    for (size_t i = 0; i < n; i++)
        pb_byte(p, ((const unsigned char *)data)[i]);
}

static void pb_fixed(pb *p, int field, int wire, const void *le, int n)
{
    pb_varint(p, (uint64_t)field << 3 | (uint64_t)wire);
    for (int i = 0; i < n; i++)
        pb_byte(p, ((const unsigned char *)le)[i]); /* the host is little-endian */
}

struct hvp_tb {
    FILE *f;
    char path[1200];
};

const char *hvp_tb_path(const hvp_tb *tb) { return tb->path; }

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static hvp_status write_record(hvp_tb *tb, const unsigned char *data, size_t n)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    uint32_t c1 = hvp_crc32c_masked(len, 8), c2 = hvp_crc32c_masked(data, n);
    unsigned char crc1[4], crc2[4];
    for (int i = 0; i < 4; i++) {
        crc1[i] = (unsigned char)(c1 >> (8 * i));
        crc2[i] = (unsigned char)(c2 >> (8 * i));
    }
    if (fwrite(len, 1, 8, tb->f) != 8 || fwrite(crc1, 1, 4, tb->f) != 4 ||
        fwrite(data, 1, n, tb->f) != n || fwrite(crc2, 1, 4, tb->f) != 4)
        return HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", tb->path, strerror(errno));
    return HVP_OK;
}

static void event_head(pb *e, int64_t step)
{
    double t = wall_time();
    pb_fixed(e, 1, 1, &t, 8);
    pb_varint(e, 2 << 3 | 0);
    pb_varint(e, (uint64_t)step);
}

hvp_status hvp_tb_open(const char *dir, hvp_tb **out)
{
    *out = NULL;
    HVP_TRY(hvp_mkdirs(dir));
    hvp_tb *tb = calloc(1, sizeof *tb);
    if (!tb)
        return HVP_FAIL(HVP_ERR_NOMEM, "TensorBoard writer");
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0)
        strcpy(host, "localhost");
    long now = (long)time(NULL);
    snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%ld.%s", dir, now, host);
    /* never append to another writer's file: a second writer in the same second gets a
     * suffix */
    struct stat sb;
    for (int k = 1; stat(tb->path, &sb) == 0; k++)
        snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%ld.%s.%d", dir, now, host, k);
    tb->f = fopen(tb->path, "wb");
    if (!tb->f) {
        hvp_status st = HVP_FAIL(HVP_ERR_IO, "cannot create '%s': %s", tb->path, strerror(errno));
        free(tb);
        return st;
    }
    pb e = {.n = 0};
    event_head(&e, 0);
    pb_bytes(&e, 3, "brain.Event:2", 13);
    hvp_status st = write_record(tb, e.b, e.n);
    if (st == HVP_OK)
        st = hvp_tb_flush(tb);
    if (st != HVP_OK) {
        hvp_tb_close(tb);
        return st;
    }
    *out = tb;
    return HVP_OK;
}

hvp_status hvp_tb_scalar(hvp_tb *tb, const char *tag, int64_t step, double value)
{
    size_t tlen = strlen(tag);
    if (tlen == 0 || tlen > 512)
        return HVP_FAIL(HVP_ERR_ARG, "TensorBoard tag of %zu bytes", tlen);
    pb v = {.n = 0};
    pb_bytes(&v, 1, tag, tlen);
    float f = (float)value;
    pb_fixed(&v, 2, 5, &f, 4);
    pb s = {.n = 0};
    pb_bytes(&s, 1, v.b, v.n);
    pb e = {.n = 0};
    event_head(&e, step);
    pb_bytes(&e, 5, s.b, s.n);
    if (v.overflow || s.overflow || e.overflow)
        return HVP_FAIL(HVP_ERR_ARG, "TensorBoard event for '%s' too large", tag);
    HVP_TRY(write_record(tb, e.b, e.n));
    return hvp_tb_flush(tb);
}

hvp_status hvp_tb_flush(hvp_tb *tb)
{
    if (fflush(tb->f) != 0)
        return HVP_FAIL(HVP_ERR_IO, "writing '%s': %s", tb->path, strerror(errno));
    return HVP_OK;
}

hvp_status hvp_tb_close(hvp_tb *tb)
{
    if (!tb)
        return HVP_OK;
    hvp_status st = HVP_OK;
    if (tb->f && fclose(tb->f) != 0)
        st = HVP_FAIL(HVP_ERR_IO, "closing '%s': %s", tb->path, strerror(errno));
    free(tb);
    return st;
}
