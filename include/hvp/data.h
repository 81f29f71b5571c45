/* Datasets and the loader: files on disk -> batches of decoded uint8 images (hvp_image_batch,
 * include/hvp/image.h) for the augmentation stage.
 *
 * Datasets: an ImageFolder (root/<class>/..., torchvision's indexing), an unlabeled folder
 * of images, CIFAR-10/100 binary batches, and IDX files (MNIST, Fashion-MNIST; gzip or
 * plain). A dataset is immutable after opening and may be decoded from many threads, each
 * with its own hvp_decoder.
 *
 * Bad files: a file that cannot be decoded (corrupt, truncated, not an image, a format we
 * do not decode) is never fatal once the dataset is open. The loader skips it, counts it
 * in the epoch's statistics and reports it through the warning callback (called on the
 * thread that calls hvp_loader_next, never from a worker; the library prints nothing).
 * Opening fails with a clear message when the path is missing or no item at all can be
 * decoded. */
#ifndef HVP_DATA_H
#define HVP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "hvp/image.h"
#include "hvp/status.h"

typedef enum hvp_data_format {
    HVP_DATA_AUTO = 0,     /* decided from what is at the root, see hvp_dataset_open */
    HVP_DATA_IMAGEFOLDER,  /* images under root/<class>/ (any depth), label = class index */
    HVP_DATA_FOLDER,       /* images directly in root (no sub-folders), labels -1 */
    HVP_DATA_CIFAR10,      /* data_batch_{1..5}.bin / test_batch.bin */
    HVP_DATA_CIFAR100,     /* train.bin / test.bin, fine labels */
    HVP_DATA_IDX           /* {train,t10k}-images-idx3-ubyte[.gz] + labels-idx1 */
} hvp_data_format;

/* "auto", "imagefolder", "folder", "cifar10", "cifar100", "idx" (also "mnist",
 * "fashion-mnist"). Returns HVP_ERR_ARG for an unknown name. */
hvp_status hvp_data_format_parse(const char *name, hvp_data_format *out);
const char *hvp_data_format_name(hvp_data_format f);

/* The folder of Debian's dataset-fashion-mnist package: the project's default data. */
#define HVP_DATA_DEFAULT_ROOT "/usr/share/datasets/fashion-mnist"

typedef struct hvp_dataset_opts {
    hvp_data_format format;
    const char *root;  /* a folder (or, for IDX, the images file itself) */
    /* "train" or "test" (NULL = "train"). CIFAR and IDX pick their files by it; for the
     * folder formats, root/<split> is used when it is a folder, else root itself. */
    const char *split;
    /* 1 or 3 (0: the format's own, 1 for IDX, else 3). RGB -> gray uses PIL's
     * convert("L") (ITU-R 601-2 luma, fixed point); gray -> RGB replicates. JPEGs decode
     * straight to the wanted colour space with TurboJPEG. */
    int channels;
} hvp_dataset_opts;

typedef struct hvp_dataset hvp_dataset;

/* Auto-detection, in this order, at root (after descending into root/<split> when that
 * is a folder and no CIFAR/IDX files are at root): IDX files -> IDX; CIFAR-10 batches
 * (also in cifar-10-batches-bin/) -> CIFAR10; train.bin/test.bin (also in
 * cifar-100-binary/) -> CIFAR100; any sub-folder -> IMAGEFOLDER; else FOLDER.
 * The open decodes items in order until one succeeds (normally the first), so a dataset
 * that opens has at least one readable image. */
hvp_status hvp_dataset_open(const hvp_dataset_opts *opts, hvp_dataset **out);
void hvp_dataset_close(hvp_dataset *ds);

int64_t hvp_dataset_size(const hvp_dataset *ds);
int hvp_dataset_channels(const hvp_dataset *ds);
hvp_data_format hvp_dataset_format(const hvp_dataset *ds);
/* The folder or file the items come from (after split resolution). */
const char *hvp_dataset_root(const hvp_dataset *ds);
/* 0 for an unlabeled dataset. */
int hvp_dataset_num_classes(const hvp_dataset *ds);
/* The class's folder name (ImageFolder), or its number as text; NULL out of range. */
const char *hvp_dataset_class_name(const hvp_dataset *ds, int cls);
/* The label of item i without decoding it (-1 when unlabeled). */
int hvp_dataset_label(const hvp_dataset *ds, int64_t i);
/* A name for item i that a person can find: the file's path, or "FILE[#index]" for
 * records inside a file. Written to buf (always terminated); returns buf. */
const char *hvp_dataset_item_name(const hvp_dataset *ds, int64_t i, char *buf, size_t size);

/* Per-thread decoding state (TurboJPEG handle, file buffer). */
typedef struct hvp_decoder hvp_decoder;
hvp_status hvp_decoder_create(hvp_decoder **out);
void hvp_decoder_destroy(hvp_decoder *dec);

/* One decoded image; pixels is grown by realloc as needed and kept between calls. */
typedef struct hvp_decoded {
    uint8_t *pixels; /* height x width x channels, interleaved */
    size_t capacity;
    int height, width, channels;
    int label;
} hvp_decoded;
void hvp_decoded_free(hvp_decoded *img);

