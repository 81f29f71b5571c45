/* `hvp finetune PATH [section.key=value ...]` and `hvp linear PATH eval.augment=true`: a
 * backbone from a run (its latest checkpoint), a checkpoint or a config's model.init (or
 * at initialisation) with a new linear head, trained on labels; top-1 / top-5 per epoch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/checkpoint.h"
#include "hvp/classify.h"
#include "hvp/hvp.h"
#include "hvp/train.h"

int hvp_cli_supervised(const char *cmd, const hvp_config *cfg, const char *ckpt, int finetune)
{
    hvp_supervised_opts o;
    hvp_supervised_result res;
    hvp_classifier c;
    memset(&c, 0, sizeof c);
    hvp_ctx *ctx = NULL;
    hvp_dataset *pre = NULL, *train = NULL;
    hvp_backbone_config bc;
    char out_dir[1100], run_dir[1024], weights[1200];
    hvp_status st = hvp_supervised_opts_from_config(cfg, finetune, &o);
    if (st == HVP_OK)
        st = hvp_train_open_device(cfg, &ctx);
    /* the backbone takes the pretraining data's channels; the classes are the evaluation's */
    if (st == HVP_OK)
        st = hvp_train_open_dataset(cfg, "train", 0, &pre);
    if (st == HVP_OK)
        st = hvp_train_open_eval_dataset(cfg, 0, &train);
    if (st == HVP_OK && hvp_dataset_num_classes(train) < 1)
        st = HVP_FAIL(HVP_ERR_ARG, "hvp %s needs labels; %s has none (eval.train_root names "
                      "a labelled dataset)", cmd, hvp_dataset_root(train));
    if (st == HVP_OK)
        st = hvp_train_backbone_config(cfg, cfg->data.channels ? cfg->data.channels
                                                               : hvp_dataset_channels(pre), &bc);
    if (st == HVP_OK) {
        long n = (long)hvp_dataset_size(train);
        int batch = o.batch_size < n ? o.batch_size : (int)n;
        st = hvp_classifier_create(ctx, &bc, hvp_dataset_num_classes(train), finetune,
                                   o.last_blocks, batch > 0 ? batch : 1,
                                   (uint64_t)cfg->run.seed, &c);
    }
    const char *from = "the network at initialisation";
    if (st == HVP_OK && ckpt[0]) {
        snprintf(weights, sizeof weights, "%s/" HVP_CKPT_WEIGHTS, ckpt);
        st = hvp_classifier_load_backbone(&c, ctx, weights,
                                          hvp_method_backbone_prefix(cfg->method.name));
        from = ckpt;
    } else if (st == HVP_OK && cfg->model.init[0]) {
        st = hvp_classifier_load_backbone(&c, ctx, cfg->model.init, NULL);
        from = cfg->model.init;
    }
    if (st == HVP_OK && finetune) {
        /* beside the checkpoints it starts from (RUN/checkpoints/step-N -> RUN/finetune),
         * wherever the run was moved; from a config, in its run directory */
        snprintf(run_dir, sizeof run_dir, "%s", ckpt);
        char *cut = strstr(run_dir, "/checkpoints/step-");
        if (cut)
            *cut = 0;
        else
            hvp_config_run_dir(cfg, run_dir, sizeof run_dir);
        snprintf(out_dir, sizeof out_dir, "%s/finetune", run_dir);
        o.out_dir = out_dir;
    }
    if (st == HVP_OK) {
        printf("%s of %s: %d epochs, batch %d, lr %g x batch/256, %s%s, %d features\n",
               finetune ? "fine-tuning" : o.augment ? "linear probe with augmentations"
                                                    : "linear probe on centre crops",
               from, o.epochs, o.batch_size, o.lr, o.optim == HVP_OPTIM_LARS ? "LARS" :
               o.optim == HVP_OPTIM_ADAMW ? "AdamW" : "SGD",
               finetune ? "" : ", frozen backbone in eval mode", c.dim);
        fflush(stdout);
        st = hvp_supervised_run(ctx, &c, cfg, &o, stdout, &res);
    }
    int rc = 0;
    if (st == HVP_OK)
        printf("%s of %s: top-1 %.2f%%, top-5 %.2f%%%s%s\n",
               finetune ? "fine-tuning" : "linear probe (augmented)", from, res.top1, res.top5,
               finetune ? "; checkpoints in " : "", finetune ? out_dir : "");
    else
        rc = hvp_cli_error(cmd);
    hvp_classifier_free(&c);
    hvp_dataset_close(pre);
    hvp_dataset_close(train);
    hvp_ctx_destroy(ctx);
    return rc;
}
