/* `hvp tune`: measures CLBlast's GEMM parameter sets, the GEMM algorithms per shape class,
 * then the two ways of each convolution pass per shape class, on the chosen device and
 * stores the winners in the device's tune table (see hvp_clblast_tune, hvp_gemm_tune,
 * hvp_conv2d_tune). */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "hvp/hvp.h"
#include "hvp/ops.h"

extern char **environ;

/* CLBlast's parameter sets are timed by a child process (hvp tune --clblast-only): a set
 * given to CLBlast cannot be taken back, and this process goes on with the chosen one. */
static int tune_clblast_in_child(int quick)
{
    char *args[] = {"hvp", "tune", "--clblast-only", quick ? "--quick" : NULL, NULL};
    pid_t pid;
    int status;
    fflush(stdout);
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0 ||
        waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int tune_clblast_only(int quick)
{
    hvp_ctx *ctx;
    if (hvp_ctx_create(NULL, &ctx) != HVP_OK)
        return hvp_cli_error("opening the device");
    printf("CLBlast's GEMM parameters, GFLOP/s (%s):\n",
           quick ? "1 run after a warm-up" : "median of 3 runs after a warm-up");
    hvp_status st = hvp_clblast_tune(ctx, quick, stdout);
    hvp_ctx_destroy(ctx);
    return st == HVP_OK ? 0 : hvp_cli_error("tuning CLBlast's parameters");
}

int hvp_cmd_tune(int argc, char **argv)
{
    int quick = 0, clblast_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--clblast-only") == 0)
            clblast_only = 1;
        else {
            fprintf(stderr, "usage: hvp tune [--quick] [--clblast-only]\n"
                            "  times CLBlast's GEMM parameter sets, every GEMM algorithm per\n"
                            "  shape class, then each convolution pass both ways (implicit GEMM,\n"
                            "  column matrices) per shape class, on the chosen device and stores\n"
                            "  the fastest in its tune table (--quick: fewer rounds, and only\n"
                            "  ResNet-18 CIFAR convolutions; --clblast-only: CLBlast's sets only)\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (clblast_only)
        return tune_clblast_only(quick);
    if (tune_clblast_in_child(quick) != 0)
        fprintf(stderr, "hvp tune: timing CLBlast's parameters failed; CLBlast keeps its own\n");
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
