/* Views and augmentations: device vs the double reference for fixed parameters, golden
 * views from torchvision (tools/make_augment_golden.py, tests/data/), determinism across
 * runs, batch sizes and view counts, the RandomResizedCrop parameter distribution, and
 * the views grid picture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hvp/train.h"
#include "ref/ref.h"

/* A batch of `count` images of the given sizes with random pixels; dataset index 100 + i. */
static hvp_image_batch make_batch(int count, int C, const int *hs, const int *ws)
{
    hvp_image_batch b = {0};
    b.count = count;
    b.channels = C;
    b.offsets = test_alloc(sizeof(size_t) * count);
    b.heights = test_alloc(sizeof(int) * count);
    b.widths = test_alloc(sizeof(int) * count);
    b.labels = test_alloc(sizeof(int) * count);
    b.indices = test_alloc(sizeof(int64_t) * count);
    for (int i = 0; i < count; i++) {
        b.offsets[i] = b.bytes;
        b.heights[i] = hs[i];
        b.widths[i] = ws[i];
        b.labels[i] = -1;
        b.indices[i] = 100 + i;
        b.bytes += (size_t)hs[i] * ws[i] * C;
    }
    b.pixels = test_alloc(b.bytes);
    for (size_t k = 0; k < b.bytes; k++)
        b.pixels[k] = (uint8_t)test_uniform(0, 256);
    return b;
}

/* A slot of size S with ImageNet normalisation and kernel k. */
static hvp_view_slot test_slot(int S, int k, int interp)
{
    hvp_view_config c;
    hvp_views_preset_default(&c, 1, S);
    c.slot[0].blur_kernel = k;
    c.slot[0].interp = interp;
    return c.slot[0];
}

enum { OP_FLIP = 1, OP_JITTER = 2, OP_GRAY = 4, OP_BLUR = 8, OP_SOLARIZE = 16 };

