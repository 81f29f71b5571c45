/* Views: per image G global and L local augmented views, cut on the device from a batch of
 * uint8 images (hvp/image.h), with torchvision's semantics.
 *
 * Every random parameter of a view is drawn on the host from the counter-based RNG keyed by
 * (seed, epoch, dataset index, view index) (src/data/views.c), so a view is the same whatever
 * the threads, the batch size or the number of views beside it. The parameters of a batch
 * are uploaded once; then one launch per stage cuts every view of the batch
 * (src/data/augment.c, cl/augment.cl; blur in src/data/blur.c, cl/blur.cl):
 *   RandomResizedCrop (+ horizontal flip) from uint8, as float in [0, 1]
 *   -> ColorJitter (the drawn order of brightness, contrast, saturation, hue)
 *   -> RandomGrayscale -> GaussianBlur -> Solarize -> Normalize.
 * Flip commutes with every later op, so its place in a torchvision Compose does not matter.
 *
 * Semantics are those of torchvision.transforms.functional on a FLOAT image tensor (the
 * uint8 image divided by 255 first): resized_crop(..., antialias=True) (bilinear, or bicubic
 * with the antialias filter's a = -0.5), adjust_* clamping to [0, 1] after each op,
 * rgb_to_grayscale with torchvision's weights 0.2989/0.587/0.114, gaussian_blur with
 * torchvision's kernel and reflect padding, solarize(x, 0.5), normalize. One-channel images:
 * saturation, hue and grayscale are no-ops (as torchvision's), contrast uses the image mean;
 * the output has 1 channel, or 3 (replicated) when out_channels is 3. */
#ifndef HVP_AUGMENT_H
#define HVP_AUGMENT_H

#include <stdint.h>

#include "hvp/image.h"
#include "hvp/rng.h"
#include "hvp/tensor.h"

/* Views per image, global and local: covers hvp.views (up to 64) plus data.local_crops
 * (up to 64). */
#define HVP_MAX_VIEWS 128

typedef enum hvp_interp { HVP_INTERP_BILINEAR = 0, HVP_INTERP_BICUBIC = 1 } hvp_interp;

/* The distribution of one view slot. */
typedef struct hvp_view_slot {
    int size;                     /* output height = width */
    double scale_min, scale_max;  /* RandomResizedCrop area fraction */
    double ratio_min, ratio_max;  /* aspect ratio w/h, drawn log-uniform */
    int interp;                   /* hvp_interp */
    double flip_p;
    double jitter_p;              /* ColorJitter applied with this probability */
    double brightness, contrast, saturation, hue; /* strengths; 0 disables that op */
    double gray_p;
    double blur_p, sigma_min, sigma_max;
    int blur_kernel;              /* odd kernel size; 0: 2 * floor(size / 20) + 1 (23 at 224) */
    double solarize_p;
    float mean[3], std[3];        /* Normalize; std 1, mean 0 leaves [0, 1] values */
} hvp_view_slot;

/* Views 0..n_global-1 are global (all of one size), n_global..n_global+n_local-1 local. */
typedef struct hvp_view_config {
    int n_global, n_local;
    int out_channels;             /* 3, or 1 for grayscale data kept in one channel */
    hvp_view_slot slot[HVP_MAX_VIEWS];
} hvp_view_config;

/* The default views, SimSiam's ImageNet augmentation (RandomResizedCrop(size, scale=(0.2,
 * 1)), flip, ColorJitter(0.4, 0.4, 0.4, 0.1) p=0.8, RandomGrayscale p=0.2, GaussianBlur
 * sigma [0.1, 2] p=0.5, ImageNet mean/std), for n_global views of `size` pixels, no locals. */
void hvp_views_preset_default(hvp_view_config *cfg, int n_global, int size);
/* DINO's multi-crop: globals of global_size with scale (0.4, 1) (DINO's
 * global_crops_scale default), ColorJitter(0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2;
 * even global slots blur p=1.0, odd ones blur p=0.1 and solarize p=0.2; locals of
 * local_size with scale (0.05, 0.4), blur p=0.5. */
void hvp_views_preset_dino(hvp_view_config *cfg, int n_global, int global_size, int n_local,
                           int local_size);
/* Checks ranges (sizes, probabilities, odd blur kernels, equal sizes per group). */
hvp_status hvp_views_validate(const hvp_view_config *cfg);
/* The odd blur kernel size a slot uses. */
int hvp_view_blur_kernel(const hvp_view_slot *s);

/* The drawn parameters of one view (all that the device needs, and what a test or the
 * reference takes as input). */
typedef struct hvp_view_params {
    int crop_top, crop_left, crop_h, crop_w; /* in source pixels */
    int flip;
    int jitter;           /* ColorJitter applied */
    int order[4];         /* ops in application order: 0 brightness, 1 contrast, 2 sat, 3 hue */
    float brightness, contrast, saturation, hue; /* factors; 1, 1, 1, 0 leave the image */
    int gray;
    int blur;
    float sigma;
    int solarize;
} hvp_view_params;

/* The one preprocessing of features (kNN, linear probe, extract_features): an h x w image
 * at `size` pixels as Resize(size / 0.875) + CenterCrop(size) (the centre square of 0.875
 * of the short side, resized), or the whole image when it is no larger than size (CIFAR,
 * MNIST); no random change. */
