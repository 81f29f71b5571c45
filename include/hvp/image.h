/* A batch of decoded images in host memory: what the loader (src/data/loader.c) hands to
 * the augmentation pipeline (src/data/augment.c), which uploads it once and cuts views. */
#ifndef HVP_IMAGE_H
#define HVP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct hvp_image_batch {
    int count;         /* images in the batch */
    int channels;      /* 1 or 3, the same for every image of a dataset */
    uint8_t *pixels;   /* all images back to back, each H x W x C interleaved, row-major */
    size_t bytes;      /* used bytes of pixels */
    size_t *offsets;   /* [count] byte offset of image i in pixels */
    int *heights;      /* [count] */
    int *widths;       /* [count] */
    int *labels;       /* [count] class index, -1 when the dataset has no labels */
    int64_t *indices;  /* [count] index of the image in the dataset: keys its random views */
} hvp_image_batch;

#endif
