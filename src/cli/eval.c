/* `hvp knn|linear PATH [--pixels] [section.key=value ...]`: kNN or linear-probe top-1/top-5
 * on the test split. PATH is a run directory (its latest checkpoint), a checkpoint
 * directory (with the config its state file keeps), or a config file (the network at
 * initialisation; with --pixels, the raw pixels as features). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/dist.h"
#include "hvp/hvp.h"
#include "hvp/model_io.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int hvp_cli_locate(const char *cmd, const char *path, char *ckpt, size_t size)
{
    char probe[2048];
    ckpt[0] = 0;
    if (is_file(path))
        return 1;
    snprintf(probe, sizeof probe, "%s/" HVP_CKPT_WEIGHTS, path);
    if (is_file(probe)) { /* RUN/checkpoints/step-N, wherever it was moved */
        snprintf(ckpt, size, "%s", path);
        return 1;
    }
    int64_t step;
    if (hvp_ckpt_find_latest(path, ckpt, size, &step) == HVP_OK)
        return 1;
    fprintf(stderr, "hvp %s: %s is neither a run directory with checkpoints, a checkpoint "
                    "directory, nor a config file\n", cmd, path);
    return 0;
}

/* linear: 0 kNN, 1 linear probe, 2 fine-tuning */
static int evaluate(int argc, char **argv, int linear)
{
    const char *cmd = linear == 2 ? "finetune" : linear ? "linear" : "knn";
    if (argc < 2) {
        fprintf(stderr, "usage: hvp %s RUN_DIR|CHECKPOINT_DIR|CONFIG.ini %s"
                        "[section.key=value ...]\n", cmd, linear == 2 ? "" : "[--pixels] ");
        return 2;
    }
    int pixels = 0, n = 0;
    char *args[64];
    char ckpt[1100];
    if (!hvp_cli_locate(cmd, argv[1], ckpt, sizeof ckpt))
        return 2;
    args[n++] = argv[1];
    for (int i = 2; i < argc && n < 63; i++) {
        if (strcmp(argv[i], "--pixels") == 0)
            pixels = 1;
        else
            args[n++] = argv[i];
    }
    /* A checkpoint keeps the config it was trained with. */
    hvp_config cfg;
    if (ckpt[0] && hvp_ckpt_load_config(ckpt, &cfg) != HVP_OK) {
        hvp_cli_error(cmd);
        return 2;
    }
    int loaded = ckpt[0] ? hvp_cli_finish_config(n - 1, args + 1, &cfg)
                         : hvp_cli_load_config(n, args, &cfg);
    if (!loaded)
        return 2;
    if (linear == 2 && pixels) {
        fprintf(stderr, "hvp finetune: --pixels has no network to fine-tune\n");
        return 2;
    }
    /* under MPI every rank extracts a share of the features, or trains on a share of each
     * batch; rank 0 speaks */
    if (hvp_dist_rank() != 0 && !freopen("/dev/null", "w", stdout))
        return hvp_cli_error("redirecting the output of a rank other than 0");
    if (linear == 2 || (linear && cfg.eval.augment && !pixels))
        return hvp_cli_supervised(cmd, &cfg, ckpt, linear == 2);
    hvp_ctx *ctx = NULL;
    hvp_method *m = NULL;
    hvp_st_file *f = NULL;
    hvp_dataset *ds = NULL;
    double top1 = 0, top5 = 0;
    hvp_status st = hvp_train_open_device(&cfg, &ctx);
    if (st == HVP_OK && !pixels) {
        hvp_dataset_opts o = {cfg.data.format, cfg.data.root[0] ? cfg.data.root
                                                                 : HVP_DATA_DEFAULT_ROOT,
                              "train", cfg.data.channels};
        st = hvp_dataset_open(&o, &ds);
        if (st == HVP_OK)
            st = hvp_train_make_method(ctx, &cfg, hvp_dataset_channels(ds), &m);
        char weights[1200];
        snprintf(weights, sizeof weights, "%s/" HVP_CKPT_WEIGHTS, ckpt);
        if (st == HVP_OK && ckpt[0])
            st = hvp_st_open(weights, &f);
        if (st == HVP_OK && ckpt[0])
            st = hvp_state_read(ctx, &m->state, f, NULL, 1);
    }
    if (st == HVP_OK)
        st = (linear ? hvp_eval_linear_method : hvp_eval_knn_method)(
            ctx, m, &cfg, cfg.eval.knn_train_limit, cfg.eval.knn_test_limit, &top1, &top5);
    char how[128];
    if (linear)
        snprintf(how, sizeof how, "linear probe (%d epochs, lr %g)", cfg.eval.linear_epochs,
                 cfg.eval.linear_lr);
    else
        snprintf(how, sizeof how, "kNN (k=%d, T=%g)", cfg.eval.knn_k, cfg.eval.knn_temperature);
    const char *what = pixels ? "raw pixels" : ckpt[0] ? ckpt : "the network at initialisation";
    int rc = 0;
    if (st == HVP_OK)
        printf("%s of %s: top-1 %.2f%%, top-5 %.2f%%\n", how, what, top1, top5);
    else
        rc = hvp_cli_error(cmd);
    hvp_st_close(f);
    hvp_method_destroy(m);
    hvp_dataset_close(ds);
    hvp_ctx_destroy(ctx);
    return rc;
}

int hvp_cmd_knn(int argc, char **argv) { return evaluate(argc, argv, 0); }
int hvp_cmd_linear(int argc, char **argv) { return evaluate(argc, argv, 1); }
int hvp_cmd_finetune(int argc, char **argv) { return evaluate(argc, argv, 2); }