/* Random parameters for view of an h x w image, with the ops of `mask` switched on. */
static hvp_view_params test_params(int h, int w, int mask)
{
    hvp_view_params p = {0};
    p.crop_h = 1 + (int)test_uniform(0, (float)h);
    p.crop_w = 1 + (int)test_uniform(0, (float)w);
    if (p.crop_h > h)
        p.crop_h = h;
    if (p.crop_w > w)
        p.crop_w = w;
    p.crop_top = (int)test_uniform(0, (float)(h - p.crop_h + 1));
    p.crop_left = (int)test_uniform(0, (float)(w - p.crop_w + 1));
    if (p.crop_top > h - p.crop_h)
        p.crop_top = h - p.crop_h;
    if (p.crop_left > w - p.crop_w)
        p.crop_left = w - p.crop_w;
    p.flip = (mask & OP_FLIP) != 0;
    p.jitter = (mask & OP_JITTER) != 0;
    int perm[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = (int)test_uniform(0, (float)(i + 1));
        if (j > i)
            j = i;
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    memcpy(p.order, perm, sizeof perm);
    p.brightness = test_uniform(0.6f, 1.4f);
    p.contrast = test_uniform(0.6f, 1.4f);
    p.saturation = test_uniform(0.6f, 1.4f);
    p.hue = test_uniform(-0.1f, 0.1f);
    p.gray = (mask & OP_GRAY) != 0;
    p.blur = (mask & OP_BLUR) != 0;
    p.sigma = test_uniform(0.1f, 2.0f);
    p.solarize = (mask & OP_SOLARIZE) != 0;
    return p;
}

/* The clFFT path is not run under Oclgrind: clFFT's generated kernels (third-party code)
 * pair / and %, which LLVM turns into `freeze`, an instruction Oclgrind 21.10's
 * uninitialised-value checker cannot run; built with -cl-opt-disable they run but are
 * reported writing uninitialised values (clFFT's own scratch padding, 8000 reports on a
 * 10 x 10 plane), and the race checker needs over 6 GiB on them. The FFT path is checked
 * against the reference on PoCL and Rusticl. */
static void release_fft(void) { hvp_augment_fft_keep(0); }

static int fft_checked(void)
{
    if (strstr(test_ctx()->info.platform_name, "Oclgrind"))
        return 0;
    /* One clFFT setup for the whole test process, as many augment objects come and go;
     * released at exit, before clFFT's own static destructors complain. */
    static int kept;
    if (!kept && hvp_augment_fft_keep(1) == HVP_OK) {
        kept = 1;
        atexit(release_fft);
    }
    return 1;
}
static int last_blur_mode(void) { return fft_checked() ? HVP_BLUR_FFT : HVP_BLUR_DIRECT; }

/* Runs views with explicit parameters and compares every view with the reference. */
static void check_views(const char *what, const hvp_image_batch *b, hvp_view_config *cfg,
                        const hvp_view_params *params, hvp_blur_mode mode)
{
    hvp_augment *a;
    REQUIRE_OK(hvp_augment_create(test_ctx(), cfg, &a));
    hvp_augment_set_blur_mode(a, mode);
    hvp_tensor g, l;
    hvp_status s = hvp_augment_apply(a, b, params, &g, &l);
    hvp_augment_destroy(a);
    REQUIRE_OK(s);
    int V = cfg->n_global + cfg->n_local, B = b->count, Co = cfg->out_channels;
    float *got_g = test_read(&g), *got_l = cfg->n_local ? test_read(&l) : NULL;
    for (int v = 0; v < V; v++)
        for (int i = 0; i < B; i++) {
            const hvp_view_slot *sl = &cfg->slot[v];
            int S = sl->size;
            size_t n = (size_t)Co * S * S;
            double *want = test_doubles(n);
            ref_augment_view(b->pixels + b->offsets[i], b->heights[i], b->widths[i], b->channels,
                             sl, &params[(size_t)v * B + i], Co, want);
            const float *got = v < cfg->n_global
                                   ? got_g + ((size_t)v * B + i) * n
                                   : got_l + ((size_t)(v - cfg->n_global) * B + i) * n;
            char name[160];
            snprintf(name, sizeof name, "%s view %d image %d", what, v, i);
            EXPECT_CLOSE(name, got, want, n, FWD_TOL);
        }
}

HVP_TEST(augment_vs_ref)
{
    static const int masks[] = {0,          OP_FLIP,  OP_JITTER, OP_GRAY,
                                OP_BLUR,    OP_SOLARIZE, 31,     OP_JITTER | OP_BLUR};
    int tiny = test_tiny();
    int hs[3] = {13, 40, 6}, ws[3] = {17, 29, 9};
    int nimg = tiny ? 2 : 3;
    for (int C = 3; C >= 1; C -= 2)
        for (int interp = 0; interp < 2; interp++)
            for (int m = 0; m < (int)(sizeof masks / sizeof masks[0]); m++) {
                /* Oclgrind (every launch costs seconds there): all ops on, 3-channel bilinear and
         * 1-channel bicubic */
                if (tiny && ((C == 3) != (interp == 0) || masks[m] != 31))
                    continue;
                for (int mode = HVP_BLUR_DIRECT; mode <= last_blur_mode(); mode++) {
                    if (mode == HVP_BLUR_FFT && !(masks[m] & OP_BLUR))
                        continue;
                    hvp_image_batch b = make_batch(nimg, C, hs, ws);
                    hvp_view_config cfg = {0};
                    cfg.n_global = 2;
                    cfg.n_local = tiny ? 0 : 1;
                    cfg.out_channels = (C == 1 && interp == 1) ? 1 : 3;
                    int S = tiny ? 5 : 11;
                    cfg.slot[0] = test_slot(S, 3, interp);
                    cfg.slot[1] = test_slot(S, 5, interp);
                    cfg.slot[2] = test_slot(7, 9, interp); /* kernel wider than the view */
                    int V = cfg.n_global + cfg.n_local;
                    hvp_view_params *p = test_alloc(sizeof *p * V * nimg);
                    for (int v = 0; v < V; v++)
                        for (int i = 0; i < nimg; i++)
                            p[v * nimg + i] = test_params(hs[i], ws[i], masks[m]);
                    char what[96];
                    snprintf(what, sizeof what, "C=%d interp=%d ops=%d blur=%s", C, interp,
                             masks[m], mode == HVP_BLUR_FFT ? "fft" : "direct");
                    check_views(what, &b, &cfg, p, (hvp_blur_mode)mode);
                }
            }
}

/* augment_color's two launch shapes, a work-group per view (GPUs) and a view per item
 * (CPUs), give the same bits: the item sums the contrast mean in the group's tree. View
 * sizes give groups of 32 and 256 items (25 and 400 pixels). */
HVP_TEST(augment_color_group_and_item_agree_bitwise)
{
    int hs[3] = {13, 40, 26}, ws[3] = {17, 29, 30}, nimg = 3;
    int sizes[2] = {5, 20};
    for (int z = 0; z < (test_tiny() ? 1 : 2); z++) {
        hvp_image_batch b = make_batch(nimg, 3, hs, ws);
        hvp_view_config cfg = {0};
        cfg.n_global = 2;
        cfg.out_channels = 3;
        cfg.slot[0] = cfg.slot[1] = test_slot(sizes[z], 0, HVP_INTERP_BILINEAR);
        hvp_view_params *p = test_alloc(sizeof *p * 2 * nimg);
        for (int v = 0; v < 2 * nimg; v++)
            p[v] = test_params(hs[v % nimg], ws[v % nimg], OP_JITTER | OP_GRAY * (v == 3));
        float *got[2];
        size_t n = (size_t)2 * nimg * 3 * sizes[z] * sizes[z];
        for (int item = 0; item < 2; item++) {
            test_ctx()->row_per_item = item;
            hvp_augment *a;
            REQUIRE_OK(hvp_augment_create(test_ctx(), &cfg, &a));
            hvp_tensor g, l;
            hvp_status s = hvp_augment_apply(a, &b, p, &g, &l);
            hvp_augment_destroy(a);
            REQUIRE_OK(s);
            got[item] = test_read(&g);
        }
        size_t same = 0;
        for (size_t i = 0; i < n; i++)
            same += memcmp(&got[0][i], &got[1][i], sizeof(float)) == 0;
        EXPECT(same == n, "S=%d: %zu of %zu values differ in their bits", sizes[z], n - same, n);
    }
}

/* Larger views with the production kernel size (23 at 224 px is 2 * floor(S/20) + 1): both
 * blur paths against the reference. */
HVP_TEST(augment_blur_paths)
{
    int S = test_tiny() ? 9 : 64, n = test_tiny() ? 2 : 5;
    int hs[5] = {70, 64, 90, 33, 64}, ws[5] = {64, 80, 64, 50, 64};
    hvp_image_batch b = make_batch(n, 3, hs, ws);
    hvp_view_config cfg = {0};
    cfg.n_global = 1;
    cfg.out_channels = 3;
    cfg.slot[0] = test_slot(S, 0, HVP_INTERP_BILINEAR);
    hvp_view_params *p = test_alloc(sizeof *p * n);
    for (int i = 0; i < n; i++) {
        p[i] = test_params(hs[i], ws[i], i == 1 ? 0 : OP_BLUR);
        p[i].sigma = 0.1f + 1.9f * (float)i / 4.0f;
    }
    check_views("direct", &b, &cfg, p, HVP_BLUR_DIRECT);
    if (fft_checked()) {
        check_views("fft", &b, &cfg, p, HVP_BLUR_FFT);
        check_views("auto", &b, &cfg, p, HVP_BLUR_AUTO);
    }
}

/* ---- golden views from torchvision --------------------------------------------------- */

static FILE *open_data(const char *name)
{
    const char *dirs[] = {getenv("HVP_TEST_DATA"), "tests/data", "../tests/data",
                          "../../tests/data"};
    for (int i = 0; i < 4; i++) {
        if (!dirs[i])
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        FILE *f = fopen(path, "rb");
        if (f)
            return f;
    }
    return NULL;
}

/* File layout (little-endian, written by tools/make_augment_golden.py):
 * int32 magic 'HVAG', H, W, C, S, interp, top, left, ch, cw, flip, jitter, order[4], gray,
 * blur, ksize, solarize; float32 brightness, contrast, saturation, hue, sigma, mean[3],
 * std[3]; uint8 image[H][W][C]; float32 view[C][S][S]. */
HVP_TEST(augment_golden_torchvision)
{
    int files = 0;
    for (int f = 0; f < 16; f++) {
        if (test_tiny() && f != 0 && f != 3) /* Oclgrind: one RGB and the 1-channel file */
            continue;
        char name[64];
        snprintf(name, sizeof name, "augment_golden_%d.bin", f);
        FILE *fp = open_data(name);
        if (!fp)
            continue;
        files++;
        int32_t hd[20];
        float fl[11];
        int ok = fread(hd, sizeof hd, 1, fp) == 1 && fread(fl, sizeof fl, 1, fp) == 1 &&
                 hd[0] == 0x47415648;
        int H = hd[1], W = hd[2], C = hd[3], S = hd[4];
        uint8_t *img = test_alloc((size_t)H * W * C);
        float *want_f = test_floats((size_t)C * S * S);
        ok = ok && fread(img, (size_t)H * W * C, 1, fp) == 1 &&
             fread(want_f, sizeof(float) * C * S * S, 1, fp) == 1;
        fclose(fp);
        if (!ok) {
            TEST_FAIL("%s: malformed", name);
            continue;
        }
        hvp_view_config cfg = {0};
        cfg.n_global = 1;
        cfg.out_channels = C;
        cfg.slot[0] = test_slot(S, hd[18], hd[5]);
        for (int c = 0; c < 3; c++) {
            cfg.slot[0].mean[c] = fl[5 + c];
            cfg.slot[0].std[c] = fl[8 + c];
        }
        hvp_view_params p = {hd[6], hd[7], hd[8], hd[9], hd[10], hd[11],
                             {hd[12], hd[13], hd[14], hd[15]},
                             fl[0], fl[1], fl[2], fl[3], hd[16], hd[17], fl[4], hd[19]};
        hvp_image_batch b = {0};
        size_t off = 0;
        int64_t idx = 0;
        int lab = -1;
        b.count = 1;
        b.channels = C;
        b.pixels = img;
        b.bytes = (size_t)H * W * C;
        b.offsets = &off;
        b.heights = &H;
        b.widths = &W;
        b.labels = &lab;
        b.indices = &idx;
        hvp_augment *a;
        REQUIRE_OK(hvp_augment_create(test_ctx(), &cfg, &a));
        for (int mode = HVP_BLUR_DIRECT; mode <= last_blur_mode(); mode++) {
            hvp_augment_set_blur_mode(a, (hvp_blur_mode)mode);
            hvp_tensor g, l;
            hvp_status s = hvp_augment_apply(a, &b, &p, &g, &l);
            if (s != HVP_OK) {
                TEST_FAIL("%s: %s", name, hvp_last_error());
                break;
            }
            double *want = test_to_double(want_f, (size_t)C * S * S);
            /* Our reference must agree too (it is the oracle of augment_vs_ref). */
            double *ref = test_doubles((size_t)C * S * S);
            ref_augment_view(img, H, W, C, &cfg.slot[0], &p, C, ref);
            float *ref_f = test_floats((size_t)C * S * S);
            for (int i = 0; i < C * S * S; i++)
                ref_f[i] = (float)ref[i];
            char what[96];
            /* torchvision computes in float32 throughout (resize in two passes, blur as a 2-D
             * conv, hue through HSV): the measured worst relative error against it is 1.1e-6
             * (device, both blur paths, and our double reference alike), so the usual forward
             * tolerance holds with room, antialiased bilinear and bicubic included. */
            snprintf(what, sizeof what, "%s (%s blur) device", name, mode == 1 ? "direct" : "fft");
            EXPECT_CLOSE(what, test_read(&g), want, (size_t)C * S * S, FWD_TOL);
            snprintf(what, sizeof what, "%s reference", name);
            EXPECT_CLOSE(what, ref_f, want, (size_t)C * S * S, FWD_TOL);
        }
        hvp_augment_destroy(a);
    }
    EXPECT(files >= (test_tiny() ? 2 : 4), "found %d golden files in tests/data (run from the source tree or set "
                       "HVP_TEST_DATA)", files);
}

/* ---- determinism ----------------------------------------------------------------------- */

static void run_views(const hvp_image_batch *b, const hvp_view_config *cfg, hvp_blur_mode mode,
                      float **g_out, float **l_out)
{
    hvp_augment *a;
    *g_out = *l_out = NULL;
    REQUIRE_OK(hvp_augment_create(test_ctx(), cfg, &a));
    hvp_augment_set_blur_mode(a, mode);
    hvp_tensor g, l;
    hvp_status s = hvp_augment_batch(a, b, 42, 3, &g, &l);
    hvp_augment_destroy(a);
    REQUIRE_OK(s);
    *g_out = test_read(&g);
    *l_out = cfg->n_local ? test_read(&l) : NULL;
}

/* A batch holding images `pick` of b (same dataset indices). */
static hvp_image_batch sub_batch(const hvp_image_batch *b, int n, const int *pick)
{
    hvp_image_batch s = *b;
    s.count = n;
    s.offsets = test_alloc(sizeof(size_t) * n);
    s.heights = test_alloc(sizeof(int) * n);
    s.widths = test_alloc(sizeof(int) * n);
    s.labels = test_alloc(sizeof(int) * n);
    s.indices = test_alloc(sizeof(int64_t) * n);
    for (int i = 0; i < n; i++) {
        s.offsets[i] = b->offsets[pick[i]];
        s.heights[i] = b->heights[pick[i]];
        s.widths[i] = b->widths[pick[i]];
        s.labels[i] = b->labels[pick[i]];
        s.indices[i] = b->indices[pick[i]];
    }
    return s;
}

HVP_TEST(augment_deterministic)
{
    int tiny = test_tiny();
    int hs[4] = {20, 31, 16, 40}, ws[4] = {24, 18, 16, 33};
    int n = tiny ? 3 : 4;
    hvp_image_batch b = make_batch(n, 3, hs, ws);
    hvp_view_config cfg;
    hvp_views_preset_dino(&cfg, 2, tiny ? 6 : 16, 2, tiny ? 4 : 8);
    for (int v = 0; v < 4; v++)
        cfg.slot[v].blur_kernel = 3;
    int Sg = cfg.slot[0].size, Sl = cfg.slot[2].size;
    size_t gv = (size_t)3 * Sg * Sg, lv = (size_t)3 * Sl * Sl;
    for (int mode = HVP_BLUR_DIRECT; mode <= last_blur_mode(); mode++) {
        float *g1, *l1, *g2, *l2;
        run_views(&b, &cfg, (hvp_blur_mode)mode, &g1, &l1);
        run_views(&b, &cfg, (hvp_blur_mode)mode, &g2, &l2);
        if (!g1 || !g2)
            return;
        EXPECT(memcmp(g1, g2, sizeof(float) * 2 * n * gv) == 0 &&
                   memcmp(l1, l2, sizeof(float) * 2 * n * lv) == 0,
               "mode %d: two runs differ", mode);
        /* Reordered sub-batch: each view equals the full batch's view of that image. */
        int pick[2] = {2, 0};
        hvp_image_batch sb = sub_batch(&b, 2, pick);
        float *g3, *l3;
        run_views(&sb, &cfg, (hvp_blur_mode)mode, &g3, &l3);
        if (!g3)
            return;
        for (int v = 0; v < 2; v++)
            for (int i = 0; i < 2; i++) {
                EXPECT(memcmp(g3 + (v * 2 + i) * gv, g1 + (v * n + pick[i]) * gv,
                              sizeof(float) * gv) == 0,
                       "mode %d: global view %d of image %d differs in a smaller batch", mode, v,
                       pick[i]);
                EXPECT(memcmp(l3 + (v * 2 + i) * lv, l1 + (v * n + pick[i]) * lv,
                              sizeof(float) * lv) == 0,
                       "mode %d: local view %d of image %d differs in a smaller batch", mode, v,
                       pick[i]);
            }
        if (tiny)
            continue; /* Oclgrind: the runs above are enough to check memory use */
        /* Fewer views: the global views stay the same. */
        hvp_view_config c2 = cfg;
        c2.n_local = 0;
        float *g4, *l4;
        run_views(&b, &c2, (hvp_blur_mode)mode, &g4, &l4);
        if (!g4)
            return;
        EXPECT(memcmp(g4, g1, sizeof(float) * 2 * n * gv) == 0,
               "mode %d: global views change when the locals are dropped", mode);
        /* A different epoch gives different views. */
        EXPECT(memcmp(g1, g3, sizeof(float) * gv) != 0 || n < 3, "views of different images equal");
    }
    /* Host draws depend on (seed, epoch, index, view) only. */
    hvp_view_params p1, p2, p3;
    hvp_view_sample(&cfg.slot[0], 7, 1, 5, 0, 100, 80, &p1);
    hvp_view_sample(&cfg.slot[0], 7, 1, 5, 0, 100, 80, &p2);
    hvp_view_sample(&cfg.slot[0], 7, 2, 5, 0, 100, 80, &p3);
    EXPECT(memcmp(&p1, &p2, sizeof p1) == 0, "same key, different draws");
    EXPECT(memcmp(&p1, &p3, sizeof p1) != 0, "another epoch, same draws");
}

/* ---- RandomResizedCrop parameters -------------------------------------------------- */

HVP_TEST(augment_crop_params)
{
    int n = test_tiny() ? 2000 : 50000;
    double sum_area = 0;
    int bad = 0;
    hvp_rng_stream r = hvp_rng_stream_init(9, 1, 2, 3);
    int H = 375, W = 500;
    double min_area = 1, max_area = 0, min_ratio = 9, max_ratio = 0;
    for (int k = 0; k < n; k++) {
        int t, l, h, w;
        hvp_view_sample_crop(&r, H, W, 0.2, 1.0, 3.0 / 4, 4.0 / 3, &t, &l, &h, &w);
        if (t < 0 || l < 0 || h < 1 || w < 1 || t + h > H || l + w > W)
            bad++;
        double area = (double)h * w / (H * W), ratio = (double)w / h;
        sum_area += area;
        min_area = fmin(min_area, area);
        max_area = fmax(max_area, area);
        min_ratio = fmin(min_ratio, ratio);
        max_ratio = fmax(max_ratio, ratio);
    }
    EXPECT(bad == 0, "%d crops outside the image", bad);
    /* Rounding w and h to integers moves area and ratio by less than 1% at these sizes. */
    EXPECT(min_area > 0.2 * 0.99 && max_area <= 1.0, "area fraction in [%g, %g]", min_area,
           max_area);
    EXPECT(min_ratio > 0.75 * 0.99 && max_ratio < 4.0 / 3 * 1.01, "ratio in [%g, %g]", min_ratio,
           max_ratio);
    EXPECT(min_area < 0.21 && max_area > 0.95, "area fraction range [%g, %g] too narrow",
           min_area, max_area);
    EXPECT(min_ratio < 0.76 && max_ratio > 1.32, "ratio range [%g, %g] too narrow", min_ratio,
           max_ratio);
    /* The target area is uniform in [0.2, 1] (mean 0.6), but large targets fit a 4:3 image
     * only with a ratio near 4/3 and are retried otherwise, which pulls the mean down to
     * about 0.5 (torchvision's get_params behaves the same). */
    double mean = sum_area / n;
    EXPECT(mean > 0.45 && mean < 0.55, "mean area fraction %g", mean);
    /* The fallback: no ratio in [3/4, 4/3] fits a 10 x 1000 strip, so the centre crop with
     * the ratio clamped to 4/3: h = 10, w = round(10 * 4/3) = 13. */
    int t, l, h, w;
    hvp_view_sample_crop(&r, 10, 1000, 0.9, 1.0, 3.0 / 4, 4.0 / 3, &t, &l, &h, &w);
    EXPECT(h == 10 && w == 13 && t == 0 && l == (1000 - 13) / 2, "fallback crop %d %d %d %d", t,
           l, h, w);
    hvp_view_sample_crop(&r, 1000, 10, 0.9, 1.0, 3.0 / 4, 4.0 / 3, &t, &l, &h, &w);
    EXPECT(w == 10 && h == 13 && l == 0 && t == (1000 - 13) / 2, "fallback crop %d %d %d %d", t,
           l, h, w);
}

/* ---- the grid picture ------------------------------------------------------------------- */

HVP_TEST(augment_grid)
{
    int hs[3] = {32, 48, 40}, ws[3] = {32, 40, 60};
    int n = test_tiny() ? 1 : 3;
    hvp_image_batch b = make_batch(n, 3, hs, ws);
    /* smooth synthetic pictures: gradients and a disc, so the views are recognisable */
    for (int i = 0; i < n; i++)
        for (int y = 0; y < hs[i]; y++)
            for (int x = 0; x < ws[i]; x++) {
                uint8_t *px = b.pixels + b.offsets[i] + ((size_t)y * ws[i] + x) * 3;
                double dx = x - ws[i] / 2.0, dy = y - hs[i] / 2.0;
                int disc = dx * dx + dy * dy < hs[i] * hs[i] / 9.0;
                px[0] = (uint8_t)(255 * x / ws[i]);
                px[1] = (uint8_t)(255 * y / hs[i]);
                px[2] = disc ? 230 : 40;
            }
    hvp_view_config cfg;
    int S = test_tiny() ? 8 : 24;
    hvp_views_preset_dino(&cfg, 2, S, 2, S / 2);
    hvp_augment *a;
    REQUIRE_OK(hvp_augment_create(test_ctx(), &cfg, &a));
    if (!fft_checked())
        hvp_augment_set_blur_mode(a, HVP_BLUR_DIRECT);
    hvp_tensor g, l;
    hvp_status s = hvp_augment_batch(a, &b, 1, 0, &g, &l);
    hvp_augment_destroy(a);
    REQUIRE_OK(s);
    char ppm[64], jpg[64];
    snprintf(ppm, sizeof ppm, "/tmp/hvp_test_grid_%d.ppm", (int)getpid());
    snprintf(jpg, sizeof jpg, "/tmp/hvp_test_grid_%d.jpg", (int)getpid());
    REQUIRE_OK(hvp_views_write_grid(test_ctx(), ppm, &b, &cfg, &g, &l, S));
    REQUIRE_OK(hvp_views_write_grid(test_ctx(), jpg, &b, &cfg, &g, &l, S));
    int W = 5 * S + 6 * 2, H = n * S + (n + 1) * 2;
    FILE *f = fopen(ppm, "rb");
    int w = 0, h = 0, maxv = 0;
    EXPECT(f && fscanf(f, "P6 %d %d %d", &w, &h, &maxv) == 3, "cannot read %s back", ppm);
    EXPECT(w == W && h == H && maxv == 255, "grid is %d x %d, expected %d x %d", w, h, W, H);
    if (f) {
        fgetc(f);
        /* The first pixel of the original cell: the red/green gradient's top-left corner. */
        unsigned char px[3];
        fseek(f, (long)(ftell(f) + ((long)2 * W + 2) * 3), SEEK_SET);
        EXPECT(fread(px, 3, 1, f) == 1 && px[0] < 40 && px[1] < 40, "original cell corner %d %d",
               px[0], px[1]);
        fclose(f);
    }
    f = fopen(jpg, "rb");
    unsigned char magic[2] = {0, 0};
    EXPECT(f && fread(magic, 2, 1, f) == 1 && magic[0] == 0xFF && magic[1] == 0xD8,
           "%s is not a JPEG", jpg);
    if (f)
        fclose(f);
    remove(ppm);
    remove(jpg);
}

/* hvp.views goes up to 64 and data.local_crops to 64: every view has a slot (the view
 * config used to hold 16, and more views wrote past it before any range check). */
HVP_TEST(augment_view_config_holds_every_configured_view)
{
    for (int views = 2; views <= 64; views += 31) {
        hvp_config c;
        hvp_config_defaults(&c);
        char set[64];
        snprintf(set, sizeof set, "hvp.views=%d", views);
        REQUIRE_OK(hvp_config_override(&c, set));
        REQUIRE_OK(hvp_config_override(&c, "data.local_crops=64"));
        hvp_view_config vc;
        REQUIRE_OK(hvp_train_view_config(&c, 3, views, &vc));
        EXPECT(vc.n_global == views && vc.slot[views - 1].size == c.data.image_size,
               "%d views: %d global, last size %d", views, vc.n_global,
               vc.slot[views - 1].size);
        vc.n_local = c.data.local_crops;
        for (int v = views; v < views + vc.n_local; v++)
            vc.slot[v] = vc.slot[0];
        REQUIRE_OK(hvp_views_validate(&vc));
    }
    hvp_config c;
    hvp_config_defaults(&c);
    hvp_view_config vc;
    EXPECT(hvp_train_view_config(&c, 3, HVP_MAX_VIEWS + 1, &vc) == HVP_ERR_ARG &&
               strstr(hvp_last_error(), "views"),
           "too many views: %s", hvp_last_error());
}

/* DINO's two kinds of global view: even slots take data.blur_prob / solarize_prob, odd ones
 * data.odd_blur_prob / odd_solarize_prob where set (-1, the default: the same for all). */
HVP_TEST(augment_odd_slots_take_their_own_blur_and_solarize)
{
    hvp_config c;
    hvp_config_defaults(&c);
    hvp_view_config vc;
    REQUIRE_OK(hvp_train_view_config(&c, 3, 4, &vc));
    for (int v = 1; v < 4; v++)
        EXPECT(vc.slot[v].blur_p == vc.slot[0].blur_p &&
                   vc.slot[v].solarize_p == vc.slot[0].solarize_p,
               "defaults: slot %d differs from slot 0", v);
    static const char *const sets[] = {"data.blur_prob=1.0", "data.odd_blur_prob=0.1",
                                       "data.solarize_prob=0", "data.odd_solarize_prob=0.2"};
    for (int i = 0; i < 4; i++)
        REQUIRE_OK(hvp_config_override(&c, sets[i]));
    REQUIRE_OK(hvp_train_view_config(&c, 3, 5, &vc));
    for (int v = 0; v < 5; v++) {
        double blur = v % 2 ? 0.1 : 1.0, solarize = v % 2 ? 0.2 : 0.0;
        EXPECT(vc.slot[v].blur_p == blur && vc.slot[v].solarize_p == solarize,
               "slot %d: blur %g, solarize %g; want %g, %g", v, vc.slot[v].blur_p,
               vc.slot[v].solarize_p, blur, solarize);
    }
    EXPECT(hvp_config_override(&c, "data.odd_blur_prob=1.5") != HVP_OK &&
               strstr(hvp_last_error(), "odd_blur_prob"),
           "odd_blur_prob 1.5: %s", hvp_last_error());
}
