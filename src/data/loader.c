/* The loader: worker threads decode the images of an epoch's order into a ring of batch
 * slots; the consumer takes whole batches in order. Work items are order positions, claimed
 * in increasing order under one mutex; a worker writes only its position's slot entries, so
 * a batch is the same whatever the number of workers. The worker that completes a batch
 * packs its images back to back (hvp_image_batch) and marks it ready. A slot is refilled only
 * after the consumer has released the batch it held (the next call of hvp_loader_next). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/dataset.h"
#include "hvp/rng.h"

#define WARN_SIZE 1024

typedef struct slot {
    hvp_image_batch batch;
    size_t pixel_capacity;
    hvp_decoded *images; /* [B], one per position, buffers kept */
    char (*warn)[WARN_SIZE]; /* [B] "item\0why" of the position's own bad file, or "" */
    int count, remaining, ready;
    int64_t skipped;
    hvp_status err;
    char errmsg[1024];
} slot;

struct hvp_loader {
    const hvp_dataset *ds;
    hvp_loader_opts o;
    int64_t share, nbatches, total_items;
    int64_t *order;
    int nslots;
    slot *slots;
    hvp_decoder **decoders; /* [max(workers, 1)] */
    pthread_t *threads;
    int nthreads;

    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    atomic_int stop;
    int active;           /* an epoch has been started */
    int64_t next_item;    /* next order position to claim */
    int64_t released;     /* batches given back by the consumer */
    int64_t consumed;     /* batches handed to the consumer */
    int holding;          /* the consumer holds batch consumed - 1 */
    int inflight;         /* positions claimed and not finished */
    hvp_loader_stats stats;
};

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the order ------------------------------------------------------------------------------ */

int64_t hvp_loader_share(int64_t n, int rank, int world)
{
    if (world <= 0)
        world = 1;
    (void)rank;
    return n / world;
}

hvp_status hvp_loader_order(int64_t n, uint64_t seed, int64_t epoch, int shuffle, int rank,
                            int world, int64_t *order)
{
    if (world <= 0)
        world = 1;
    if (rank < 0 || rank >= world)
        return HVP_FAIL(HVP_ERR_ARG, "rank %d out of range for world %d", rank, world);
    if (n < 0 || n > (int64_t)UINT32_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "dataset size %" PRId64 " out of range", n);
    int64_t share = hvp_loader_share(n, rank, world);
    if (!shuffle || n < 2) {
        for (int64_t k = 0; k < share; k++)
            order[k] = rank + k * world;
        return HVP_OK;
    }
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory for an order of %" PRId64, n);
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    /* The key is derived from the seed, so this stream is independent of any other stream
     * keyed by the seed itself (views use (seed, epoch, sample, view)). */
    hvp_philox_out k = hvp_philox(seed, 0x53485546u /* "SHUF" */, 0, 0, 0);
    hvp_rng_stream rng = hvp_rng_stream_init((uint64_t)k.v[1] << 32 | k.v[0], (uint32_t)epoch,
                                             0x5348u, (uint32_t)((uint64_t)epoch >> 32));
    for (int64_t j = n - 1; j > 0; j--) {
        uint32_t bound = (uint32_t)(j + 1), threshold = (uint32_t)(-bound) % bound;
        uint64_t m;
        do
            m = (uint64_t)hvp_rng_u32(&rng) * bound;
        while ((uint32_t)m < threshold);
        int64_t r = (int64_t)(m >> 32), t = perm[j];
        perm[j] = perm[r];
        perm[r] = t;
    }
    for (int64_t q = 0; q < share; q++)
        order[q] = perm[rank + q * world];
    free(perm);
    return HVP_OK;
}

/* ---- work --------------------------------------------------------------------------------- */

/* Under the lock: the next position that may be decoded now, or -1. */
static int64_t claim(hvp_loader *l)
{
    if (atomic_load(&l->stop) || !l->active || l->next_item >= l->total_items)
        return -1;
    int64_t B = l->o.batch_size, b = l->next_item / B;
    if (b >= l->released + l->nslots)
        return -1;
    int64_t p = l->next_item++;
    if (p % B == 0) {
        slot *s = &l->slots[b % l->nslots];
        int64_t left = l->total_items - b * B;
        s->count = s->remaining = (int)(left < B ? left : B);
        s->ready = 0;
        s->skipped = 0;
        s->err = HVP_OK;
        s->errmsg[0] = '\0';
    }
    l->inflight++;
    return p;
}

