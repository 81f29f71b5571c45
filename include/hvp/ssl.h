/* Self-supervised methods. Each method (src/ssl/<name>.c) exposes the same small interface:
 * score pairs of views for hard view selection, one training step's forward and backward,
 * what to do after the optimizer step, its state for checkpoints, and its own rules for
 * the optimizer (hvp_method_policy). A method does not know how its views were chosen; the
 * trainer knows no method: it builds one by method.name (hvp_method_from_config). */
#ifndef HVP_SSL_H
#define HVP_SSL_H

#include "hvp/config.h"
#include "hvp/nn.h"

typedef struct hvp_method hvp_method;

/* What a training step gives a method besides its global views: the step and the local
 * views (multi-crop). */
typedef struct hvp_step_input {
    uint32_t step;           /* the training step: draws a ViT's drop-path masks, iBOT's masks */
    const hvp_tensor *local; /* local views [nlocal*B, C, s, s], view-major; NULL when none */
    int nlocal;              /* local views per image; 0: none */
} hvp_step_input;

typedef struct hvp_method_ops {
    const char *name;  /* method.name */
    const char *title; /* as printed, e.g. "SimSiam" */
    /* views: nviews*B samples, view-major (view v of image b at row v*B + b). Runs the
     * model in train mode without keeping activations (batch-norm statistics over all the
     * views) and writes the method's own per-sample loss of each pair, pair k = (pairs[k][0],
     * pairs[k][1]), into scores [npairs, B]. step: the training step. */
    hvp_status (*score_pairs)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], uint32_t step,
                              const hvp_tensor *scores);
    /* Optional, for local-crop selection (hvp.local_candidates): as score_pairs at in->step,
     * and for each pair q and each of the in->nlocal local candidates l (in->local, view-major)
     * the per-sample loss of l against q's two global views into local_scores [npairs,
     * nlocal, B], on the scale of the pair's score, so that the method's loss of pair q
     * trained with the local views S is (scores[q] + sum over l in S of local_scores[q, l]) /
     * (1 + |S|). NULL: the method cannot select local views. */
    hvp_status (*score_pairs_locals)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views,
                                     int nviews, int npairs, const int (*pairs)[2],
                                     const hvp_step_input *in, const hvp_tensor *scores,
                                     const hvp_tensor *local_scores);
    /* x12 = [x1; x2], 2B samples: forward, loss, backward at step in->step. Multi-crop
     * (DINO, iBOT): the student also trains on the in->nlocal local views in->local (the
     * teacher sees the two global views only); only a method that sets policy.takes_local
     * at creation is given any. Parameter gradients accumulate (the caller zeroes them);
     * the mean loss goes to loss (F32, one element). */
    hvp_status (*train_step)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_step_input *in, const hvp_tensor *loss);
    /* After the optimizer step (DINO's teacher EMA, centering); may be NULL. */
    hvp_status (*after_step)(hvp_method *m, hvp_ctx *ctx, long step);
    /* The run's length, for schedules by epoch or step (DINO's teacher temperature and
     * momentum); may be NULL. */
    void (*set_schedule)(hvp_method *m, long steps_per_epoch, long total_steps);
    /* Backbone features in eval mode, for kNN and linear evaluation: x [n, ...] -> [n, d]. */
    hvp_status (*features)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x,
                           hvp_tensor *features);
    void (*destroy)(hvp_method *m);
} hvp_method_ops;

/* How the trainer treats a method's parameters: the method's rules, set at its creation. */
typedef struct hvp_method_policy {
    /* Weight decay on every parameter (SimSiam's and SimCLR's official code, solo-learn);
     * 0: none on biases and norm parameters (DINO's get_params_groups). */
    int decay_all;
    /* optim.clip_grad bounds each parameter's gradient norm (DINO's clip_gradients); 0: the
     * norm of all gradients together. */
    int clip_per_param;
    /* Parameters whose names contain it get no update during the first
     * method.freeze_last_layer epochs (DINO's cancel_gradients_last_layer); NULL: none. */
    const char *frozen_early;
    /* Trains on local views (multi-crop) when data.local_crops > 0. */
    int takes_local;
    /* Its global views alternate two augmentations (DINO's and iBOT's even slots blurred,
     * odd ones rarely blurred but solarized): hard view selection pairs an even candidate
     * with an odd one only, as the paper's reference code; 0: every pair. */
    int asymmetric_globals;
    /* Under optim.fix_pred_lr, parameters whose names start with it keep the base learning
     * rate (SimSiam's predictor, as its official code); NULL: the flag changes nothing. */
    const char *fixed_lr_prefix;
} hvp_method_policy;

