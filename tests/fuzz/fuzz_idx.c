/* The IDX reader (MNIST, Fashion-MNIST): part 0 is the images file, part 1 (if any) the
 * labels file, gzip-compressed or plain as the fuzzer makes them; the folder is opened as
 * hvp opens data.root. */
#include <stdlib.h>

#include "fuzz.h"

int fuzz_idx(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    if (!dir)
        return 0;
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    char *images = fuzz_write(dir, "train-images-idx3-ubyte", parts[0].data, parts[0].size);
    char *labels = n > 1 ? fuzz_write(dir, "train-labels-idx1-ubyte", parts[1].data, parts[1].size)
                         : NULL;
    int bad = 0;
    if (images && (n == 1 || labels)) {
        hvp_dataset_opts o = {.format = HVP_DATA_IDX, .root = dir, .split = "train"};
        bad = fuzz_read_dataset(&o);
    }
    free(images);
    free(labels);
    return bad;
}
