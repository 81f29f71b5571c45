/* `hvp tune`: measures the GEMM algorithms per shape class, then the two ways of each
 * convolution pass per shape class, on the chosen device and stores the winners in the
 * device's tune table (see hvp_gemm_tune, hvp_conv2d_tune). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/hvp.h"
#include "hvp/ops.h"

int hvp_cmd_tune(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else {
            fprintf(stderr, "usage: hvp tune [--quick]\n"
                            "  times every GEMM algorithm per shape class, then each convolution\n"
                            "  pass both ways (implicit GEMM, column matrices) per shape class,\n"
                            "  on the chosen device and stores the fastest in its tune table\n"
                            "  (--quick: fewer rounds, and only ResNet-18 CIFAR convolutions)\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    hvp_ctx *ctx;
    if (hvp_ctx_create(NULL, &ctx) != HVP_OK)
        return hvp_cli_error("opening the device");
    char desc[4096], path[3200];
    printf("device: %s / %s\n", ctx->info.platform_name, ctx->info.device_name);
    hvp_gemm_describe(ctx, desc, sizeof desc);
    printf("gemm path before tuning: %s\n", desc);
    hvp_conv2d_describe(ctx, desc, sizeof desc);
    printf("conv path before tuning: %s\n", desc);
    printf("GFLOP/s per algorithm (fastest of %d interleaved rounds, each after a warm-up):\n",
           quick ? 2 : 5);
    fflush(stdout);
    if (hvp_gemm_tune(ctx, quick, stdout) != HVP_OK) {
        hvp_ctx_destroy(ctx);
        return hvp_cli_error("tuning GEMM");
    }
    hvp_gemm_describe(ctx, desc, sizeof desc);
    printf("gemm path now: %s\n", desc);
    printf("convolutions, ms per pass with column matrices / the implicit GEMM (fastest of %d "
           "interleaved rounds, each after a warm-up):\n",
           quick ? 2 : 3);
    fflush(stdout);
    if (hvp_conv2d_tune(ctx, quick, stdout) != HVP_OK) {
        hvp_ctx_destroy(ctx);
        return hvp_cli_error("tuning convolutions");
    }
    hvp_conv2d_describe(ctx, desc, sizeof desc);
    printf("conv path now: %s\n", desc);
    if (hvp_tune_table_path(ctx, path, sizeof path) == HVP_OK)
        printf("written: %s\n", path);
    hvp_ctx_destroy(ctx);
    return 0;
}
