/* Op cases of `hvp bench ops` beyond GEMM (src/cli/bench_cases.c): each allocates its
 * tensors at the benchmark's batch size and enqueues one call of one op. Elementwise and
 * reduction cases also count the bytes one call must move, for GB/s beside the GB/s of a
 * plain copy moving as many bytes. */
#ifndef HVP_BENCH_CASES_H
#define HVP_BENCH_CASES_H

#include "hvp/hvp.h"

/* id, name: one line per case; bench.c lists them in its table. */
#define HVP_BENCH_OPS(X)                                                                 \
    X(CONV_FWD, "conv2d fwd resnet50 layer1 3x3 64")                                     \
    X(CONV_BWD, "conv2d bwd resnet50 layer1 3x3 64")                                     \
    X(CONV_FWD_C1, "conv2d fwd r18-cifar layer1 3x3 64x32x32")                           \
    X(CONV_BWD_C1, "conv2d bwd r18-cifar layer1 3x3 64x32x32")                           \
    X(CONV_FWD_C2S, "conv2d fwd r18-cifar layer2 3x3/2 64->128")                         \
    X(CONV_BWD_C2S, "conv2d bwd r18-cifar layer2 3x3/2 64->128")                         \
    X(CONV_FWD_D2, "conv2d fwd r18-cifar layer2 1x1/2 64->128")                          \
    X(CONV_BWD_D2, "conv2d bwd r18-cifar layer2 1x1/2 64->128")                          \
    X(CONV_FWD_C2, "conv2d fwd r18-cifar layer2 3x3 128x16x16")                          \
    X(CONV_BWD_C2, "conv2d bwd r18-cifar layer2 3x3 128x16x16")                          \
    X(CONV_FWD_C3, "conv2d fwd r18-cifar layer3 3x3 256x8x8")                            \
    X(CONV_BWD_C3, "conv2d bwd r18-cifar layer3 3x3 256x8x8")                            \
    X(CONV_FWD_C4, "conv2d fwd r18-cifar layer4 3x3 512x4x4")                            \
    X(CONV_BWD_C4, "conv2d bwd r18-cifar layer4 3x3 512x4x4")                            \
    X(BN_FWD, "batchnorm fwd resnet50 layer1 64x56x56")                                  \
    X(BN_BWD, "batchnorm bwd resnet50 layer1 64x56x56")                                  \
    X(MAXPOOL_FWD, "maxpool fwd resnet50 stem 3x3/2")                                    \
    X(RELU_FWD, "relu fwd resnet50 layer1 256x56x56")                                    \
    X(ADD_RELU_FWD_RESNET, "add+relu fwd resnet50 layer1 256x56x56")                     \
    X(BIAS_BWD_RESNET, "linear bias grad resnet50 fc 1000")                              \
    X(LINEAR_FWD, "linear fwd vit-s16 mlp fc1")                                          \
    X(LINEAR_BWD, "linear bwd vit-s16 mlp fc1")                                          \
    X(LAYERNORM_FWD, "layernorm fwd vit-s16")                                            \
    X(BIAS_BWD, "linear bias grad vit-s16 mlp fc1")                                      \
    X(LAYERNORM_BWD, "layernorm bwd vit-s16")                                            \
    X(LAYERNORM_BWD_PARAMS, "layernorm bwd params vit-s16")                              \
    X(GELU_FWD, "gelu fwd vit-s16 mlp")                                                  \
    X(GELU_BWD, "gelu bwd vit-s16 mlp")                                                  \
    X(DROP_PATH_FWD, "drop path fwd vit-s16")                                            \
    X(DROP_PATH_BWD, "drop path bwd vit-s16")                                            \
    X(ADD_FWD, "add fwd vit-s16")                                                        \
    X(ADD_ACC, "add acc vit-s16")                                                        \
    X(SOFTMAX_FWD, "softmax fwd vit-s16 attention")                                      \
    X(SOFTMAX_BWD, "softmax bwd vit-s16 attention")                                      \
    X(ATTENTION_FWD, "attention fwd vit-s16")                                            \
    X(ATTENTION_BWD, "attention bwd vit-s16")                                            \
    X(L2NORM_FWD, "l2norm fwd 2048-d")                                                   \
    X(L2NORM_BWD, "l2norm bwd 2048-d")                                                   \
    X(L2NORM_FWD_DINO, "l2norm fwd dino head 256-d x10 crops")                           \
    X(CROSS_ENTROPY_FWD, "cross_entropy fwd dino 65536")                                 \
    X(CROSS_ENTROPY_BWD, "cross_entropy bwd dino 65536")                                 \
    X(CROSS_ENTROPY_FWD_SIMCLR, "cross_entropy fwd simclr 2B x 2B")                      \
    X(CROSS_ENTROPY_BWD_SIMCLR, "cross_entropy bwd simclr 2B x 2B")

#define HVP_BENCH_ENUM(id, name) HVP_BENCH_##id,
enum { HVP_BENCH_OPS(HVP_BENCH_ENUM) HVP_BENCH_NOPS };
#undef HVP_BENCH_ENUM

/* hvp_bench_op_ids[i] == i: the `arg` of case i. */
extern const int hvp_bench_op_ids[HVP_BENCH_NOPS];

hvp_status hvp_bench_op_setup(hvp_ctx *ctx, const void *arg, int batch, void **state);
hvp_status hvp_bench_op_run(hvp_ctx *ctx, void *state, const char *algo);
double hvp_bench_op_flops(const void *arg, int batch);
/* Bytes one call must read and write (each input once, each output once); 0 where GB/s
 * says nothing (GEMM-bound cases). */
double hvp_bench_op_bytes(const void *arg, int batch);

#endif
