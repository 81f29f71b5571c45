/* The augmentation pipeline (cl/augment.cl, blur in blur.c): one upload of the uint8 batch
 * and of the drawn parameters, then per size group (globals, locals) one launch per stage
 * over all its views: crop+flip, colour (jitter, grayscale), blur, solarize+normalize. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/augment_internal.h"
#include "ops/op_util.h"

struct hvp_augment {
    hvp_ctx *ctx;
    hvp_view_config cfg;
    hvp_blur *blur;
    hvp_blur_mode mode;
    int *host; /* parameter records and blur lists of the batch */
    size_t host_cap;
    hvp_view_params *params;
    size_t params_cap;
};

hvp_status hvp_augment_create(hvp_ctx *ctx, const hvp_view_config *cfg, hvp_augment **out)
{
    HVP_TRY(hvp_views_validate(cfg));
    hvp_augment *a = calloc(1, sizeof *a);
    if (!a)
        return HVP_FAIL(HVP_ERR_NOMEM, "augment: out of host memory");
    a->ctx = ctx;
    a->cfg = *cfg;
    a->mode = HVP_BLUR_AUTO;
    hvp_status s = hvp_blur_create(ctx, &a->blur);
    if (s != HVP_OK) {
        free(a);
        return s;
    }
    *out = a;
    return HVP_OK;
}

void hvp_augment_destroy(hvp_augment *a)
{
    if (!a)
        return;
    hvp_blur_destroy(a->blur);
    free(a->host);
    free(a->params);
    free(a);
}

void hvp_augment_set_blur_mode(hvp_augment *a, hvp_blur_mode m) { a->mode = m; }

hvp_blur_mode hvp_augment_blur_choice(const hvp_augment *a, int size, int kernel)
{
    return hvp_blur_choice(a->blur, size, kernel);
}

static int float_bits(float f)
{
    int i;
    memcpy(&i, &f, sizeof i);
    return i;
}

static hvp_status check_batch(const hvp_image_batch *b)
{
    if (b->count < 1)
        return HVP_FAIL(HVP_ERR_ARG, "augment: empty batch");
    if (b->channels != 1 && b->channels != 3)
        return HVP_FAIL(HVP_ERR_ARG, "augment: %d channels (1 or 3)", b->channels);
    if (b->bytes > (size_t)0x7fffffff)
        return HVP_FAIL(HVP_ERR_ARG, "augment: batch of %zu bytes (at most 2 GiB)", b->bytes);
    for (int i = 0; i < b->count; i++) {
        size_t need = (size_t)b->heights[i] * (size_t)b->widths[i] * (size_t)b->channels;
        if (b->heights[i] < 1 || b->widths[i] < 1 || b->offsets[i] + need > b->bytes)
            return HVP_FAIL(HVP_ERR_ARG, "augment: image %d (%d x %d at byte %zu) outside the "
                            "batch's %zu bytes", i, b->heights[i], b->widths[i], b->offsets[i],
                            b->bytes);
    }
    return HVP_OK;
}

static hvp_status grow(void **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return HVP_OK;
    void *q = realloc(*p, need);
    if (!q)
        return HVP_FAIL(HVP_ERR_NOMEM, "augment: out of host memory (%zu bytes)", need);
    *p = q;
    *cap = need;
    return HVP_OK;
}

