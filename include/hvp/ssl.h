/* Self-supervised methods. Each method (src/ssl/<name>.c) exposes the same small interface:
 * score pairs of views for hard view selection, one training step's forward and backward,
 * what to do after the optimizer step, and its state for checkpoints. A method does not
 * know how its views were chosen. */
#ifndef HVP_SSL_H
#define HVP_SSL_H

#include "hvp/nn.h"

typedef struct hvp_method hvp_method;

typedef struct hvp_method_ops {
    const char *name;
    /* views: nviews*B samples, view-major (view v of image b at row v*B + b). Runs the
     * model in train mode without keeping activations (batch-norm statistics over all the
     * views) and writes the method's own per-sample loss of each pair, pair k = (pairs[k][0],
     * pairs[k][1]), into scores [npairs, B]. */
    hvp_status (*score_pairs)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *views, int nviews,
                              int npairs, const int (*pairs)[2], const hvp_tensor *scores);
    /* x12 = [x1; x2], 2B samples: forward, loss, backward. Parameter gradients accumulate
     * (the caller zeroes them); the mean loss goes to loss (F32, one element). */
    hvp_status (*train_step)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x12,
                             const hvp_tensor *loss);
    /* After the optimizer step (DINO's teacher EMA, centering); may be NULL. */
    hvp_status (*after_step)(hvp_method *m, hvp_ctx *ctx, long step);
    /* Backbone features in eval mode, for kNN and linear evaluation: x [n, ...] -> [n, d]. */
    hvp_status (*features)(hvp_method *m, hvp_ctx *ctx, const hvp_tensor *x,
                           hvp_tensor *features);
    void (*destroy)(hvp_method *m);
} hvp_method_ops;

struct hvp_method {
    const hvp_method_ops *ops;
    hvp_state state;   /* every parameter and buffer, torchvision / official names */
    int feature_dim;   /* backbone feature size */
    uint32_t step;     /* the training step, set by the trainer before score_pairs and
                        * train_step: it draws the drop-path masks of a ViT backbone */
    /* Multi-crop (DINO): local views [nlocal*B, C, s, s], view-major, set by the trainer
     * before train_step when data.local_crops > 0; train_step adds them to the student's
     * views (the teacher sees the two global views only). Only a method that sets
     * takes_local at creation is given any; nlocal 0: none. */
    int takes_local;
    int nlocal;
    hvp_tensor local;
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
 * averaged over both terms and the batch; with local views (m->nlocal) the student also
 * learns each of them from both teacher views, every term weighted alike (DINOLoss over
 * 2 + nlocal crops). A pair's selection score is the two-view loss per sample.
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

void hvp_method_destroy(hvp_method *m);

#endif