/* Decodes item i. A bad file returns HVP_ERR_FORMAT (or HVP_ERR_IO when unreadable) with a
 * message naming the file; other items are unaffected. */
hvp_status hvp_dataset_decode(const hvp_dataset *ds, hvp_decoder *dec, int64_t i, hvp_decoded *img);

/* ---- the loader --------------------------------------------------------------------- */

/* Called for every skipped file, on the thread that calls hvp_loader_next, in batch order.
 * item is the file's name (hvp_dataset_item_name), why the decoder's message. */
typedef void (*hvp_data_warn_fn)(void *user, const char *item, const char *why);

typedef struct hvp_loader_opts {
    int batch_size;      /* images per batch (>= 1) */
    int workers;         /* decoding threads; 0 decodes on the calling thread */
    int prefetch;        /* batches decoded ahead (0: 2 * workers, at least 2) */
    int shuffle;         /* 1: an order from (seed, epoch); 0: dataset order */
    int drop_last;       /* 1: drop the last, incomplete batch of the rank's share */
    uint64_t seed;
    int rank, world;     /* this process's share of every epoch (world 0 means 1) */
    hvp_data_warn_fn warn;
    void *warn_user;
} hvp_loader_opts;

/* The order of an epoch, and the share of a rank (deterministic, no threads involved):
 * perm = Fisher-Yates over [0, n) driven by Philox keyed by seed, counters (epoch, 0x5348,
 * 0): for j = n-1 .. 1, swap perm[j] with perm[r], r uniform in [0, j] by rejection from
 * 32-bit (n < 2^32) draws; identity when shuffle is 0. Every rank computes the same perm;
 * rank r takes perm[r], perm[r + world], ... : per_rank = n / world items each (the last
 * n % world of perm are left out so that shares are equal and disjoint, as PyTorch's
 * DistributedSampler with drop_last). */
int64_t hvp_loader_share(int64_t n, int rank, int world);
hvp_status hvp_loader_order(int64_t n, uint64_t seed, int64_t epoch, int shuffle, int rank,
                            int world, int64_t *order /* [hvp_loader_share(n, rank, world)] */);

typedef struct hvp_loader_stats {
    int64_t batches, images; /* delivered so far this epoch */
    int64_t skipped;         /* bad files met this epoch (each slot's own file, see below) */
    double wait_seconds;     /* time hvp_loader_next spent waiting for a batch (with 0
                              * workers: the decoding it did itself) */
    double decode_seconds;   /* summed over workers: time spent decoding */
} hvp_loader_stats;

typedef struct hvp_loader hvp_loader;

/* The loader keeps a pointer to ds (which must outlive it). */
hvp_status hvp_loader_create(const hvp_dataset *ds, const hvp_loader_opts *opts,
                             hvp_loader **out);
/* Stops the workers (also mid-epoch: the batches in flight are abandoned) and frees. */
void hvp_loader_destroy(hvp_loader *l);

/* Batches in an epoch for this rank. */
int64_t hvp_loader_num_batches(const hvp_loader *l);

/* Begins an epoch (abandoning what is left of the current one) and starts decoding.
 * Decoding does not run ahead across epochs: the first batches of an epoch are waited for. */
hvp_status hvp_loader_start_epoch(hvp_loader *l, int64_t epoch);
/* The same from batch first_batch (0 .. hvp_loader_num_batches) on: the batches before it
 * are not decoded, the ones after are exactly those of a start at 0 (a run resumed from a
 * checkpoint written mid-epoch continues inside its epoch). The statistics count the
 * batches delivered from first_batch on. */
hvp_status hvp_loader_start_epoch_at(hvp_loader *l, int64_t epoch, int64_t first_batch);

/* The next batch of the epoch, or *batch = NULL after the last. The batch stays valid until
 * the next call (its buffers are then reused).
 *
 * Batch b holds the rank's order positions p = b*B .. b*B + B - 1 (fewer in a last batch
 * kept by drop_last = 0), image k at position p = b*B + k. Bad files: the slot of position
 * p decodes order[p]; when that fails it tries order[p+1], order[p+2], ... (wrapping to
 * order[0] after the share's end) and takes the first that decodes. So a batch never
 * shrinks, a bad file's slot holds a copy of the next good image, and the result does not
 * depend on the number of workers or on timing. Only order[p] failing counts as a skip
 * (each position once per epoch) and is reported to the warning callback. */
hvp_status hvp_loader_next(hvp_loader *l, const hvp_image_batch **batch);

/* Statistics of the current (or just finished) epoch. */
hvp_loader_stats hvp_loader_get_stats(const hvp_loader *l);

/* ---- benchmark ------------------------------------------------------------------------ */

typedef struct hvp_decode_bench {
    int64_t images;
    double seconds;
    double images_per_second;
    int64_t skipped;
} hvp_decode_bench;

/* Decodes up to max_images (0: all) of ds through a shuffled loader with the given
 * workers and batch size, timing from the epoch start to the last batch. */
hvp_status hvp_data_bench_decode(const hvp_dataset *ds, int workers, int batch_size,
                                 int64_t max_images, hvp_decode_bench *out);

#endif
