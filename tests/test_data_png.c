/* PNG decoding (src/data/png.c) gives PIL's convert("RGB" / "L") pixels for every colour
 * type and depth, and a damaged PNG is a bad file that an ImageFolder epoch skips and
 * counts. The PNGs are written here by libpng's simplified API. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "harness.h"
#include "test_data_util.h"

enum { W = 5, H = 3 };

/* A PNG of W x H pixels in `format` from `pixels` (colormap for the palette formats). */
static unsigned char *write_png(png_uint_32 format, const void *pixels, const void *colormap,
                                int colormap_entries, size_t *size)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = W;
    im.height = H;
    im.format = format;
    im.colormap_entries = (png_uint_32)colormap_entries;
    png_alloc_size_t n = 0;
    if (!png_image_write_to_memory(&im, NULL, &n, 0, pixels, 0, colormap))
        return NULL;
    unsigned char *out = test_alloc(n);
    if (!png_image_write_to_memory(&im, out, &n, 0, pixels, 0, colormap))
        return NULL;
    *size = n;
    return out;
}

static hvp_decoded decode(const unsigned char *png, size_t n, int channels)
{
    hvp_decoder *dec = NULL;
    hvp_decoded img = {0};
    hvp_status s = png ? hvp_decoder_create(&dec) : HVP_ERR_ARG;
    if (s == HVP_OK)
        s = hvp_image_decode(dec, png, n, "x.png", channels, &img);
    EXPECT(s == HVP_OK, "decoding: %s", png ? hvp_last_error() : "no PNG was written");
    hvp_decoder_destroy(dec);
    return img;
}

static void expect_pixels(const char *what, const hvp_decoded *img, int channels,
                          const uint8_t *want)
{
    EXPECT(img->width == W && img->height == H && img->channels == channels,
           "%s: %dx%dx%d", what, img->width, img->height, img->channels);
    for (int i = 0; img->pixels && i < W * H * channels; i++)
        if (img->pixels[i] != want[i]) {
            EXPECT(0, "%s: byte %d is %d, want %d", what, i, img->pixels[i], want[i]);
            return;
        }
}

HVP_TEST(data_png_decodes_as_pil)
{
    uint8_t rgb[W * H * 3], rgba[W * H * 4], gray[W * H], luma[W * H], gray3[W * H * 3];
    uint16_t rgb16[W * H * 3];
    for (int i = 0; i < W * H; i++) {
        for (int c = 0; c < 3; c++) {
            rgb[3 * i + c] = (uint8_t)(17 * i + 71 * c + 3);
            rgba[4 * i + c] = rgb[3 * i + c];
            rgb16[3 * i + c] = (uint16_t)(rgb[3 * i + c] << 8 | (uint8_t)(i * 37 + c));
            gray3[3 * i + c] = (uint8_t)(9 * i + 5);
        }
        rgba[4 * i + 3] = (uint8_t)(i * 16); /* PIL drops alpha, it does not composite */
        gray[i] = (uint8_t)(9 * i + 5);
    }
    hvp_rgb_to_gray(rgb, luma, W * H);
    size_t n;
    unsigned char *png = write_png(PNG_FORMAT_RGB, rgb, NULL, 0, &n);
    hvp_decoded img = decode(png, n, 3);
    expect_pixels("8-bit RGB", &img, 3, rgb);
    hvp_decoded_free(&img);
    img = decode(png, n, 1);
    expect_pixels("8-bit RGB as grey (PIL's luma)", &img, 1, luma);
    hvp_decoded_free(&img);

    png = write_png(PNG_FORMAT_RGBA, rgba, NULL, 0, &n);
    img = decode(png, n, 3);
    expect_pixels("RGBA", &img, 3, rgb);
    hvp_decoded_free(&img);

    png = write_png(PNG_FORMAT_GRAY, gray, NULL, 0, &n);
    img = decode(png, n, 1);
    expect_pixels("8-bit grey", &img, 1, gray);
    hvp_decoded_free(&img);
    img = decode(png, n, 3);
    expect_pixels("8-bit grey as RGB", &img, 3, gray3);
    hvp_decoded_free(&img);

    /* a palette of the image's own colours: index i is pixel i */
    uint8_t index[W * H];
    for (int i = 0; i < W * H; i++)
        index[i] = (uint8_t)i;
    png = write_png(PNG_FORMAT_RGB_COLORMAP, index, rgb, W * H, &n);
    img = decode(png, n, 3);
    expect_pixels("palette", &img, 3, rgb);
    hvp_decoded_free(&img);

    /* 16-bit samples: their high byte (PIL's RGB;16B) */
    png = write_png(PNG_FORMAT_LINEAR_RGB, rgb16, NULL, 0, &n);
    img = decode(png, n, 3);
    expect_pixels("16-bit RGB", &img, 3, rgb);
    hvp_decoded_free(&img);
}

HVP_TEST(data_png_damaged_is_a_bad_file)
{
    uint8_t rgb[W * H * 3] = {0};
    size_t n;
    unsigned char *png = write_png(PNG_FORMAT_RGB, rgb, NULL, 0, &n);
    hvp_decoder *dec;
    REQUIRE_OK(hvp_decoder_create(&dec));
    hvp_decoded img = {0};
    /* cut inside the image data, then a flipped byte in the header's CRC-checked chunk */
    size_t cut = n - 20;
    hvp_status s = hvp_image_decode(dec, png, cut, "cut.png", 3, &img);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "corrupt PNG 'cut.png'"),
           "a truncated PNG: %s", s == HVP_OK ? "decoded" : hvp_last_error());
    png[16] ^= 0x40; /* the width's high byte: IHDR's CRC no longer matches */
    s = hvp_image_decode(dec, png, n, "crc.png", 3, &img);
    EXPECT(s == HVP_ERR_FORMAT && strstr(hvp_last_error(), "crc.png"),
           "a PNG with a bad CRC: %s", s == HVP_OK ? "decoded" : hvp_last_error());
    /* the decoder still works after failures */
    png = write_png(PNG_FORMAT_RGB, rgb, NULL, 0, &n);
    s = hvp_image_decode(dec, png, n, "good.png", 3, &img);
    EXPECT(s == HVP_OK, "a good PNG after bad ones: %s", s == HVP_OK ? "" : hvp_last_error());
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
}
