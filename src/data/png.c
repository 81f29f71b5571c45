/* PNG through libpng, with the pixels PIL's Image.open(...).convert("RGB" or "L") gives
 * (torchvision's ImageFolder loader): palette, low bit depths and tRNS expanded, 16-bit
 * samples cut to their high byte, alpha dropped (not composited), no gamma applied, grey
 * output as PIL's luma of the RGB. (PIL differs on 16-bit greyscale, which it clips to 255
 * through mode I;16; the high byte is the sane reading and the one used here.) Any libpng
 * error or a truncated file makes a bad file with libpng's message. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

typedef struct png_source {
    const uint8_t *b;
    size_t size, pos;
} png_source;

static void read_bytes(png_structp png, png_bytep out, png_size_t n)
{
    png_source *s = png_get_io_ptr(png);
    if (n > s->size - s->pos)
        png_error(png, "file ends inside the image");
    memcpy(out, s->b + s->pos, n);
    s->pos += n;
}

/* libpng reports through these; the first error's text is kept for the message. */
typedef struct png_failure {
    char msg[160];
} png_failure;

static void on_error(png_structp png, png_const_charp msg)
{
    png_failure *f = png_get_error_ptr(png);
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

hvp_status hvp_decode_png(const uint8_t *b, size_t size, const char *path, int channels,
                          hvp_decoded *img)
{
    png_failure fail = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &fail, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return HVP_FAIL(HVP_ERR_NOMEM, "out of memory for libpng decoding '%s'", path);
    }
    png_source src = {b, size, 0};
    /* volatile: set between setjmp and a longjmp back to it */
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    hvp_status st = HVP_OK;
    if (setjmp(png_jmpbuf(png))) {
        st = HVP_FAIL(HVP_ERR_FORMAT, "corrupt PNG '%s': %s", path, fail.msg);
        goto done;
    }
    png_set_read_fn(png, &src, read_bytes);
    png_set_user_limits(png, 1u << 16, 1u << 16);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int color = png_get_color_type(png, info);
    png_set_expand(png); /* palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    int file_ch = color & PNG_COLOR_MASK_COLOR ? 3 : 1;
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != file_ch || png_get_bit_depth(png, info) != 8)
        png_error(png, "unexpected layout after expansion");
    st = hvp_decoded_reserve(img, (int)h, (int)w, channels);
    if (st != HVP_OK) {
        st = HVP_FAIL(st, "PNG '%s': %s", path, hvp_last_error());
        goto done;
    }
    /* the file's own channels, converted after: into img directly when they agree */
    rgb = file_ch == channels ? img->pixels : malloc((size_t)w * h * (size_t)file_ch);
    rows = malloc(h * sizeof *rows);
    if (!rgb || !rows) {
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of memory decoding '%s'", path);
        goto done;
    }
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = rgb + (size_t)y * w * (size_t)file_ch;
    png_read_image(png, rows);
    if (file_ch != channels && channels == 1)
        hvp_rgb_to_gray(rgb, img->pixels, (size_t)w * h);
    else if (file_ch != channels)
        hvp_gray_to_rgb(rgb, img->pixels, (size_t)w * h);
done:
    if (rgb != img->pixels)
        free(rgb);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return st;
}