static void pack(hvp_loader *l, slot *s)
{
    size_t total = 0;
    for (int k = 0; k < s->count; k++) {
        const hvp_decoded *d = &s->images[k];
        total += (size_t)d->height * (size_t)d->width * (size_t)d->channels;
    }
    if (total > s->pixel_capacity) {
        uint8_t *p = realloc(s->batch.pixels, total);
        if (!p) {
            s->err = HVP_FAIL(HVP_ERR_NOMEM, "out of memory packing a batch of %zu bytes", total);
            snprintf(s->errmsg, sizeof s->errmsg, "%s", hvp_last_error());
            return;
        }
        s->batch.pixels = p;
        s->pixel_capacity = total;
    }
    size_t off = 0;
    for (int k = 0; k < s->count; k++) {
        const hvp_decoded *d = &s->images[k];
        size_t bytes = (size_t)d->height * (size_t)d->width * (size_t)d->channels;
        memcpy(s->batch.pixels + off, d->pixels, bytes);
        s->batch.offsets[k] = off;
        s->batch.heights[k] = d->height;
        s->batch.widths[k] = d->width;
        off += bytes;
    }
    s->batch.count = s->count;
    s->batch.channels = l->ds->channels;
    s->batch.bytes = total;
}

/* Decodes position p (called without the lock; returns with it held). */
static void process(hvp_loader *l, hvp_decoder *dec, int64_t p)
{
    int64_t B = l->o.batch_size, b = p / B;
    int k = (int)(p % B);
    slot *s = &l->slots[b % l->nslots];
    hvp_decoded *img = &s->images[k];
    s->warn[k][0] = '\0';
    double t0 = now_seconds();
    hvp_status st = HVP_ERR_FORMAT;
    int64_t q = p, tried = 0;
    char first[WARN_SIZE / 2] = "";
    for (; tried < l->share && !atomic_load(&l->stop); tried++, q = (q + 1) % l->share) {
        st = hvp_dataset_decode(l->ds, dec, l->order[q], img);
        if (st == HVP_OK || (st != HVP_ERR_FORMAT && st != HVP_ERR_IO))
            break;
        if (tried == 0) {
            /* This position's own file: a skip, reported in batch order. */
            char name[WARN_SIZE / 2];
            hvp_dataset_item_name(l->ds, l->order[q], name, sizeof name);
            size_t nl = strlen(name);
            memcpy(s->warn[k], name, nl + 1);
            snprintf(s->warn[k] + nl + 1, WARN_SIZE - nl - 1, "%s", hvp_last_error());
        }
        if (!first[0])
            snprintf(first, sizeof first, "%s", hvp_last_error());
    }
    char errmsg[1024] = "";
    if (st != HVP_OK && !atomic_load(&l->stop)) {
        if (tried >= l->share)
            st = HVP_FAIL(HVP_ERR_FORMAT,
                          "no readable image left in '%s': all %" PRId64
                          " items of this rank's share failed; the first: %s",
                          hvp_dataset_root(l->ds), l->share, first);
        snprintf(errmsg, sizeof errmsg, "%s", hvp_last_error());
    } else if (st == HVP_OK) {
        s->batch.labels[k] = img->label;
        s->batch.indices[k] = l->order[q];
    }
    double dt = now_seconds() - t0;

    pthread_mutex_lock(&l->mu);
    l->stats.decode_seconds += dt;
    if (s->warn[k][0])
        s->skipped++;
    if (st != HVP_OK && s->err == HVP_OK) {
        s->err = atomic_load(&l->stop) ? HVP_ERR_ARG : st;
        snprintf(s->errmsg, sizeof s->errmsg, "%s", errmsg[0] ? errmsg : "loader stopped");
    }
    if (--s->remaining == 0) {
        pthread_mutex_unlock(&l->mu);
        if (s->err == HVP_OK)
            pack(l, s);
        pthread_mutex_lock(&l->mu);
        s->ready = 1;
        pthread_cond_broadcast(&l->done_cv);
    }
    if (--l->inflight == 0)
        pthread_cond_broadcast(&l->done_cv);
}

typedef struct worker_arg {
    hvp_loader *l;
    int index;
} worker_arg;

static void *worker_main(void *arg)
{
    hvp_loader *l = ((worker_arg *)arg)->l;
    hvp_decoder *dec = l->decoders[((worker_arg *)arg)->index];
    free(arg);
    pthread_mutex_lock(&l->mu);
    while (!atomic_load(&l->stop)) {
        int64_t p = claim(l);
        if (p < 0) {
            pthread_cond_wait(&l->work_cv, &l->mu);
            continue;
        }
        pthread_mutex_unlock(&l->mu);
        process(l, dec, p);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- the consumer ------------------------------------------------------------------------ */

static void free_slots(hvp_loader *l)
{
    for (int i = 0; l->slots && i < l->nslots; i++) {
        slot *s = &l->slots[i];
        free(s->batch.pixels);
        free(s->batch.offsets);
        free(s->batch.heights);
        free(s->batch.widths);
        free(s->batch.labels);
        free(s->batch.indices);
        for (int k = 0; s->images && k < l->o.batch_size; k++)
            hvp_decoded_free(&s->images[k]);
        free(s->images);
        free(s->warn);
    }
    free(l->slots);
}

void hvp_loader_destroy(hvp_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    atomic_store(&l->stop, 1);
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nthreads; i++)
        pthread_join(l->threads[i], NULL);
    free(l->threads);
    for (int i = 0; l->decoders && i < (l->o.workers > 0 ? l->o.workers : 1); i++)
        hvp_decoder_destroy(l->decoders[i]);
    free(l->decoders);
    free_slots(l);
    free(l->order);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->done_cv);
    free(l);
}

