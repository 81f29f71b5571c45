/* View parameters: presets, validation and per-view sampling from the counter-based RNG.
 * A view's stream is keyed by (seed, epoch, dataset index, view index) only, and its draws
 * come in a fixed order, so a view never depends on what else is in the batch. */
#include <math.h>
#include <string.h>

#include "hvp/augment.h"

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

static hvp_view_slot base_slot(int size)
{
    hvp_view_slot s = {0};
    s.size = size;
    s.scale_min = 0.2;
    s.scale_max = 1.0;
    s.ratio_min = 3.0 / 4.0;
    s.ratio_max = 4.0 / 3.0;
    s.interp = HVP_INTERP_BILINEAR;
    s.flip_p = 0.5;
    s.jitter_p = 0.8;
    s.brightness = 0.4;
    s.contrast = 0.4;
    s.saturation = 0.4;
    s.hue = 0.1;
    s.gray_p = 0.2;
    s.blur_p = 0.5;
    s.sigma_min = 0.1;
    s.sigma_max = 2.0;
    s.blur_kernel = 0;
    s.solarize_p = 0.0;
    for (int c = 0; c < 3; c++) {
        s.mean[c] = imagenet_mean[c];
        s.std[c] = imagenet_std[c];
    }
    return s;
}

void hvp_views_preset_default(hvp_view_config *cfg, int n_global, int size)
{
    hvp_view_config c = {0};
    c.n_global = n_global;
    c.n_local = 0;
    c.out_channels = 3;
    for (int v = 0; v < n_global && v < HVP_MAX_VIEWS; v++)
        c.slot[v] = base_slot(size);
    *cfg = c;
}

void hvp_views_preset_dino(hvp_view_config *cfg, int n_global, int global_size, int n_local,
                           int local_size)
{
    hvp_view_config c = {0};
    c.n_global = n_global;
    c.n_local = n_local;
    c.out_channels = 3;
    for (int v = 0; v < n_global + n_local && v < HVP_MAX_VIEWS; v++) {
        hvp_view_slot s = base_slot(v < n_global ? global_size : local_size);
        s.saturation = 0.2;
        if (v < n_global) {
            s.scale_min = 0.4;
            if (v % 2 == 0) {
                s.blur_p = 1.0;
            } else {
                s.blur_p = 0.1;
                s.solarize_p = 0.2;
            }
        } else {
            s.scale_min = 0.05;
            s.scale_max = 0.4;
            s.blur_p = 0.5;
        }
        c.slot[v] = s;
    }
    *cfg = c;
}

int hvp_view_blur_kernel(const hvp_view_slot *s)
{
    return s->blur_kernel > 0 ? s->blur_kernel : 2 * (s->size / 20) + 1;
}

static int prob_ok(double p) { return p >= 0 && p <= 1; }

