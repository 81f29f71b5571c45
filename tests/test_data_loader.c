/* The loader: order determinism, rank split, identical batches for any number of workers,
 * drop_last, bad files skipped/counted/reported, shutdown mid-epoch, an epoch started at a
 * later batch. Host only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "test_data_util.h"

HVP_TEST(data_order_deterministic)
{
    int64_t n = 1000;
    int64_t *a = test_alloc(n * sizeof *a), *b = test_alloc(n * sizeof *b),
            *c = test_alloc(n * sizeof *c);
    REQUIRE_OK(hvp_loader_order(n, 7, 3, 1, 0, 1, a));
    REQUIRE_OK(hvp_loader_order(n, 7, 3, 1, 0, 1, b));
    REQUIRE_OK(hvp_loader_order(n, 7, 4, 1, 0, 1, c));
    EXPECT(memcmp(a, b, n * sizeof *a) == 0, "same seed and epoch, different orders");
    int same = 0, fixed = 0;
    char *seen = test_alloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        same += a[i] == c[i];
        fixed += a[i] == i;
        if (a[i] >= 0 && a[i] < n)
            seen[a[i]]++;
    }
    for (int64_t i = 0; i < n; i++)
        EXPECT(seen[i] == 1, "item %lld appears %d times", (long long)i, seen[i]);
    /* A random permutation has ~1 fixed point and ~1 agreement with another. */
    EXPECT(same < 10, "epochs 3 and 4 agree at %d of %lld positions", same, (long long)n);
    EXPECT(fixed < 10, "%d fixed points", fixed);
    REQUIRE_OK(hvp_loader_order(n, 8, 3, 1, 0, 1, b));
    EXPECT(memcmp(a, b, n * sizeof *a) != 0, "seeds 7 and 8 give the same order");
    REQUIRE_OK(hvp_loader_order(n, 7, 3, 0, 0, 1, b));
    for (int64_t i = 0; i < n; i++)
        EXPECT(b[i] == i, "unshuffled order[%lld] = %lld", (long long)i, (long long)b[i]);
}

HVP_TEST(data_rank_split_disjoint_and_covering)
{
    int64_t n = 103;
    int world = 4;
    int64_t share = hvp_loader_share(n, 0, world);
    EXPECT(share == 25, "share %lld", (long long)share);
    int64_t *all = test_alloc(sizeof(int64_t) * (size_t)n), *full = test_alloc(sizeof(int64_t) * (size_t)n);
    char *seen = test_alloc((size_t)n);
    REQUIRE_OK(hvp_loader_order(n, 1, 2, 1, 0, 1, full));
    for (int r = 0; r < world; r++) {
        REQUIRE_OK(hvp_loader_order(n, 1, 2, 1, r, world, all + r * share));
        for (int64_t k = 0; k < share; k++) {
            int64_t i = all[r * share + k];
            EXPECT(i == full[r + k * world], "rank %d item %lld is not the strided share", r,
                   (long long)k);
            if (i >= 0 && i < n)
                seen[i]++;
        }
    }
    int covered = 0;
    for (int64_t i = 0; i < n; i++) {
        EXPECT(seen[i] <= 1, "item %lld on %d ranks", (long long)i, seen[i]);
        covered += seen[i];
    }
    EXPECT(covered == world * share, "%d items covered, want %lld", covered,
           (long long)(world * share));
    EXPECT(hvp_loader_order(n, 1, 2, 1, 4, 4, all) == HVP_ERR_ARG, "rank 4 of 4 accepted");
}

/* n PPMs of varying sizes (a few bad) in a labeled folder of 3 classes. */
static hvp_dataset *make_dataset(const char *d, int n, int bad_every)
{
    const char *cls[3] = {"c0", "c1", "c2"};
    for (int c = 0; c < 3; c++)
        td_mkdir(td_path(d, cls[c]));
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s/%03d.ppm", cls[i * 3 / n], i); /* index i */
        int h = 3 + i % 5, w = 4 + i % 7;
        if (bad_every && i % bad_every == bad_every - 1)
            td_write(td_path(d, name), "P6\n9 9\n255\n", 11); /* truncated */
        else
            td_write_ppm(td_path(d, name), td_pattern(h, w, 3, i), h, w, 3);
    }
    hvp_dataset_opts o = {HVP_DATA_IMAGEFOLDER, d, NULL, 3};
    hvp_dataset *ds = NULL;
    if (hvp_dataset_open(&o, &ds) != HVP_OK)
        TEST_FAIL("open: %s", hvp_last_error());
    return ds;
}

