/* Evaluation of learned features: weighted kNN (as DINO's eval_knn.py). */
#ifndef HVP_EVAL_H
#define HVP_EVAL_H

#include "hvp/tensor.h"

#define HVP_KNN_MAX_K 128

typedef struct hvp_knn_result {
    double top1, top5; /* percent of test samples */
    long count;
} hvp_knn_result;

/* Cosine-similarity kNN: features are L2-normalised here (in place), each test sample
 * takes its k most similar training samples (ties to the lower index), each votes for its
 * label with weight exp(similarity / temperature), and the classes are ranked by their
 * summed weights. train [Ntr, D], test [Nte, D] on the device; labels on the host. */
hvp_status hvp_knn_classify(hvp_ctx *ctx, const hvp_tensor *train, const int *train_labels,
                            const hvp_tensor *test, const int *test_labels, int num_classes,
                            int k, float temperature, hvp_knn_result *out);

/* The k largest values of each row of sims [rows, cols] with their column indices, in
 * decreasing order (ties to the lower index): the device kernel kNN uses. */
hvp_status hvp_topk_rows(hvp_ctx *ctx, const hvp_tensor *sims, int k, const hvp_tensor *values,
                         const hvp_tensor *indices);

/* Linear probe on frozen features (src/eval/linear.c): each feature is standardised as
 * BatchNorm1d(affine=False) would over the whole training set (train and test features are
 * changed in place), then a linear classifier from zero weights is trained with SGD
 * (momentum 0.9, no decay on the bias) at lr x batch/256 with cosine decay to 0, on
 * mini-batches in a fresh order per epoch from (seed, epoch) (hvp_loader_order), dropping
 * the last incomplete batch; then the test features are classified. */
typedef struct hvp_linear_probe_config {
    int epochs;         /* 100 */
    int batch_size;     /* 256 */
    float lr;           /* 0.1, for a batch of 256 */
    float weight_decay; /* 0 */
    uint64_t seed;
} hvp_linear_probe_config;

typedef struct hvp_linear_probe_result {
    double top1, top5; /* percent of test samples */
    long count;
    float train_loss;  /* cross-entropy of the last training batch */
} hvp_linear_probe_result;

hvp_linear_probe_config hvp_linear_probe_defaults(void);
/* train [N, D] and test [M, D] features on the device, labels in [0, num_classes) on the
 * host (test labels outside it count as misses). */
hvp_status hvp_linear_probe(hvp_ctx *ctx, const hvp_tensor *train, const int *train_labels,
                            const hvp_tensor *test, const int *test_labels, int num_classes,
                            const hvp_linear_probe_config *cfg, hvp_linear_probe_result *out);

#endif
