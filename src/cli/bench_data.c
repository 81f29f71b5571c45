/* `hvp bench data-decode ROOT [--workers N] [--batch N] [--limit N] [--format F]
 * [--split S] [--channels C]`: images/s decoded by the loader (no augmentation). */
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/hvp.h"

int hvp_cmd_bench_data_decode(int argc, char **argv)
{
    const char *root = NULL, *split = NULL;
    int workers = 1, batch = 256, channels = 0, limit = 0;
    hvp_data_format format = HVP_DATA_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            root = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "hvp bench data-decode: %s needs a value\n", a);
            return 2;
        }
        i++;
        const char *cmd = "bench data-decode";
        if (strcmp(a, "--workers") == 0) {
            if (!hvp_cli_int(cmd, a, v, 0, 1024, &workers))
                return 2;
        } else if (strcmp(a, "--batch") == 0) {
            if (!hvp_cli_int(cmd, a, v, 1, 1 << 20, &batch))
                return 2;
        } else if (strcmp(a, "--limit") == 0) {
            if (!hvp_cli_int(cmd, a, v, 0, INT_MAX, &limit))
                return 2;
        } else if (strcmp(a, "--channels") == 0) {
            if (!hvp_cli_int(cmd, a, v, 0, 3, &channels)) /* 2: the dataset says what's wrong */
                return 2;
        } else if (strcmp(a, "--split") == 0)
            split = v;
        else if (strcmp(a, "--format") == 0) {
            if (hvp_data_format_parse(v, &format) != HVP_OK)
                return hvp_cli_error("bench data-decode");
        } else {
            fprintf(stderr,
                    "usage: hvp bench data-decode ROOT [--workers N] [--batch N] [--limit N] "
                    "[--format F] [--split S] [--channels 1|3]\n");
            return 2;
        }
    }
    hvp_dataset_opts o = {format, root, split, channels};
    hvp_dataset *ds;
    if (hvp_dataset_open(&o, &ds) != HVP_OK)
        return hvp_cli_error("bench data-decode");
    printf("dataset: %s (%s), %lld images, %d classes, %d channels\n", hvp_dataset_root(ds),
           hvp_data_format_name(hvp_dataset_format(ds)), (long long)hvp_dataset_size(ds),
           hvp_dataset_num_classes(ds), hvp_dataset_channels(ds));
    hvp_decode_bench r;
    if (hvp_data_bench_decode(ds, workers, batch, limit, &r) != HVP_OK) {
        hvp_dataset_close(ds);
        return hvp_cli_error("bench data-decode");
    }
    printf("data-decode: workers %d, batch %d: %lld images in %.3f s = %.0f images/s "
           "(%lld skipped)\n",
           workers, batch, (long long)r.images, r.seconds, r.images_per_second,
           (long long)r.skipped);
    hvp_dataset_close(ds);
    return 0;
}