void hvp_eval_view_params(int h, int w, int size, hvp_view_params *p);
/* The training views of the supervised evaluations (linear probe with augmentations,
 * fine-tuning), drawn from (seed, epoch, index) as hvp_view_sample: RandomResizedCrop(size)
 * with torchvision's default scale (0.08, 1) and ratio (3/4, 4/3), then a flip with p 0.5;
 * an image of exactly size x size pixels (CIFAR at 32) takes the CIFAR evaluations'
 * RandomCrop(size, padding = size / 8) + flip instead (the box may reach past the edges:
 * the augmentation reads zeros there, as the padding). No colour change. */
void hvp_eval_train_view_params(uint64_t seed, int64_t epoch, int64_t index, int h, int w,
                                int size, hvp_view_params *p);

/* torchvision's RandomResizedCrop.get_params for an image of h x w pixels: 10 attempts,
 * then the ratio-clamped centre crop. */
void hvp_view_sample_crop(hvp_rng_stream *r, int h, int w, double scale_min, double scale_max,
                          double ratio_min, double ratio_max, int *top, int *left, int *ch,
                          int *cw);
/* All parameters of view `view` of the image with dataset index `index`, h x w pixels. */
void hvp_view_sample(const hvp_view_slot *s, uint64_t seed, int64_t epoch, int64_t index,
                     int view, int h, int w, hvp_view_params *out);

/* ---- the device pipeline (src/data/augment.c) ------------------------------------- */

typedef enum hvp_blur_mode {
    HVP_BLUR_AUTO = 0, /* the faster of the two, timed once per (size, kernel, views) */
    HVP_BLUR_DIRECT,   /* separable kernel */
    HVP_BLUR_FFT       /* clFFT: reflect-padded plane, per-view transfer function */
} hvp_blur_mode;

typedef struct hvp_augment hvp_augment;

hvp_status hvp_augment_create(hvp_ctx *ctx, const hvp_view_config *cfg, hvp_augment **out);
void hvp_augment_destroy(hvp_augment *a);
void hvp_augment_set_blur_mode(hvp_augment *a, hvp_blur_mode m);
/* The fixed path a training run takes for views like cfg's first slot (AUTO's timing could
 * differ between runs, and the two paths differ by ~1e-6): FFT for kernels of 15 px and
 * more (224-px views, kernel 23), direct below (96-px views, kernel 9), as measured on
 * PoCL by the augmentation benchmark. */
hvp_blur_mode hvp_views_blur_mode(const hvp_view_config *cfg);
/* The blur path AUTO chose for views of `size` px with kernel `kernel` (DIRECT or FFT),
 * or AUTO when it has not been measured yet. */
hvp_blur_mode hvp_augment_blur_choice(const hvp_augment *a, int size, int kernel);

/* Samples every view of every image of the batch and cuts them. Outputs come from ctx->acts:
 * global [n_global, count, out_channels, S, S] and local [n_local, count, C, s, s] (local is
 * left zero-sized when n_local is 0); view v of image i is global[v][i]. The images and
 * parameters are uploaded (blocking, once per batch); the kernels are only enqueued. With
 * HVP_BLUR_AUTO the first batch of each (size, kernel) also times both blur paths and
 * waits; the two paths agree to ~1e-6, so fix the mode for bitwise reproducibility across
 * processes (within a process the choice is kept). */
hvp_status hvp_augment_batch(hvp_augment *a, const hvp_image_batch *b, uint64_t seed,
                             int64_t epoch, hvp_tensor *global, hvp_tensor *local);

/* The same with explicit parameters: params[v * count + i] is view v of image i (tests,
 * replays). */
hvp_status hvp_augment_apply(hvp_augment *a, const hvp_image_batch *b,
                             const hvp_view_params *params, hvp_tensor *global,
                             hvp_tensor *local);

/* clFFT's library state is set up on the first FFT blur and torn down when the last augment
 * object using it is destroyed (before the OpenCL context goes, as clFFT needs). A program
 * that creates and destroys many augment objects calls hvp_augment_fft_keep(1) once to keep
 * clFFT (and its compiled kernels) alive between them, and hvp_augment_fft_keep(0) before
 * destroying its context. */
hvp_status hvp_augment_fft_keep(int keep);

/* ---- looking at it (src/data/grid.c) ---------------------------------------------- */

/* Writes a grid: one row per image, first column the whole original resized to the view
 * size, then its views (`views[v]` is [count, C, S_v, S_v], un-normalised with the slot's
 * mean/std and scaled into cells of `cell` px). JPEG when path ends in .jpg/.jpeg, else
 * binary PPM. Blocks (downloads the views). */
hvp_status hvp_views_write_grid(hvp_ctx *ctx, const char *path, const hvp_image_batch *b,
                                const hvp_view_config *cfg, const hvp_tensor *global,
                                const hvp_tensor *local, int cell);

/* ---- benchmark ------------------------------------------------------------------- */

/* Views per second for `iters` batches of `b` through the whole pipeline (after one warm-up
 * batch), synchronised per batch. */
hvp_status hvp_augment_bench(hvp_augment *a, const hvp_image_batch *b, int iters,
                             double *views_per_s);

#endif
