/* The image decoders behind ImageFolder (JPEG through TurboJPEG, binary PPM/PGM), on one
 * file's bytes, decoded to RGB and to gray with one decoder as a loader worker would. */
#include "data/dataset.h"
#include "fuzz.h"

int fuzz_image(const uint8_t *data, size_t size)
{
    hvp_decoder *dec = NULL;
    if (hvp_decoder_create(&dec) != HVP_OK)
        return 0;
    hvp_decoded img = {0};
    int bad = 0;
    for (int channels = 3; channels >= 1 && !bad; channels -= 2)
        if (hvp_image_decode(dec, data, size, "fuzz", channels, &img) == HVP_OK)
            bad = fuzz_check_decoded(&img, channels);
    hvp_decoded_free(&img);
    hvp_decoder_destroy(dec);
    return bad;
}