typedef struct warn_log {
    int count;
    char first[256];
} warn_log;

static void on_warn(void *user, const char *item, const char *why)
{
    warn_log *w = user;
    if (!w->count++)
        snprintf(w->first, sizeof w->first, "%s", item);
    (void)why;
}

/* All batches of epochs 0 and 1, serialised, for comparing runs. */
typedef struct run_result {
    uint8_t *bytes;
    size_t n, cap;
    int64_t batches[2], skipped[2], warnings;
    int last_count;
} run_result;

static void append(run_result *r, const void *p, size_t n)
{
    if (r->n + n > r->cap) {
        r->cap = (r->n + n) * 2;
        r->bytes = realloc(r->bytes, r->cap);
    }
    memcpy(r->bytes + r->n, p, n);
    r->n += n;
}

static int run_loader(const hvp_dataset *ds, int workers, int batch, int drop_last, int world,
                      int rank, run_result *r)
{
    memset(r, 0, sizeof *r);
    warn_log w = {0};
    hvp_loader_opts o = {0};
    o.batch_size = batch;
    o.workers = workers;
    o.prefetch = workers ? 3 : 0;
    o.shuffle = 1;
    o.drop_last = drop_last;
    o.seed = 42;
    o.rank = rank;
    o.world = world;
    o.warn = on_warn;
    o.warn_user = &w;
    hvp_loader *l;
    if (hvp_loader_create(ds, &o, &l) != HVP_OK) {
        TEST_FAIL("loader: %s", hvp_last_error());
        return 0;
    }
    hvp_decoder *dec;
    hvp_decoder_create(&dec);
    hvp_decoded img = {0};
    for (int e = 0; e < 2; e++) {
        if (hvp_loader_start_epoch(l, e) != HVP_OK)
            TEST_FAIL("start: %s", hvp_last_error());
        const hvp_image_batch *b;
        for (;;) {
            if (hvp_loader_next(l, &b) != HVP_OK) {
                TEST_FAIL("next: %s", hvp_last_error());
                break;
            }
            if (!b)
                break;
            r->batches[e]++;
            r->last_count = b->count;
            append(r, &b->count, sizeof b->count);
            append(r, b->pixels, b->bytes);
            append(r, b->offsets, sizeof *b->offsets * (size_t)b->count);
            append(r, b->heights, sizeof *b->heights * (size_t)b->count);
            append(r, b->widths, sizeof *b->widths * (size_t)b->count);
            append(r, b->labels, sizeof *b->labels * (size_t)b->count);
            append(r, b->indices, sizeof *b->indices * (size_t)b->count);
            /* Every image is its dataset item, decoded. */
            for (int k = 0; k < b->count; k++) {
                if (hvp_dataset_decode(ds, dec, b->indices[k], &img) != HVP_OK) {
                    TEST_FAIL("batch holds bad item %lld", (long long)b->indices[k]);
                    continue;
                }
                size_t bytes = (size_t)img.height * img.width * img.channels;
                EXPECT(img.height == b->heights[k] && img.width == b->widths[k] &&
                           img.label == b->labels[k] && b->channels == 3 &&
                           memcmp(img.pixels, b->pixels + b->offsets[k], bytes) == 0 &&
                           (k == 0 || b->offsets[k] == b->offsets[k - 1] +
                                          (size_t)b->heights[k - 1] * b->widths[k - 1] * 3),
                       "batch image %d is not item %lld", k, (long long)b->indices[k]);
            }
        }
        hvp_loader_stats st = hvp_loader_get_stats(l);
        r->skipped[e] = st.skipped;
        EXPECT(st.batches == r->batches[e] && st.wait_seconds >= 0, "stats: %lld batches",
               (long long)st.batches);
    }
    r->warnings = w.count;
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    hvp_loader_destroy(l);
    return 1;
}