static hvp_status run_group(hvp_augment *a, const hvp_image_batch *b, int first_view, int nviews,
                            const hvp_tensor *pix, const hvp_tensor *vp, int list_off, int nb,
                            int kmax, const hvp_tensor *out)
{
    hvp_ctx *ctx = a->ctx;
    int S = a->cfg.slot[first_view].size, C = b->channels, Cout = a->cfg.out_channels;
    int nv = nviews * b->count;
    int vp_off = (int)vp->off + first_view * b->count * HVP_VP_STRIDE;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor work;
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 1, (int[]){nv * C * S * S}, "augment views",
                             &work));
    size_t grid[2] = {(size_t)S * S, (size_t)nv};
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_augment_crop, &k));
    hvp_args ar = hvp_args_begin(k);
    hvp_arg_int(&ar, nv);
    hvp_arg_int(&ar, S);
    hvp_arg_int(&ar, C);
    hvp_arg_mem(&ar, pix->buf);
    hvp_arg_int(&ar, (int)pix->off);
    hvp_arg_mem(&ar, vp->buf);
    hvp_arg_int(&ar, vp_off);
    hvp_arg_tensor(&ar, &work);
    size_t loc[2] = {64, 1};
    if (k->max_work_group_size < 64)
        loc[0] = k->max_work_group_size;
    HVP_TRY(hvp_launch(ctx, &ar, 2, grid, loc));

    HVP_TRY(hvp_kernel_get(ctx, HVP_K_augment_color, &k));
    /* a power of two, no larger than the kernel allows, 256, or the view's pixel count */
    size_t L = 1;
    while (L * 2 <= k->max_work_group_size && L * 2 <= 256 && L < (size_t)S * S)
        L *= 2;
    size_t items = L * (size_t)nv;
    if (ctx->row_per_item) { /* CPUs: a view per item, the same sums without barriers */
        HVP_TRY(hvp_kernel_get(ctx, HVP_K_augment_color_item, &k));
        items = (size_t)nv;
    }
    ar = hvp_args_begin(k);
    hvp_arg_int(&ar, nv);
    hvp_arg_int(&ar, S);
    hvp_arg_int(&ar, C);
    hvp_arg_mem(&ar, vp->buf);
    hvp_arg_int(&ar, vp_off);
    hvp_arg_tensor(&ar, &work);
    if (ctx->row_per_item) {
        hvp_arg_int(&ar, (int)L); /* the lanes whose tree it sums in */
        HVP_TRY(hvp_launch(ctx, &ar, 1, &items, NULL));
    } else {
        hvp_arg_local(&ar, L * sizeof(float));
        HVP_TRY(hvp_launch(ctx, &ar, 1, &items, &L));
    }

    HVP_TRY(hvp_blur_run(a->blur, a->mode, nb, nv, S, C, kmax, vp->buf, list_off, vp->buf,
                         vp_off, work.buf, (int)work.off));

    HVP_TRY(hvp_kernel_get(ctx, HVP_K_augment_finish, &k));
    ar = hvp_args_begin(k);
    hvp_arg_int(&ar, nv);
    hvp_arg_int(&ar, S);
    hvp_arg_int(&ar, C);
    hvp_arg_int(&ar, Cout);
    hvp_arg_mem(&ar, vp->buf);
    hvp_arg_int(&ar, vp_off);
    hvp_arg_tensor(&ar, &work);
    hvp_arg_tensor(&ar, out);
    loc[0] = k->max_work_group_size < 64 ? k->max_work_group_size : 64;
    HVP_TRY(hvp_launch(ctx, &ar, 2, grid, loc));
    hvp_arena_rewind(ctx->acts, mark); /* later work is ordered after these kernels */
    return HVP_OK;
}

