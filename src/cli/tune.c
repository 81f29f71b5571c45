/* `hvp tune`: measures the GEMM algorithms on representative shapes of each class on the
 * chosen device and stores the winners in the device's tune table (see hvp_gemm_tune). */
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
                            "  times every GEMM algorithm per shape class on the chosen device\n"
                            "  and stores the fastest per class in the device's tune table\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    hvp_ctx *ctx;
    if (hvp_ctx_create(NULL, &ctx) != HVP_OK)
        return hvp_cli_error("opening the device");
    char desc[4096], path[3200];
    hvp_gemm_describe(ctx, desc, sizeof desc);
    printf("device: %s / %s\n", ctx->info.platform_name, ctx->info.device_name);
    printf("gemm path before tuning: %s\n", desc);
    printf("GFLOP/s per algorithm (fastest of %d interleaved rounds, each after a warm-up):\n",
           quick ? 2 : 5);
    fflush(stdout);
    if (hvp_gemm_tune(ctx, quick, stdout) != HVP_OK) {
        hvp_ctx_destroy(ctx);
        return hvp_cli_error("tuning GEMM");
    }
    hvp_gemm_describe(ctx, desc, sizeof desc);
    printf("gemm path now: %s\n", desc);
    if (hvp_tune_table_path(ctx, path, sizeof path) == HVP_OK)
        printf("written: %s\n", path);
    hvp_ctx_destroy(ctx);
    return 0;
}