struct hvp_method {
    const hvp_method_ops *ops;
    hvp_method_policy policy;
    hvp_state state;   /* every parameter and buffer, torchvision / official names */
    int feature_dim;   /* backbone feature size */
    void *impl;
};

/* SimSiam (Chen & He, 2021) on a ResNet or a ViT. */
typedef struct hvp_simsiam_config {
    hvp_backbone_config backbone;
    int proj_dim;        /* 2048 */
    int proj_hidden_dim; /* 0: the backbone's feature size, as the official code */
    int pred_dim;        /* 512 */
    uint64_t seed;       /* parameter initialisation */
} hvp_simsiam_config;

hvp_status hvp_simsiam_create(hvp_ctx *ctx, const hvp_simsiam_config *cfg, hvp_method **out);

/* SimCLR (Chen et al., 2020) on a ResNet or a ViT, as solo-learn: projector Linear-ReLU-Linear,
 * NT-Xent loss. */
typedef struct hvp_simclr_config {
    hvp_backbone_config backbone;
    int proj_dim;        /* 256 in solo-learn's CIFAR and ImageNet configs */
    int proj_hidden_dim; /* 2048 */
    float temperature;   /* 0.2 in solo-learn; 0.1 in the paper's large-batch runs */
    uint64_t seed;
} hvp_simclr_config;

hvp_status hvp_simclr_create(hvp_ctx *ctx, const hvp_simclr_config *cfg, hvp_method **out);

/* DINO (Caron et al., 2021) on a ResNet or a ViT, as the official code: student = backbone +
 * DINOHead (Linear-GELU-Linear-GELU-Linear to the bottleneck, L2 normalisation, a
 * weight-normalised Linear without bias to out_dim), teacher = an EMA copy of the student
 * (its weights are buffers "teacher.*": checkpointed, never optimised), centering of the
 * teacher outputs ("dino_loss.center"). Loss over two global views: the cross-entropy of
 * softmax((t_i - center) / teacher_temp) against log_softmax(s_j / student_temp), j != i,
 * averaged over both terms and the batch; with local views (in->local) the student also
 * learns each of them from both teacher views, every term weighted alike (DINOLoss over
 * 2 + nlocal crops). A pair's selection score is the two-view loss per sample; a local
 * view's against pair (i, j) its two terms' mean 1/2 (H(P_i, s_l) + H(P_j, s_l))
 * (score_pairs_locals: the pair with locals S scores its multi-crop loss).
 * Names: "student.backbone.conv1.weight", "student.head.mlp.0.weight",
 * "student.head.last_layer.weight_g" / "weight_v", the same under "teacher.". */
typedef struct hvp_dino_config {
    hvp_backbone_config backbone;   /* the teacher's ViT gets no drop path (as official) */
    int out_dim;                    /* 65536 */
    int hidden_dim;                 /* 2048 */
    int bottleneck_dim;             /* 256 */
    int norm_last_layer;            /* weight_g fixed at 1 (a buffer); else trained */
    float teacher_temp;             /* 0.04 (0.07 after warm-up in the ViT-S recipe) */
    float warmup_teacher_temp;      /* 0.04 */
    int warmup_teacher_temp_epochs; /* linear warm-up by epoch, as np.linspace; 0: none */
    float student_temp;             /* 0.1 */
    float teacher_momentum;         /* 0.996, cosine to 1 over total_steps */
    float center_momentum;          /* 0.9 */
    uint64_t seed;
} hvp_dino_config;

hvp_status hvp_dino_create(hvp_ctx *ctx, const hvp_dino_config *cfg, hvp_method **out);
/* The run's length, for the schedules: the teacher temperature by epoch (step /
 * steps_per_epoch) and the teacher momentum by step (cosine over total_steps). Without
 * it, every step is in epoch 0 and the momentum stays at teacher_momentum. */
void hvp_dino_set_schedule(hvp_method *m, long steps_per_epoch, long total_steps);
/* The schedules' values at a step (also what the method uses). */
float hvp_dino_teacher_temp(const hvp_method *m, long step);
float hvp_dino_teacher_momentum(const hvp_method *m, long step);

