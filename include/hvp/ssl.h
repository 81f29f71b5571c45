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

void hvp_method_destroy(hvp_method *m);

#endif