hvp_status hvp_loader_create(const hvp_dataset *ds, const hvp_loader_opts *opts, hvp_loader **out)
{
    *out = NULL;
    hvp_loader_opts o = *opts;
    if (o.world <= 0)
        o.world = 1;
    if (o.batch_size < 1 || o.workers < 0 || o.workers > 1024 || o.prefetch < 0)
        return HVP_FAIL(HVP_ERR_ARG, "loader: batch size %d, workers %d, prefetch %d out of range",
                        o.batch_size, o.workers, o.prefetch);
    if (o.rank < 0 || o.rank >= o.world)
        return HVP_FAIL(HVP_ERR_ARG, "loader: rank %d out of range for world %d", o.rank, o.world);
    int64_t share = hvp_loader_share(hvp_dataset_size(ds), o.rank, o.world);
    int64_t nb = o.drop_last ? share / o.batch_size : (share + o.batch_size - 1) / o.batch_size;
    if (nb == 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "loader: %" PRId64 " images per rank ('%s', %" PRId64 " images, world %d)"
                        " make no batch of %d",
                        share, hvp_dataset_root(ds), hvp_dataset_size(ds), o.world, o.batch_size);
    if (o.prefetch == 0)
        o.prefetch = o.workers > 1 ? 2 * o.workers : 2;

    hvp_loader *l = calloc(1, sizeof *l);
    if (!l)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory");
    l->ds = ds;
    l->o = o;
    l->share = share;
    l->nbatches = nb;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    atomic_init(&l->stop, 0);
    /* The consumer holds one slot while the others fill. */
    l->nslots = o.prefetch + 1;
    int ndec = o.workers > 0 ? o.workers : 1;
    size_t B = (size_t)o.batch_size;
    int ok = (l->order = malloc((size_t)(share > 0 ? share : 1) * sizeof *l->order)) &&
             (l->slots = calloc((size_t)l->nslots, sizeof *l->slots)) &&
             (l->decoders = calloc((size_t)ndec, sizeof *l->decoders)) &&
             (l->threads = calloc((size_t)ndec, sizeof *l->threads));
    for (int i = 0; ok && i < l->nslots; i++) {
        slot *s = &l->slots[i];
        ok = (s->batch.offsets = calloc(B, sizeof(size_t))) &&
             (s->batch.heights = calloc(B, sizeof(int))) && (s->batch.widths = calloc(B, sizeof(int))) &&
             (s->batch.labels = calloc(B, sizeof(int))) &&
             (s->batch.indices = calloc(B, sizeof(int64_t))) &&
             (s->images = calloc(B, sizeof *s->images)) && (s->warn = calloc(B, WARN_SIZE));
    }
    if (!ok) {
        hvp_loader_destroy(l);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory for the loader's %d batches of %d",
                        o.prefetch + 1, o.batch_size);
    }
    for (int i = 0; i < ndec; i++) {
        hvp_status s = hvp_decoder_create(&l->decoders[i]);
        if (s != HVP_OK) {
            hvp_loader_destroy(l);
            return s;
        }
    }
    for (int i = 0; i < o.workers; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->l = l;
            a->index = i;
        }
        if (!a || pthread_create(&l->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            hvp_loader_destroy(l);
            return HVP_FAIL(HVP_ERR_NOMEM, "cannot start loader thread %d of %d", i + 1, o.workers);
        }
        l->nthreads++;
    }
    *out = l;
    return HVP_OK;
}

int64_t hvp_loader_num_batches(const hvp_loader *l) { return l->nbatches; }

hvp_status hvp_loader_start_epoch(hvp_loader *l, int64_t epoch)
{
    return hvp_loader_start_epoch_at(l, epoch, 0);
}