hvp_status hvp_views_validate(const hvp_view_config *cfg)
{
    int n = cfg->n_global + cfg->n_local;
    if (cfg->n_global < 1 || cfg->n_local < 0 || n > HVP_MAX_VIEWS)
        return HVP_FAIL(HVP_ERR_ARG, "views: %d global and %d local views (1..%d in all, at "
                        "least one global)", cfg->n_global, cfg->n_local, HVP_MAX_VIEWS);
    if (cfg->out_channels != 1 && cfg->out_channels != 3)
        return HVP_FAIL(HVP_ERR_ARG, "views: out_channels %d (1 or 3)", cfg->out_channels);
    for (int v = 0; v < n; v++) {
        const hvp_view_slot *s = &cfg->slot[v];
        const hvp_view_slot *first = &cfg->slot[v < cfg->n_global ? 0 : cfg->n_global];
        if (s->size < 1 || s->size > 4096)
            return HVP_FAIL(HVP_ERR_ARG, "view %d: size %d", v, s->size);
        if (s->size != first->size)
            return HVP_FAIL(HVP_ERR_ARG, "view %d: size %d differs from its group's %d", v,
                            s->size, first->size);
        if (!(s->scale_min > 0 && s->scale_min <= s->scale_max && s->scale_max <= 1))
            return HVP_FAIL(HVP_ERR_ARG, "view %d: crop scale (%g, %g) not within (0, 1]", v,
                            s->scale_min, s->scale_max);
        if (!(s->ratio_min > 0 && s->ratio_min <= s->ratio_max))
            return HVP_FAIL(HVP_ERR_ARG, "view %d: crop ratio (%g, %g)", v, s->ratio_min,
                            s->ratio_max);
        if (s->interp != HVP_INTERP_BILINEAR && s->interp != HVP_INTERP_BICUBIC)
            return HVP_FAIL(HVP_ERR_ARG, "view %d: interpolation %d", v, s->interp);
        if (!prob_ok(s->flip_p) || !prob_ok(s->jitter_p) || !prob_ok(s->gray_p) ||
            !prob_ok(s->blur_p) || !prob_ok(s->solarize_p))
            return HVP_FAIL(HVP_ERR_ARG, "view %d: a probability is outside [0, 1]", v);
        if (s->brightness < 0 || s->contrast < 0 || s->saturation < 0 || s->hue < 0 ||
            s->hue > 0.5)
            return HVP_FAIL(HVP_ERR_ARG, "view %d: jitter strengths must be >= 0, hue <= 0.5", v);
        int k = hvp_view_blur_kernel(s);
        if (k % 2 == 0 || k < 1)
            return HVP_FAIL(HVP_ERR_ARG, "view %d: blur kernel %d must be odd", v, k);
        if (s->blur_p > 0 && !(s->sigma_min > 0 && s->sigma_min <= s->sigma_max))
            return HVP_FAIL(HVP_ERR_ARG, "view %d: blur sigma (%g, %g)", v, s->sigma_min,
                            s->sigma_max);
        for (int c = 0; c < 3; c++)
            if (!(s->std[c] > 0))
                return HVP_FAIL(HVP_ERR_ARG, "view %d: std[%d] = %g", v, c, (double)s->std[c]);
    }
    return HVP_OK;
}

/* torch.randint(0, n) */
static int rand_below(hvp_rng_stream *r, int n)
{
    int k = (int)floor(hvp_rng_uniform(r, 0, 1) * n);
    return k < n ? k : n - 1;
}

void hvp_view_sample_crop(hvp_rng_stream *r, int height, int width, double scale_min,
                          double scale_max, double ratio_min, double ratio_max, int *top,
                          int *left, int *ch, int *cw)
{
    double area = (double)height * width;
    double lr0 = log(ratio_min), lr1 = log(ratio_max);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = area * hvp_rng_uniform(r, scale_min, scale_max);
        double aspect = exp(hvp_rng_uniform(r, lr0, lr1));
        /* Python's round: half to even, as nearbyint in the default rounding mode. */
        int w = (int)nearbyint(sqrt(target * aspect));
        int h = (int)nearbyint(sqrt(target / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            *top = rand_below(r, height - h + 1);
            *left = rand_below(r, width - w + 1);
            *ch = h;
            *cw = w;
            return;
        }
    }
    double in_ratio = (double)width / height;
    int w, h;
    if (in_ratio < ratio_min) {
        w = width;
        h = (int)nearbyint(w / ratio_min);
    } else if (in_ratio > ratio_max) {
        h = height;
        w = (int)nearbyint(h * ratio_max);
    } else {
        w = width;
        h = height;
    }
    *top = (height - h) / 2;
    *left = (width - w) / 2;
    *ch = h;
    *cw = w;
}

