/* Supervised evaluation of a pretrained backbone (src/train/classifier.c, supervised.c):
 * a backbone under torchvision / timm names plus a new linear head "head.weight" /
 * "head.bias", trained on labelled images either as a linear probe (the backbone frozen in
 * eval mode: `hvp linear` with eval.augment, the online probe) or whole (`hvp finetune`). */
#ifndef HVP_CLASSIFY_H
#define HVP_CLASSIFY_H

#include <stdio.h>

#include "hvp/config.h"
#include "hvp/nn.h"
#include "hvp/optim.h"

typedef struct hvp_classifier {
    hvp_backbone backbone;
    hvp_state state;      /* the backbone's parameters and buffers, without prefix */
    hvp_state head_state; /* head.weight [classes, dim], head.bias [classes] */
    hvp_param head[2];    /* copies of head_state's two parameters */
    hvp_param *params;    /* what the optimizer updates: the head, or backbone + head */
    int nparams;
    int classes, dim, finetune;
    int last_blocks;       /* frozen ViT features: class tokens of the last n blocks */
    float label_smoothing; /* targets (1 - e) one-hot + e / classes (0: hard labels) */
    hvp_tensor targets;    /* [max_batch, classes]: the smoothed targets of a step */
    hvp_tensor labels;     /* I32 [max_batch] */
    float *host_targets;
    int max_batch;
    uint32_t step;
} hvp_classifier;

/* A classifier for images of the backbone's input, at most max_batch per step. The head
 * starts as the official linear evaluations start it: weight normal(0, 0.01), bias 0,
 * drawn from seed. finetune 0: the backbone is frozen and runs in eval mode, its features
 * those of hvp_backbone_eval_features with last_blocks (1 when fine-tuning). */
hvp_status hvp_classifier_create(hvp_ctx *ctx, const hvp_backbone_config *bc, int classes,
                                 int finetune, int last_blocks, int max_batch, uint64_t seed,
                                 hvp_classifier *out);
void hvp_classifier_free(hvp_classifier *c);

/* The backbone's weights: from a run's weights file, where the backbone sits under the
 * method's prefix (HVP_METHODS), or from a backbone file under torchvision / timm names
 * (prefix ""; a classifier fc.* / head.* in it is ignored). */
hvp_status hvp_classifier_load_backbone(hvp_classifier *c, hvp_ctx *ctx, const char *file,
                                        const char *prefix);

/* One training step on x [n, C, S, S] with labels (host, [n], in [0, classes)): forward
 * (the frozen backbone in eval mode without gradients, or the whole network in train mode),
 * cross-entropy against the (smoothed) labels, backward; gradients are zeroed first and
 * then hold this step's. The caller then steps its optimizer over c->params. The mean loss
 * goes to loss (F32 [1]). Nothing is created on the device; nothing waits. */
hvp_status hvp_classifier_train_step(hvp_classifier *c, hvp_ctx *ctx, const hvp_tensor *x,
                                     const int *labels, const hvp_tensor *loss);
/* Logits [n, classes] of x in eval mode (from ctx->acts). */
hvp_status hvp_classifier_logits(hvp_classifier *c, hvp_ctx *ctx, const hvp_tensor *x,
                                 hvp_tensor *logits);
/* The same from features the caller computed (the online probe's detached features). */
hvp_status hvp_classifier_train_step_features(hvp_classifier *c, hvp_ctx *ctx,
                                              const hvp_tensor *features, const int *labels,
                                              const hvp_tensor *loss);

/* Hits of logits [n, classes] (host) against labels: top-1 and top-5 counts (ties to the
 * lower class index, as the linear probe). */
void hvp_classify_hits(const float *logits, const int *labels, int n, int classes, long *top1,
                       long *top5);

/* ---- the protocols (src/train/supervised.c) ----------------------------------------- */

typedef struct hvp_supervised_opts {
    int finetune;          /* 0: linear probe on the frozen backbone */
    hvp_optim_kind optim;  /* SGD, LARS or AdamW */
    int epochs, batch_size, warmup_epochs;
    int last_blocks;       /* ViT features of the last n blocks (DINO's recipe: 4) */
    double lr;             /* for a batch of 256: the step's lr is lr * batch / 256 */
    double weight_decay, momentum, label_smoothing;
    int augment;           /* training views: RandomResizedCrop + flip (CIFAR: RandomCrop
                            * with padding + flip); 0: the evaluation preprocessing */
    const char *out_dir;   /* epochs.csv and checkpoints (fine-tuning); NULL: none */
} hvp_supervised_opts;

typedef struct hvp_supervised_result {
    double top1, top5;     /* on the test split after the last epoch, percent */
    long count;
    double last_loss;      /* mean training loss of the last epoch */
    long steps;
} hvp_supervised_result;

/* The options the config's keys and eval.recipe describe: linear (finetune 0: eval.linear_*,
 * eval.recipe, eval.augment) or fine-tuning (eval.finetune_*). */
hvp_status hvp_supervised_opts_from_config(const hvp_config *cfg, int finetune,
                                           hvp_supervised_opts *out);
/* Trains c on the evaluation's training split (eval.train_root or data.root) with o, one
 * line per epoch to log (NULL: silent) with the test split's top-1 / top-5 (eval.test_root
 * or the training data's test split; eval.knn_train_limit / knn_test_limit sample them).
 * On K > 1 MPI ranks (every rank calls it) the batch is the global one: each rank trains
 * on batch / K of its images (an error when K does not divide it), the gradients are
 * averaged over the ranks, fine-tuning's batch norms take the global batch's statistics
 * (SyncBN), the ranks share the test split and add their hits, and rank 0 alone writes to
 * log and o->out_dir; at the end every rank must hold bitwise rank 0's classifier. */
hvp_status hvp_supervised_run(hvp_ctx *ctx, hvp_classifier *c, const hvp_config *cfg,
                              const hvp_supervised_opts *o, FILE *log,
                              hvp_supervised_result *out);

#endif
