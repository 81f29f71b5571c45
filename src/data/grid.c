/* A picture of the views: one row per image, the whole original first (squashed to a
 * square cell), then each view un-normalised; JPEG through TurboJPEG, or binary PPM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <turbojpeg.h>

#include "hvp/augment.h"

#define GAP 2

/* Bilinear sample of channel c at (y, x) in src coordinates (clamped). */
static float sample_u8(const uint8_t *img, int h, int w, int C, int c, float y, float x)
{
    y = y < 0 ? 0 : (y > h - 1 ? (float)(h - 1) : y);
    x = x < 0 ? 0 : (x > w - 1 ? (float)(w - 1) : x);
    int y0 = (int)y, x0 = (int)x;
    int y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
    float fy = y - (float)y0, fx = x - (float)x0;
    float a = img[((size_t)y0 * w + x0) * C + c], b = img[((size_t)y0 * w + x1) * C + c];
    float d = img[((size_t)y1 * w + x0) * C + c], e = img[((size_t)y1 * w + x1) * C + c];
    return (a * (1 - fx) + b * fx) * (1 - fy) + (d * (1 - fx) + e * fx) * fy;
}

static uint8_t to_byte(float v)
{
    v = v * 255.0f + 0.5f;
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static hvp_status write_rgb(const char *path, const uint8_t *rgb, int W, int H)
{
    if (ends_with(path, ".jpg") || ends_with(path, ".jpeg")) {
        tjhandle tj = tjInitCompress();
        if (!tj)
            return HVP_FAIL(HVP_ERR_NOMEM, "views grid: tjInitCompress failed");
        unsigned char *jpeg = NULL;
        unsigned long size = 0;
        if (tjCompress2(tj, rgb, W, 0, H, TJPF_RGB, &jpeg, &size, TJSAMP_444, 92,
                        TJFLAG_ACCURATEDCT) != 0) {
            hvp_status s = HVP_FAIL(HVP_ERR_IO, "views grid: JPEG compression failed: %s",
                                    tjGetErrorStr2(tj));
            tjDestroy(tj);
            return s;
        }
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(jpeg, 1, size, f) == size;
        if (f && fclose(f) != 0)
            ok = 0;
        tjFree(jpeg);
        tjDestroy(tj);
        if (!ok)
            return HVP_FAIL(HVP_ERR_IO, "views grid: cannot write %s", path);
        return HVP_OK;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return HVP_FAIL(HVP_ERR_IO, "views grid: cannot write %s", path);
    fprintf(f, "P6\n%d %d\n255\n", W, H);
    int ok = fwrite(rgb, 1, (size_t)W * H * 3, f) == (size_t)W * H * 3;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        return HVP_FAIL(HVP_ERR_IO, "views grid: cannot write %s", path);
    return HVP_OK;
}

hvp_status hvp_views_write_grid(hvp_ctx *ctx, const char *path, const hvp_image_batch *b,
                                const hvp_view_config *cfg, const hvp_tensor *global,
                                const hvp_tensor *local, int cell)
{
    int V = cfg->n_global + cfg->n_local, B = b->count, Co = cfg->out_channels;
    if (cell <= 0)
        cell = cfg->slot[0].size;
    int cols = 1 + V, W = cols * cell + (cols + 1) * GAP, H = B * cell + (B + 1) * GAP;
    uint8_t *rgb = malloc((size_t)W * H * 3);
    float *g = malloc(hvp_nbytes(global));
    float *l = cfg->n_local > 0 ? malloc(hvp_nbytes(local)) : NULL;
    hvp_status s = HVP_OK;
    if (!rgb || !g || (cfg->n_local > 0 && !l)) {
        s = HVP_FAIL(HVP_ERR_NOMEM, "views grid: out of host memory");
        goto done;
    }
    if ((s = hvp_tensor_download(ctx, global, g)) != HVP_OK)
        goto done;
    if (l && (s = hvp_tensor_download(ctx, local, l)) != HVP_OK)
        goto done;
    memset(rgb, 255, (size_t)W * H * 3);
    for (int i = 0; i < B; i++) {
        int oy = GAP + i * (cell + GAP);
        const uint8_t *img = b->pixels + b->offsets[i];
        int h = b->heights[i], w = b->widths[i], C = b->channels;
        for (int y = 0; y < cell; y++)
            for (int x = 0; x < cell; x++) {
                float sy = ((float)y + 0.5f) * (float)h / (float)cell - 0.5f;
                float sx = ((float)x + 0.5f) * (float)w / (float)cell - 0.5f;
                uint8_t *o = rgb + ((size_t)(oy + y) * W + GAP + x) * 3;
                for (int c = 0; c < 3; c++)
                    o[c] = (uint8_t)(sample_u8(img, h, w, C, C == 3 ? c : 0, sy, sx) + 0.5f);
            }
        for (int v = 0; v < V; v++) {
            const hvp_view_slot *sl = &cfg->slot[v];
            int S = sl->size;
            const float *base = v < cfg->n_global
                                    ? g + ((size_t)v * B + i) * Co * S * S
                                    : l + ((size_t)(v - cfg->n_global) * B + i) * Co * S * S;
            int ox = GAP + (1 + v) * (cell + GAP);
            for (int y = 0; y < cell; y++)
                for (int x = 0; x < cell; x++) {
                    int yy = (int)((long)y * S / cell), xx = (int)((long)x * S / cell);
                    uint8_t *o = rgb + ((size_t)(oy + y) * W + ox + x) * 3;
                    for (int c = 0; c < 3; c++) {
                        int cc = Co == 3 ? c : 0;
                        float val = base[((size_t)cc * S + yy) * S + xx];
                        o[c] = to_byte(val * sl->std[cc] + sl->mean[cc]);
                    }
                }
        }
    }
    s = write_rgb(path, rgb, W, H);
done:
    free(rgb);
    free(g);
    free(l);
    return s;
}