hvp_status hvp_augment_apply(hvp_augment *a, const hvp_image_batch *b,
                             const hvp_view_params *params, hvp_tensor *global,
                             hvp_tensor *local)
{
    hvp_ctx *ctx = a->ctx;
    const hvp_view_config *cfg = &a->cfg;
    HVP_TRY(check_batch(b));
    int V = cfg->n_global + cfg->n_local, B = b->count;
    size_t nrec = (size_t)V * B;
    /* records, then the blur list of the globals, then that of the locals */
    HVP_TRY(grow((void **)&a->host, &a->host_cap, sizeof(int) * (nrec * HVP_VP_STRIDE + nrec)));
    int *h = a->host;
    memset(h, 0, sizeof(int) * nrec * HVP_VP_STRIDE);
    int *list = h + nrec * HVP_VP_STRIDE;
    int nb[2] = {0, 0}, kmax[2] = {1, 1};
    for (int v = 0; v < V; v++) {
        const hvp_view_slot *s = &cfg->slot[v];
        int g = v < cfg->n_global ? 0 : 1;
        int group_first = g == 0 ? 0 : cfg->n_global;
        for (int i = 0; i < B; i++) {
            const hvp_view_params *p = &params[(size_t)v * B + i];
            /* A box may reach past the edges (RandomCrop's zero padding) but must overlap. */
            if (p->crop_h < 1 || p->crop_w < 1 || p->crop_top <= -p->crop_h ||
                p->crop_left <= -p->crop_w || p->crop_top >= b->heights[i] ||
                p->crop_left >= b->widths[i])
                return HVP_FAIL(HVP_ERR_ARG, "augment: view %d of image %d crops (%d, %d) %d x %d "
                                "outside its %d x %d image", v, i, p->crop_top, p->crop_left,
                                p->crop_h, p->crop_w, b->heights[i], b->widths[i]);
            int *r = h + ((size_t)v * B + i) * HVP_VP_STRIDE;
            r[HVP_VP_SRC_OFF] = (int)b->offsets[i];
            r[HVP_VP_SRC_H] = b->heights[i];
            r[HVP_VP_SRC_W] = b->widths[i];
            r[HVP_VP_TOP] = p->crop_top;
            r[HVP_VP_LEFT] = p->crop_left;
            r[HVP_VP_CH] = p->crop_h;
            r[HVP_VP_CW] = p->crop_w;
            r[HVP_VP_FLIP] = p->flip != 0;
            r[HVP_VP_JITTER] = p->jitter != 0;
            for (int o = 0; o < 4; o++) {
                if (p->order[o] < 0 || p->order[o] > 3)
                    return HVP_FAIL(HVP_ERR_ARG, "augment: jitter op %d", p->order[o]);
                r[HVP_VP_ORDER + o] = p->order[o];
            }
            r[HVP_VP_FACTORS + 0] = float_bits(p->brightness);
            r[HVP_VP_FACTORS + 1] = float_bits(p->contrast);
            r[HVP_VP_FACTORS + 2] = float_bits(p->saturation);
            r[HVP_VP_FACTORS + 3] = float_bits(p->hue);
            r[HVP_VP_GRAY] = p->gray != 0;
            r[HVP_VP_BLUR] = p->blur != 0;
            r[HVP_VP_SIGMA] = float_bits(p->sigma);
            r[HVP_VP_SOLARIZE] = p->solarize != 0;
            for (int c = 0; c < 3; c++) {
                r[HVP_VP_MEAN + c] = float_bits(s->mean[c]);
                r[HVP_VP_STD + c] = float_bits(s->std[c]);
            }
            r[HVP_VP_INTERP] = s->interp;
            int ks = hvp_view_blur_kernel(s);
            r[HVP_VP_KSIZE] = ks;
            if (p->blur) {
                if (!(p->sigma > 0))
                    return HVP_FAIL(HVP_ERR_ARG, "augment: blur sigma %g", (double)p->sigma);
                int *gl = list + (g == 0 ? 0 : (size_t)cfg->n_global * B);
                gl[nb[g]++] = (v - group_first) * B + i;
                if (ks > kmax[g])
                    kmax[g] = ks;
            }
        }
    }
    hvp_tensor pix, vp;
    size_t pix_bytes = (b->bytes + 3) / 4 * 4;
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_U8, 1, (int[]){(int)pix_bytes}, "augment images",
                             &pix));
    int nint = (int)(nrec * HVP_VP_STRIDE + nrec);
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &nint, "augment params", &vp));
    if (pix_bytes != b->bytes) {
        /* the upload covers the whole tensor: stage the batch with its padding */
        uint8_t *tmp = malloc(pix_bytes);
        if (!tmp)
            return HVP_FAIL(HVP_ERR_NOMEM, "augment: out of host memory");
        memcpy(tmp, b->pixels, b->bytes);
        memset(tmp + b->bytes, 0, pix_bytes - b->bytes);
        hvp_status s = hvp_tensor_upload(ctx, &pix, tmp);
        free(tmp);
        HVP_TRY(s);
    } else {
        HVP_TRY(hvp_tensor_upload(ctx, &pix, b->pixels));
    }
    HVP_TRY(hvp_tensor_upload(ctx, &vp, h));
    int Cout = cfg->out_channels;
    int Sg = cfg->slot[0].size;
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 5, (int[]){cfg->n_global, B, Cout, Sg, Sg},
                             "global views", global));
    if (cfg->n_local > 0) {
        int Sl = cfg->slot[cfg->n_global].size;
        HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 5, (int[]){cfg->n_local, B, Cout, Sl, Sl},
                                 "local views", local));
    } else {
        memset(local, 0, sizeof *local);
        local->ndim = 5;
        local->dtype = HVP_F32;
    }
    /* The images and records stay allocated until the caller resets the arena; the
     * groups' scratch is returned as soon as their kernels are enqueued. */
    HVP_TRY(run_group(a, b, 0, cfg->n_global, &pix, &vp, (int)(vp.off + nrec * HVP_VP_STRIDE),
                      nb[0], kmax[0], global));
    if (cfg->n_local > 0)
        HVP_TRY(run_group(a, b, cfg->n_global, cfg->n_local, &pix, &vp,
                          (int)(vp.off + nrec * HVP_VP_STRIDE + (size_t)cfg->n_global * B),
                          nb[1], kmax[1], local));
    return HVP_OK;
}

hvp_status hvp_augment_batch(hvp_augment *a, const hvp_image_batch *b, uint64_t seed,
                             int64_t epoch, hvp_tensor *global, hvp_tensor *local)
{
    HVP_TRY(check_batch(b));
    int V = a->cfg.n_global + a->cfg.n_local;
    size_t n = (size_t)V * b->count;
    HVP_TRY(grow((void **)&a->params, &a->params_cap, n * sizeof(hvp_view_params)));
    for (int v = 0; v < V; v++)
        for (int i = 0; i < b->count; i++)
            hvp_view_sample(&a->cfg.slot[v], seed, epoch, b->indices[i], v, b->heights[i],
                            b->widths[i], &a->params[(size_t)v * b->count + i]);
    return hvp_augment_apply(a, b, a->params, global, local);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

hvp_status hvp_augment_bench(hvp_augment *a, const hvp_image_batch *b, int iters,
                             double *views_per_s)
{
    hvp_ctx *ctx = a->ctx;
    hvp_tensor g, l;
    double t0 = 0;
    for (int it = -1; it < iters; it++) {
        if (it == 0) {
            HVP_TRY(hvp_ctx_finish(ctx));
            t0 = now_s();
        }
        hvp_arena_mark m = hvp_arena_get_mark(ctx->acts);
        HVP_TRY(hvp_augment_batch(a, b, 1234, it + 1, &g, &l));
        HVP_TRY(hvp_ctx_finish(ctx));
        hvp_arena_rewind(ctx->acts, m);
    }
    double dt = now_s() - t0;
    double views = (double)iters * b->count * (a->cfg.n_global + a->cfg.n_local);
    *views_per_s = dt > 0 ? views / dt : 0;
    return HVP_OK;
}