hvp_status hvp_loader_start_epoch_at(hvp_loader *l, int64_t epoch, int64_t first_batch)
{
    if (first_batch < 0 || first_batch > l->nbatches)
        return HVP_FAIL(HVP_ERR_ARG, "loader: batch %" PRId64 " of an epoch of %" PRId64
                        " batches", first_batch, l->nbatches);
    pthread_mutex_lock(&l->mu);
    l->active = 0; /* no more claims */
    while (l->inflight > 0)
        pthread_cond_wait(&l->done_cv, &l->mu);
    hvp_status s = hvp_loader_order(hvp_dataset_size(l->ds), l->o.seed, epoch, l->o.shuffle,
                                    l->o.rank, l->o.world, l->order);
    if (s == HVP_OK) {
        l->total_items = l->o.drop_last ? l->nbatches * l->o.batch_size : l->share;
        /* Batch b is order positions b*B ..: the batches before first_batch are passed
         * over without decoding, and the ones after are what a start at 0 would give. */
        l->next_item = first_batch * l->o.batch_size;
        l->released = l->consumed = first_batch;
        l->holding = 0;
        for (int i = 0; i < l->nslots; i++)
            l->slots[i].ready = 0;
        memset(&l->stats, 0, sizeof l->stats);
        l->active = 1;
        pthread_cond_broadcast(&l->work_cv);
    }
    pthread_mutex_unlock(&l->mu);
    return s;
}

hvp_status hvp_loader_next(hvp_loader *l, const hvp_image_batch **batch)
{
    *batch = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->holding) {
        l->released++;
        l->holding = 0;
        pthread_cond_broadcast(&l->work_cv);
    }
    if (!l->active) {
        pthread_mutex_unlock(&l->mu);
        return HVP_FAIL(HVP_ERR_ARG, "loader: hvp_loader_start_epoch was not called");
    }
    if (l->consumed >= l->nbatches) {
        pthread_mutex_unlock(&l->mu);
        return HVP_OK;
    }
    slot *s = &l->slots[l->consumed % l->nslots];
    double t0 = now_seconds();
    while (!s->ready) {
        if (l->nthreads == 0) { /* decode here, position by position */
            int64_t p = claim(l);
            if (p < 0) { /* cannot happen: the positions of this batch are unclaimed */
                pthread_mutex_unlock(&l->mu);
                return HVP_FAIL(HVP_ERR_ARG, "loader: no work for batch %" PRId64, l->consumed);
            }
            pthread_mutex_unlock(&l->mu);
            process(l, l->decoders[0], p);
            continue;
        }
        pthread_cond_wait(&l->done_cv, &l->mu);
    }
    l->stats.wait_seconds += now_seconds() - t0;
    if (s->err != HVP_OK) {
        hvp_status e = s->err;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", s->errmsg);
        l->active = 0;
        pthread_mutex_unlock(&l->mu);
        return HVP_FAIL(e, "%s", msg);
    }
    s->ready = 0; /* taken: the slot is ready again only when refilled */
    l->holding = 1;
    l->consumed++;
    l->stats.batches++;
    l->stats.images += s->count;
    l->stats.skipped += s->skipped;
    pthread_mutex_unlock(&l->mu);
    for (int k = 0; l->o.warn && k < s->count; k++)
        if (s->warn[k][0])
            l->o.warn(l->o.warn_user, s->warn[k], s->warn[k] + strlen(s->warn[k]) + 1);
    *batch = &s->batch;
    return HVP_OK;
}

hvp_loader_stats hvp_loader_get_stats(const hvp_loader *l)
{
    hvp_loader *m = (hvp_loader *)l;
    pthread_mutex_lock(&m->mu);
    hvp_loader_stats st = l->stats;
    pthread_mutex_unlock(&m->mu);
    return st;
}

/* ---- benchmark --------------------------------------------------------------------------- */

hvp_status hvp_data_bench_decode(const hvp_dataset *ds, int workers, int batch_size,
                                 int64_t max_images, hvp_decode_bench *out)
{
    memset(out, 0, sizeof *out);
    hvp_loader_opts o = {0};
    o.batch_size = batch_size > 0 ? batch_size : 256;
    o.workers = workers;
    o.shuffle = 1;
    o.seed = 1;
    hvp_loader *l;
    HVP_TRY(hvp_loader_create(ds, &o, &l));
    double t0 = now_seconds();
    hvp_status s = hvp_loader_start_epoch(l, 0);
    const hvp_image_batch *b = NULL;
    while (s == HVP_OK && (max_images <= 0 || out->images < max_images)) {
        s = hvp_loader_next(l, &b);
        if (s != HVP_OK || !b)
            break;
        out->images += b->count;
    }
    out->seconds = now_seconds() - t0;
    out->skipped = hvp_loader_get_stats(l).skipped;
    hvp_loader_destroy(l);
    out->images_per_second = out->seconds > 0 ? (double)out->images / out->seconds : 0;
    return s;
}