/* iBOT (Zhou et al., ICLR 2022) on a ViT, as the official code (bytedance/ibot) with two
 * global views and any number of local crops: student and teacher are a ViT returning every
 * token with iBOTHead, the DINOHead MLP on all tokens and, as the official ViT-S/B recipe
 * (--shared_head true), one weight-normalised last layer for the class token and the patch
 * tokens (patch_out_dim must equal out_dim), or (separate_head) a second one,
 * "head.last_layer2", of patch_out_dim outputs for the patch tokens. The student's views are
 * masked (masked image modelling): with
 * probability mask_prob a view gets a mask ratio r in [mask_ratio_min, mask_ratio_max] and
 * about r L of its patches are replaced by "student.backbone.masked_embed" before the
 * position embedding; the masks are blockwise (BEiT's MaskingGenerator, as iBOT's
 * ImageFolderMask with pred_shape 'block') or random patches, drawn on the host from
 * Philox keyed by (seed, step, sample, view). The teacher sees the views unmasked.
 * Loss (iBOTLoss, 2 global views): lambda1 times the DINO loss of the class tokens (centred
 * with "ibot_loss.center", teacher_temp) plus lambda2 times the patch loss: per view, the
 * cross-entropy of the teacher's patch softmax((t - center2) / teacher_patch_temp) against
 * the student's log_softmax(s / student_temp) of the same view, summed over the masked
 * patches over their number (at least 1), averaged over samples and views. center2
 * ("ibot_loss.center2", [1, 1, patch_out_dim]) follows the teacher patch tokens' mean.
 * Local views (in->local, any side the patches tile: pos_embed interpolated) go through the
 * student unmasked; their class outputs learn from both teacher views (main_ibot.py: the
 * class term has 2 (nlocal + 1) terms, the patch term stays the globals').
 * A pair's selection score is that loss per sample, with masks drawn for scoring. */
typedef struct hvp_ibot_config {
    hvp_backbone_config backbone;   /* a ViT; the teacher's gets no drop path */
    int out_dim;                    /* 8192 in the official ViT-S recipe */
    int patch_out_dim;              /* = out_dim with a shared head; 8192 (official default) */
    /* The official shared_head / shared_head_teacher negated (0, the zeroed default: the
     * shared head of the ViT-S/B recipes): a separate last layer "head.last_layer2" of
     * patch_out_dim outputs for the student's / the teacher's patch tokens. A separate
     * teacher head needs a separate student head. */
    int separate_head, separate_head_teacher;
    int hidden_dim;                 /* 2048 */
    int bottleneck_dim;             /* 256 */
    int norm_last_layer;            /* false in the ViT-S recipe */
    float teacher_temp, warmup_teacher_temp; /* 0.07, 0.04 */
    int warmup_teacher_temp_epochs;          /* 30 (both temperatures) */
    float teacher_patch_temp, warmup_teacher_patch_temp; /* 0.07, 0.04 */
    float student_temp;             /* 0.1 */
    float teacher_momentum;         /* 0.996, cosine to 1 */
    float center_momentum;          /* 0.9, for center and center2 */
    float lambda1, lambda2;         /* 1, 1 */
    float mask_prob;                /* 0.5 */
    float mask_ratio_min, mask_ratio_max; /* 0.1, 0.5 (pred_ratio 0.3 +- 0.2) */
    int mask_random;                /* 0: blockwise (official); 1: random patches */
    uint64_t seed;                  /* initialisation and the masks */
} hvp_ibot_config;

hvp_status hvp_ibot_create(hvp_ctx *ctx, const hvp_ibot_config *cfg, hvp_method **out);
/* As hvp_dino_set_schedule. */
void hvp_ibot_set_schedule(hvp_method *m, long steps_per_epoch, long total_steps);
float hvp_ibot_teacher_temp(const hvp_method *m, long step);
float hvp_ibot_teacher_patch_temp(const hvp_method *m, long step);
float hvp_ibot_teacher_momentum(const hvp_method *m, long step);
/* The mask of one view, grid x grid patches (row-major, 1: masked), as the method draws it
 * for (step, sample, view) of a training step; scoring uses view + 65536. */
void hvp_ibot_draw_mask(const hvp_ibot_config *cfg, int grid, uint32_t step, int sample,
                        uint32_t view, int *mask);
/* For tests: masks to use instead of drawn ones, copied; score [score_rows, L] for
 * score_pairs (view-major, as its views), train [train_rows, L] for train_step. NULL, 0:
 * draw again. */
hvp_status hvp_ibot_set_masks(hvp_method *m, const int *score, int score_rows,
                              const int *train, int train_rows);

/* Each method from the run's config (its [method] section and run.seed), on a backbone
 * the caller built from [model]: what hvp_method_from_config calls by method.name. */
#define HVP_METHOD_FROM_CONFIG(name, prefix)                                                           \
    hvp_status hvp_##name##_from_config(hvp_ctx *ctx, const hvp_config *cfg,                   \
                                        const hvp_backbone_config *backbone, hvp_method **out);
HVP_METHODS(HVP_METHOD_FROM_CONFIG)
#undef HVP_METHOD_FROM_CONFIG

/* The method cfg->method.name names (src/ssl/registry.c). */
hvp_status hvp_method_from_config(hvp_ctx *ctx, const hvp_config *cfg,
                                  const hvp_backbone_config *backbone, hvp_method **out);

void hvp_method_destroy(hvp_method *m);

#endif