void hvp_view_sample(const hvp_view_slot *s, uint64_t seed, int64_t epoch, int64_t index,
                     int view, int h, int w, hvp_view_params *out)
{
    uint64_t ix = (uint64_t)index;
    hvp_rng_stream r = hvp_rng_stream_init(seed, (uint32_t)epoch, (uint32_t)ix,
                                           ((uint32_t)(ix >> 32) << 8) | (uint32_t)(view & 0xff));
    hvp_view_params p = {0};
    hvp_view_sample_crop(&r, h, w, s->scale_min, s->scale_max, s->ratio_min, s->ratio_max,
                         &p.crop_top, &p.crop_left, &p.crop_h, &p.crop_w);
    p.flip = hvp_rng_uniform(&r, 0, 1) < s->flip_p;
    /* ColorJitter.get_params: a permutation, then each factor (always drawn, so the stream
     * does not depend on which ops are enabled). */
    p.jitter = hvp_rng_uniform(&r, 0, 1) < s->jitter_p;
    int perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = rand_below(&r, i + 1);
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    double fb = hvp_rng_uniform(&r, fmax(0, 1 - s->brightness), 1 + s->brightness);
    double fc = hvp_rng_uniform(&r, fmax(0, 1 - s->contrast), 1 + s->contrast);
    double fs = hvp_rng_uniform(&r, fmax(0, 1 - s->saturation), 1 + s->saturation);
    double fh = hvp_rng_uniform(&r, -s->hue, s->hue);
    for (int i = 0; i < 4; i++)
        p.order[i] = perm[i];
    /* A disabled op (strength 0) gets the identity factor: it leaves the image as it is
     * (up to the clamp, which is idempotent on [0, 1] data). */
    p.brightness = s->brightness > 0 ? (float)fb : 1.0f;
    p.contrast = s->contrast > 0 ? (float)fc : 1.0f;
    p.saturation = s->saturation > 0 ? (float)fs : 1.0f;
    p.hue = s->hue > 0 ? (float)fh : 0.0f;
    p.gray = hvp_rng_uniform(&r, 0, 1) < s->gray_p;
    p.blur = hvp_rng_uniform(&r, 0, 1) < s->blur_p;
    p.sigma = (float)hvp_rng_uniform(&r, s->sigma_min, s->sigma_max);
    p.solarize = hvp_rng_uniform(&r, 0, 1) < s->solarize_p;
    *out = p;
}

void hvp_eval_view_params(int h, int w, int size, hvp_view_params *p)
{
    memset(p, 0, sizeof *p);
    p->brightness = p->contrast = p->saturation = 1.0f;
    int side = h < w ? h : w;
    if (size >= side) { /* small images (CIFAR, MNIST): the whole image */
        p->crop_h = h;
        p->crop_w = w;
        return;
    }
    int crop = (int)(side * 0.875 + 0.5);
    p->crop_h = p->crop_w = crop;
    p->crop_top = (h - crop) / 2;
    p->crop_left = (w - crop) / 2;
}

void hvp_eval_train_view_params(uint64_t seed, int64_t epoch, int64_t index, int h, int w,
                                int size, hvp_view_params *p)
{
    uint64_t ix = (uint64_t)index;
    /* view 0xee: a stream of its own beside the pretraining views of the same image */
    hvp_rng_stream r = hvp_rng_stream_init(seed, (uint32_t)epoch, (uint32_t)ix,
                                           ((uint32_t)(ix >> 32) << 8) | 0xeeu);
    memset(p, 0, sizeof *p);
    p->brightness = p->contrast = p->saturation = 1.0f;
    if (h == size && w == size) { /* RandomCrop(size, padding): torch.randint(0, 2 pad + 1) */
        int pad = size / 8;
        p->crop_top = rand_below(&r, 2 * pad + 1) - pad;
        p->crop_left = rand_below(&r, 2 * pad + 1) - pad;
        p->crop_h = p->crop_w = size;
    } else {
        hvp_view_sample_crop(&r, h, w, 0.08, 1.0, 3.0 / 4.0, 4.0 / 3.0, &p->crop_top,
                             &p->crop_left, &p->crop_h, &p->crop_w);
    }
    p->flip = hvp_rng_uniform(&r, 0, 1) < 0.5;
}

hvp_blur_mode hvp_views_blur_mode(const hvp_view_config *cfg)
{
    return hvp_view_blur_kernel(&cfg->slot[0]) >= 15 ? HVP_BLUR_FFT : HVP_BLUR_DIRECT;
}
