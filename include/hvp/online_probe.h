/* The online linear probe (eval.online_probe, src/train/online_probe.c), as solo-learn's: a
 * linear classifier on detached backbone features of each training step's first views,
 * trained with the batch's labels by its own SGD, scored on the test sample each epoch. */
#ifndef HVP_ONLINE_PROBE_H
#define HVP_ONLINE_PROBE_H

#include "hvp/config.h"
#include "hvp/tensor.h"

struct hvp_method;
typedef struct hvp_online_probe hvp_online_probe;

/* A probe from feature_dim features to `classes` for steps of at most max_batch images: weights
 * 0 (a convex problem), SGD with momentum 0.9 at eval.online_probe_lr x batch/256, constant,
 * no weight decay. Its tensors live in ctx->params: a step creates nothing. */
hvp_status hvp_online_probe_create(hvp_ctx *ctx, const hvp_config *cfg, int feature_dim,
                                   int classes, int max_batch, hvp_online_probe **out);
void hvp_online_probe_destroy(hvp_online_probe *p);

/* One step inside a training step: the method's eval-mode features of x [n, C, S, S] (no
 * gradient reaches the method), the probe's cross-entropy with labels (host, [n]; a label
 * outside [0, classes) is an error naming it), its SGD update. Enqueues only (labels go
 * through the staging slots). */
hvp_status hvp_online_probe_step(hvp_online_probe *p, hvp_ctx *ctx, struct hvp_method *m,
                                 const hvp_tensor *x, const int *labels);

/* The probe's logits [n, classes] of features [n, feature_dim] (from ctx->acts). */
hvp_status hvp_online_probe_logits(hvp_online_probe *p, hvp_ctx *ctx, const hvp_tensor *features,
                                   hvp_tensor *logits);

/* Top-1 / top-5 (percent) on the test sample (eval.knn_test_limit images) of the
 * pretraining data (eval.test_root, unless eval.train_root sends the evaluations to another
 * dataset: the probe knows the pretraining data's classes). */
hvp_status hvp_online_probe_evaluate(hvp_online_probe *p, hvp_ctx *ctx, struct hvp_method *m,
                                     const hvp_config *cfg, double *top1, double *top5);

#endif