HVP_TEST(data_loader_same_batches_any_workers)
{
    const char *d = td_dir();
    hvp_dataset *ds = make_dataset(d, 40, 9); /* items 8, 17, 26, 35 are bad */
    run_result r0, r1, r3;
    run_loader(ds, 0, 7, 0, 1, 0, &r0);
    run_loader(ds, 1, 7, 0, 1, 0, &r1);
    run_loader(ds, 3, 7, 0, 1, 0, &r3);
    EXPECT(r0.batches[0] == 6 && r0.batches[1] == 6 && r0.last_count == 5,
           "%lld batches, last of %d", (long long)r0.batches[0], r0.last_count);
    EXPECT(r0.skipped[0] == 4 && r0.skipped[1] == 4 && r0.warnings == 8,
           "skipped %lld + %lld, %lld warnings, want 4 + 4, 8", (long long)r0.skipped[0],
           (long long)r0.skipped[1], (long long)r0.warnings);
    EXPECT(r0.n == r1.n && memcmp(r0.bytes, r1.bytes, r0.n) == 0, "0 and 1 workers differ");
    EXPECT(r0.n == r3.n && memcmp(r0.bytes, r3.bytes, r0.n) == 0, "0 and 3 workers differ");
    EXPECT(r3.skipped[0] == 4 && r3.warnings == 8, "3 workers: skipped %lld",
           (long long)r3.skipped[0]);
    free(r0.bytes);
    free(r1.bytes);
    free(r3.bytes);

    /* drop_last, and a rank's share. */
    run_result a;
    run_loader(ds, 2, 7, 1, 1, 0, &a);
    EXPECT(a.batches[0] == 5 && a.last_count == 7, "drop_last: %lld batches, last of %d",
           (long long)a.batches[0], a.last_count);
    free(a.bytes);
    run_loader(ds, 2, 4, 0, 3, 1, &a); /* 13 items: 4 batches, the last of 1 */
    EXPECT(a.batches[0] == 4 && a.last_count == 1, "rank 1 of 3: %lld batches, last of %d",
           (long long)a.batches[0], a.last_count);
    free(a.bytes);
    hvp_dataset_close(ds);
    td_cleanup();
}

HVP_TEST(data_loader_bad_file_fill_rule)
{
    const char *d = td_dir();
    hvp_dataset *ds = make_dataset(d, 12, 3); /* items 2, 5, 8, 11 bad */
    if (!ds)
        return;
    hvp_loader_opts o = {0};
    o.batch_size = 12;
    o.workers = 2;
    hvp_loader *l;
    REQUIRE_OK(hvp_loader_create(ds, &o, &l)); /* unshuffled: order = 0..11 */
    REQUIRE_OK(hvp_loader_start_epoch(l, 0));
    const hvp_image_batch *b;
    REQUIRE_OK(hvp_loader_next(l, &b));
    int64_t want[12] = {0, 1, 3, 3, 4, 6, 6, 7, 9, 9, 10, 0}; /* the last wraps to order[0] */
    for (int k = 0; b && k < 12; k++)
        EXPECT(b->indices[k] == want[k], "slot %d holds %lld, want %lld", k,
               (long long)b->indices[k], (long long)want[k]);
    EXPECT(hvp_loader_get_stats(l).skipped == 4, "skipped %lld",
           (long long)hvp_loader_get_stats(l).skipped);
    REQUIRE_OK(hvp_loader_next(l, &b));
    EXPECT(b == NULL, "a second batch");
    hvp_loader_destroy(l);
    hvp_dataset_close(ds);
    td_cleanup();
}

