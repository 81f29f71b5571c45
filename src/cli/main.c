/* The hvp program: `hvp CONFIG [section.key=value ...]` trains; other verbs below. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "hvp/config.h"
#include "hvp/hvp.h"

int hvp_cli_error(const char *what)
{
    char why[2048];
    snprintf(why, sizeof why, "%s: %s", what, hvp_last_error());
    hvp_dist_abort(1, why); /* one of several ranks: ends the whole job, naming this rank */
    fprintf(stderr, "hvp: %s\n", why);
    return 1;
}

int hvp_cli_int(const char *cmd, const char *option, const char *value, long lo, long hi,
                int *out)
{
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "hvp %s: %s expects a whole number from %ld to %ld, not '%s'\n", cmd,
                option, lo, hi, value ? value : "(nothing)");
        return 0;
    }
    *out = (int)v;
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hvp CONFIG.ini [section.key=value ...]   train (resumes per train.resume)\n"
            "       hvp COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  devices            list OpenCL platforms and devices (* marks the one used)\n"
            "  knn PATH [--pixels] kNN top-1/top-5 of a run, checkpoint or config (init)\n"
            "  linear PATH [--pixels]  linear-probe top-1/top-5 of the same (eval.augment=true:\n"
            "                      with augmentations, eval.recipe=simsiam|dino)\n"
            "  finetune PATH       fine-tune the backbone with a new head on the labels\n"
            "  views CONFIG [--out F.jpg]  a grid of images and the views the config cuts\n"
            "  report RUN_DIR     RUN_DIR/report/index.html: plots of the run's logs, its views\n"
            "  export PATH --out F.safetensors  the backbone under torchvision/timm names\n"
            "  compare-devices CONFIG [--steps K] [--devices A,B]  the same steps on each\n"
            "                     device: loss, chosen pairs, divergence, speed, kernels\n"
            "  bench data CONFIG  images/s decoded and views/s augmented for a config\n"
            "  bench train CONFIG [--steps N]  images/s of training steps on fixed views\n"
            "  bench data-decode ROOT [--workers N]  images/s decoded from a dataset\n"
            "  bench ops          time each op (GEMM: own kernel, CLBlast, host OpenBLAS)\n"
            "  tune [--quick]     measure GEMM algorithms and convolution paths, store the\n"
            "                     fastest per device\n"
            "  sweep SWEEP.ini    runs of cells x seeds (resumable), then a table of kNN\n"
            "                     mean ± std with FLOPs and time, and accuracy vs FLOPs\n"
            "  --version          print the version\n"
            "  --help-config      list every configuration key: type, default, range, help\n"
            "\n"
            "environment:\n"
            "  HVP_DEVICE         device index or part of its platform/device name\n"
            "  HVP_PROFILE=1      print time per kernel at exit\n"
            "  HVP_GEMM           force one GEMM algorithm (clblast, reg4x32, lds16, ...)\n"
            "  HVP_CL_DIR         load kernels from this folder instead of the embedded ones\n"
            "  HVP_CACHE_DIR      cache folder: kernel binaries, raw-pixel kNN (default\n"
            "                     ~/.cache/hvp); HVP_NO_CACHE=1: kernels always from source\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (hvp_dist_init(&argc, &argv) != HVP_OK) {
        fprintf(stderr, "hvp: %s\n", hvp_last_error());
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "devices") == 0)
        return hvp_cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "knn") == 0)
        return hvp_cmd_knn(argc - 1, argv + 1);
    if (strcmp(cmd, "linear") == 0)
        return hvp_cmd_linear(argc - 1, argv + 1);
    if (strcmp(cmd, "finetune") == 0)
        return hvp_cmd_finetune(argc - 1, argv + 1);
    if (strcmp(cmd, "views") == 0)
        return hvp_cmd_views(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return hvp_cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return hvp_cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "compare-devices") == 0)
        return hvp_cmd_compare_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0 && argc > 2 && strcmp(argv[2], "data") == 0)
        return hvp_cmd_bench_data(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0 && argc > 2 && strcmp(argv[2], "train") == 0)
        return hvp_cmd_bench_train(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0 && argc > 2 && strcmp(argv[2], "data-decode") == 0)
        return hvp_cmd_bench_data_decode(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0)
        return hvp_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0)
        return hvp_cmd_tune(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return hvp_cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "--version") == 0) {
        printf("hvp %s\n", PACKAGE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help-config") == 0) {
        hvp_config_print_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strchr(cmd, '.') || strchr(cmd, '/')) /* a config file */
        return hvp_cmd_train(argc - 1, argv + 1);
    fprintf(stderr, "hvp: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
