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

#endif