HVP_TEST(data_loader_stop_mid_epoch)
{
    const char *d = td_dir();
    hvp_dataset *ds = make_dataset(d, 60, 0);
    if (!ds)
        return;
    for (int workers = 0; workers <= 4; workers += 2) {
        hvp_loader_opts o = {0};
        o.batch_size = 4;
        o.workers = workers;
        o.shuffle = 1;
        hvp_loader *l;
        REQUIRE_OK(hvp_loader_create(ds, &o, &l));
        const hvp_image_batch *b;
        EXPECT(hvp_loader_next(l, &b) == HVP_ERR_ARG, "next before start_epoch");
        REQUIRE_OK(hvp_loader_start_epoch(l, 0));
        REQUIRE_OK(hvp_loader_next(l, &b));
        REQUIRE_OK(hvp_loader_next(l, &b));
        /* Restart mid-epoch: the new epoch starts from its first batch. */
        REQUIRE_OK(hvp_loader_start_epoch(l, 5));
        REQUIRE_OK(hvp_loader_next(l, &b));
        int64_t *order = test_alloc(60 * sizeof *order);
        REQUIRE_OK(hvp_loader_order(60, 0, 5, 1, 0, 1, order));
        for (int k = 0; b && k < 4; k++)
            EXPECT(b->indices[k] == order[k], "after restart slot %d = %lld, want %lld", k,
                   (long long)b->indices[k], (long long)order[k]);
        EXPECT(hvp_loader_get_stats(l).batches == 1, "stats not reset");
        hvp_loader_destroy(l); /* mid-epoch, workers busy */
    }
    hvp_dataset_close(ds);
    td_cleanup();
}

/* Batches first.. of epoch 3, serialised as run_loader does (bad files included). */
static int64_t epoch_from(const hvp_dataset *ds, int workers, int64_t first, run_result *r)
{
    memset(r, 0, sizeof *r);
    hvp_loader_opts o = {0};
    o.batch_size = 5;
    o.workers = workers;
    o.shuffle = 1;
    o.seed = 9;
    hvp_loader *l;
    if (hvp_loader_create(ds, &o, &l) != HVP_OK || hvp_loader_start_epoch_at(l, 3, first)) {
        TEST_FAIL("loader from batch %lld: %s", (long long)first, hvp_last_error());
        return -1;
    }
    const hvp_image_batch *b;
    int64_t n = 0;
    for (; hvp_loader_next(l, &b) == HVP_OK && b; n++) {
        append(r, b->pixels, b->bytes);
        append(r, b->indices, sizeof *b->indices * (size_t)b->count);
    }
    EXPECT(hvp_loader_get_stats(l).batches == n, "stats count %lld batches, %lld delivered",
           (long long)hvp_loader_get_stats(l).batches, (long long)n);
    hvp_loader_destroy(l);
    return n;
}

HVP_TEST(data_loader_starts_an_epoch_at_a_batch)
{
    const char *d = td_dir();
    hvp_dataset *ds = make_dataset(d, 23, 4); /* 5 batches of 5, the last of 3; 5 bad items */
    if (!ds)
        return;
    run_result whole, part;
    REQUIRE_OK(epoch_from(ds, 0, 0, &whole) == 5 ? HVP_OK : HVP_ERR_ARG);
    for (int workers = 0; workers <= 3; workers += 3)
        for (int64_t first = 0; first <= 5; first++) {
            int64_t n = epoch_from(ds, workers, first, &part);
            /* the tail of the whole epoch: its last part.n bytes */
            EXPECT(n == 5 - first && part.n <= whole.n &&
                       (n == 0 || memcmp(part.bytes, whole.bytes + whole.n - part.n, part.n) == 0),
                   "%d workers, from batch %lld: %lld batches, not the whole epoch's last ones",
                   workers, (long long)first, (long long)n);
            free(part.bytes);
        }
    free(whole.bytes);
    hvp_loader *l;
    hvp_loader_opts o = {0};
    o.batch_size = 5;
    REQUIRE_OK(hvp_loader_create(ds, &o, &l));
    EXPECT(hvp_loader_start_epoch_at(l, 0, 6) == HVP_ERR_ARG, "batch 6 of 5 accepted");
    EXPECT(hvp_loader_start_epoch_at(l, 0, -1) == HVP_ERR_ARG, "batch -1 accepted");
    hvp_loader_destroy(l);
    hvp_dataset_close(ds);
    td_cleanup();
}
