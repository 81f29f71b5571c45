/* `hvp CONFIG [section.key=value ...]`: load, override, check, save and train; SIGINT or
 * SIGTERM stop it after a step with a checkpoint (exit status 128 + the signal). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/config.h"
#include "hvp/dist.h"
#include "hvp/train.h"

/* Loads CONFIG and the overrides that follow it; prints the error and returns 0 on failure. */
int hvp_cli_load_config(int argc, char **argv, hvp_config *cfg)
{
    if (hvp_config_load(argv[0], cfg) != HVP_OK) {
        hvp_cli_error("config");
        return 0;
    }
    return hvp_cli_finish_config(argc - 1, argv + 1, cfg);
}

int hvp_cli_finish_config(int argc, char **argv, hvp_config *cfg)
{
    for (int i = 0; i < argc; i++)
        if (hvp_config_override(cfg, argv[i]) != HVP_OK) {
            hvp_cli_error("override");
            return 0;
        }
    if (hvp_config_check(cfg) != HVP_OK) {
        hvp_cli_error("config");
        return 0;
    }
    /* Only the IDX format has a default place (Debian's Fashion-MNIST package). */
    if (cfg->data.format != HVP_DATA_AUTO && cfg->data.format != HVP_DATA_IDX &&
        hvp_config_require(cfg, "data.root",
                           "point it at an ImageFolder (ROOT/train/<class>/*.jpg and "
                           "ROOT/test/..., or ROOT/<class>/*.jpg), e.g. `hvp CONFIG "
                           "data.root=/data/imagenet`; configs/quickstart.ini runs on the "
                           "bundled Fashion-MNIST") != HVP_OK) {
        hvp_cli_error("config");
        return 0;
    }
    return 1;
}

int hvp_cmd_train(int argc, char **argv)
{
    hvp_config cfg;
    if (!hvp_cli_load_config(argc, argv, &cfg))
        return 2;
    if (hvp_dist_rank() != 0 && !freopen("/dev/null", "w", stdout)) /* rank 0 speaks */
        return hvp_cli_error("redirecting the output of a rank other than 0");
    printf("# resolved configuration (saved in the run directory as config.ini)\n");
    hvp_config_write(&cfg, stdout, 1);
    fflush(stdout);
    hvp_train_result r;
    hvp_cli_catch_stop_signals();
    if (hvp_train(&cfg, stdout, &r) != HVP_OK)
        return hvp_cli_error("training stopped");
    if (r.stopped) {
        if (!r.checkpoint[0])
            printf("interrupted before the first step: nothing to save\n");
        else if (strcmp(cfg.train.resume, "auto") == 0)
            printf("interrupted at step %ld (epoch %d): checkpoint saved in %s; run the same "
                   "command again to resume\n", r.steps, r.epoch, r.checkpoint);
        else /* the same command would resume from elsewhere or start afresh */
            printf("interrupted at step %ld (epoch %d): checkpoint saved in %s; add "
                   "train.resume=%s to the command to resume\n", r.steps, r.epoch,
                   r.checkpoint, r.checkpoint);
        return 128 + hvp_cli_stop_signal(); /* as a shell reports a process a signal ended */
    }
    printf("done: %ld steps in %.1f s, final loss %.4f; run directory %s\n", r.steps, r.seconds,
           r.final_loss, r.run_dir);
    if (r.knn_top1 >= 0) {
        printf("kNN top-1 on the test sample: %.2f%% after training", r.knn_top1);
        if (r.knn_init_top1 >= 0)
            printf(", %.2f%% at initialisation", r.knn_init_top1);
        if (r.knn_pixels_top1 >= 0)
            printf(", %.2f%% for raw pixels (%s them by %.2f points)", r.knn_pixels_top1,
                   r.knn_top1 >= r.knn_pixels_top1 ? "beats" : "trails",
                   fabs(r.knn_top1 - r.knn_pixels_top1));
        printf("\n");
    }
    if (cfg.log.csv)
        hvp_cli_write_report(r.run_dir); /* prints its path; a failure costs the run nothing */
    return 0;
}
