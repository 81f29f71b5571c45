/* The CIFAR binary reader: part 0 is a batch file, part 1 (if any) the class names file,
 * read both as CIFAR-10 (test_batch.bin, batches.meta.txt) and as CIFAR-100 (test.bin,
 * fine_label_names.txt). */
#include <stdlib.h>

#include "fuzz.h"

static int read_as(const char *dir, int hundred, const fuzz_part *parts, int n)
{
    char *batch = fuzz_write(dir, hundred ? "c100/test.bin" : "c10/test_batch.bin",
                             parts[0].data, parts[0].size);
    char *names = n > 1 ? fuzz_write(dir, hundred ? "c100/fine_label_names.txt"
                                                  : "c10/batches.meta.txt",
                                     parts[1].data, parts[1].size)
                        : NULL;
    char *sub = fuzz_path(dir, hundred ? "c100" : "c10");
    int bad = 0;
    if (batch && sub && (n == 1 || names)) {
        hvp_dataset_opts o = {.format = hundred ? HVP_DATA_CIFAR100 : HVP_DATA_CIFAR10,
                              .root = sub, .split = "test"};
        bad = fuzz_read_dataset(&o);
    }
    free(sub);
    free(names);
    free(batch);
    return bad;
}

int fuzz_cifar(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    if (!dir)
        return 0;
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    return read_as(dir, 0, parts, n) || read_as(dir, 1, parts, n);
}
