/* The non-GEMM cases of `hvp bench ops` at ResNet-50 (224 px), ResNet-18 CIFAR (32 px,
 * convolutions) and ViT-S/16 shapes. FLOPs
 * count multiply-adds as two and elementwise ops as one per element, so GFLOP/s compares
 * cases of one op, not ops with each other. */
#include <stdlib.h>
#include <string.h>

#include "cli/bench_cases.h"

const int hvp_bench_op_ids[HVP_BENCH_NOPS] = {
#define ID(id, name) HVP_BENCH_##id,
    HVP_BENCH_OPS(ID)
#undef ID
};

/* Short names inside this file. */
enum {
#define SHORT(id, name) id = HVP_BENCH_##id,
    HVP_BENCH_OPS(SHORT)
#undef SHORT
};

enum { T = 197, D = 384, HEADS = 6, HIDDEN = 1536, FC = 1000, R50_C = 256, R50_HW = 56 * 56 };
/* DINO: the head's 65536 prototypes, its 256-d bottleneck normalised for 2 global and 8 local
 * crops of each image. SimCLR: the 2B x 2B similarities of B images' two views. */
enum { DINO_K = 65536, DINO_BOTTLENECK = 256, DINO_CROPS = 10 };

typedef struct op_state {
    int id, batch;
    hvp_conv2d_desc conv;
    hvp_batchnorm_desc bn;
    hvp_maxpool_desc pool;
    hvp_attn_shape attn;
    hvp_tensor t[8];
} op_state;

/* The convolution of a conv case at batch b: its forward (*fwd = 1) or backward. */
static int conv_case(int id, int b, hvp_conv2d_desc *d, int *fwd)
{
    static const struct {
        int fwd, bwd, c_in, hw, c_out, stride, k;
    } shapes[] = {
        {CONV_FWD, CONV_BWD, 64, 56, 64, 1, 3},
        {CONV_FWD_C1, CONV_BWD_C1, 64, 32, 64, 1, 3},
        {CONV_FWD_C2S, CONV_BWD_C2S, 64, 32, 128, 2, 3},
        {CONV_FWD_D2, CONV_BWD_D2, 64, 32, 128, 2, 1}, /* the downsample shortcut */
        {CONV_FWD_C2, CONV_BWD_C2, 128, 16, 128, 1, 3},
        {CONV_FWD_C3, CONV_BWD_C3, 256, 8, 256, 1, 3},
        {CONV_FWD_C4, CONV_BWD_C4, 512, 4, 512, 1, 3},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (id == shapes[i].fwd || id == shapes[i].bwd) {
            *d = (hvp_conv2d_desc){b, shapes[i].c_in, shapes[i].hw, shapes[i].hw, shapes[i].c_out,
                                   shapes[i].k, shapes[i].k, shapes[i].stride, shapes[i].k / 2};
            *fwd = id == shapes[i].fwd;
            return 1;
        }
    return 0;
}

static hvp_status tensor(hvp_ctx *ctx, hvp_tensor *t, int ndim, const int *shape, float value)
{
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench tensor", t, ndim, shape));
    return hvp_tensor_fill_f32(ctx, t, value);
}

double hvp_bench_op_flops(const void *arg, int b)
{
    int id = *(const int *)arg, fwd;
    double tokens = (double)b * T, r50 = (double)b * R50_C * R50_HW;
    hvp_conv2d_desc c;
    if (conv_case(id, b, &c, &fwd)) { /* the backward: the dW and dX GEMMs */
        double P = (double)hvp_conv2d_out_h(&c) * hvp_conv2d_out_w(&c);
        return (fwd ? 2.0 : 4.0) * b * c.c_out * c.c_in * c.kh * c.kw * P;
    }
    switch (id) {
    case BN_FWD:
    case BN_BWD: return (double)b * 64 * 3136 * 4;
    case MAXPOOL_FWD: return (double)b * 64 * 56 * 56 * 9;
    case RELU_FWD: return r50;
    case ADD_RELU_FWD_RESNET: return 2 * r50;
    case BIAS_BWD_RESNET: return (double)b * FC;
    case BIAS_BWD: return tokens * HIDDEN;
    case LINEAR_FWD: return 2.0 * tokens * D * HIDDEN;
    case LINEAR_BWD: return 4.0 * tokens * D * HIDDEN;
    case LAYERNORM_FWD:
    case LAYERNORM_BWD: return tokens * D * 5;
    case LAYERNORM_BWD_PARAMS: return tokens * D * 4;
    case GELU_FWD: return tokens * HIDDEN * 8;
    case GELU_BWD: return tokens * HIDDEN * 12;
    case DROP_PATH_FWD:
    case DROP_PATH_BWD:
    case ADD_FWD:
    case ADD_ACC: return tokens * D;
    case SOFTMAX_FWD: return (double)b * HEADS * T * T * 4;
    case SOFTMAX_BWD: return (double)b * HEADS * T * T * 3;
    case ATTENTION_FWD: return 4.0 * b * HEADS * T * T * 64;
    case ATTENTION_BWD: return 8.0 * b * HEADS * T * T * 64;
    case L2NORM_FWD: return (double)b * 2048 * 3;
    case L2NORM_BWD: return (double)b * 2048 * 5;
    case L2NORM_FWD_DINO: return (double)b * DINO_CROPS * DINO_BOTTLENECK * 3;
    case CROSS_ENTROPY_FWD: return (double)b * DINO_K * 4;
    case CROSS_ENTROPY_BWD: return (double)b * DINO_K * 4;
    case CROSS_ENTROPY_FWD_SIMCLR:
    case CROSS_ENTROPY_BWD_SIMCLR: return 4.0 * (2.0 * b) * (2.0 * b);
    }
    return 0;
}

double hvp_bench_op_bytes(const void *arg, int b)
{
    int id = *(const int *)arg;
    double tokens = (double)b * T, r50 = (double)b * R50_C * R50_HW, f = sizeof(float);
    double attn = (double)b * HEADS * T * T, views = 2.0 * b; /* SimCLR's rows */
    switch (id) {
    case MAXPOOL_FWD: return f * b * 64 * (112 * 112 + 2 * 56 * 56); /* x; y and indices */
    case RELU_FWD: return 2 * f * r50;
    case ADD_RELU_FWD_RESNET: return 3 * f * r50;
    case BIAS_BWD_RESNET: return f * ((double)b * FC + 2 * FC); /* dy; db read and written */
    case BIAS_BWD: return f * (tokens * HIDDEN + 2 * HIDDEN);
    case LAYERNORM_FWD: return f * (2 * tokens * D + 2 * D + 2 * tokens);
    case LAYERNORM_BWD: return f * (3 * tokens * D + 2 * tokens + 5 * D);
    case LAYERNORM_BWD_PARAMS: return f * (2 * tokens * D + 2 * tokens + 4 * D);
    case GELU_FWD: return 2 * f * tokens * HIDDEN;
    case GELU_BWD: return 3 * f * tokens * HIDDEN;
    case DROP_PATH_FWD:
    case DROP_PATH_BWD: return 2 * f * tokens * D;
    case ADD_FWD:
    case ADD_ACC: return 3 * f * tokens * D;
    case SOFTMAX_FWD: return 2 * f * attn;
    case SOFTMAX_BWD: return 3 * f * attn;
    case L2NORM_FWD: return 2 * f * b * 2048;
    case L2NORM_BWD: return 3 * f * b * 2048;
    case L2NORM_FWD_DINO: return 2 * f * b * DINO_CROPS * DINO_BOTTLENECK;
    case CROSS_ENTROPY_FWD: return f * (2.0 * b * DINO_K + b);           /* z, t; losses */
    case CROSS_ENTROPY_BWD: return 3 * f * b * DINO_K;                   /* z, t; dz */
    case CROSS_ENTROPY_FWD_SIMCLR: return f * (views * views + 2 * views); /* z, labels; losses */
    case CROSS_ENTROPY_BWD_SIMCLR: return f * (2 * views * views + views);  /* z, labels; dz */
    }
    return 0;
}

hvp_status hvp_bench_op_setup(hvp_ctx *ctx, const void *arg, int b, void **state)
{
    op_state *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    *state = s;
    s->id = *(const int *)arg;
    s->batch = b;
    hvp_tensor *t = s->t;
    int r50[4] = {b, R50_C, 56, 56}, hidden[2] = {b * T, HIDDEN}, tokens[3] = {b, T, D};
    int attn[2] = {b * HEADS * T, T}, fwd;
    hvp_conv2d_desc *c = &s->conv;
    if (conv_case(s->id, b, c, &fwd)) {
        int ho = hvp_conv2d_out_h(c), wo = hvp_conv2d_out_w(c);
        int xs[4] = {b, c->c_in, c->h, c->w}, ys[4] = {b, c->c_out, ho, wo};
        int ws[4] = {c->c_out, c->c_in, c->kh, c->kw};
        HVP_TRY(tensor(ctx, &t[0], 4, xs, 0.5f));  /* x */
        HVP_TRY(tensor(ctx, &t[1], 4, ws, 0.01f)); /* w */
        HVP_TRY(tensor(ctx, &t[2], 4, ys, 0.1f));  /* y / dy */
        HVP_TRY(tensor(ctx, &t[3], 4, xs, 0.0f));  /* dx */
        return tensor(ctx, &t[4], 4, ws, 0.0f);    /* dw */
    }
    switch (s->id) {
    case GELU_FWD:
    case GELU_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, hidden, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 2, hidden, 0.1f));
        return tensor(ctx, &t[2], 2, hidden, 0.0f);
    case RELU_FWD:
    case ADD_RELU_FWD_RESNET:
        HVP_TRY(tensor(ctx, &t[0], 4, r50, -0.5f));
        HVP_TRY(tensor(ctx, &t[1], 4, r50, 0.25f));
        return tensor(ctx, &t[2], 4, r50, 0.0f);
    case BIAS_BWD_RESNET:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b, FC}, 0.1f));
        return tensor(ctx, &t[1], 1, (int[]){FC}, 0.0f);
    case BIAS_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, hidden, 0.1f));
        return tensor(ctx, &t[1], 1, (int[]){HIDDEN}, 0.0f);
    case DROP_PATH_FWD:
    case DROP_PATH_BWD:
    case ADD_FWD:
    case ADD_ACC:
        HVP_TRY(tensor(ctx, &t[0], 3, tokens, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 3, tokens, 0.25f));
        return tensor(ctx, &t[2], 3, tokens, 0.0f);
    case SOFTMAX_FWD:
    case SOFTMAX_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, attn, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 2, attn, 0.0f));
        return tensor(ctx, &t[2], 2, attn, 0.1f);
    case BN_FWD:
    case BN_BWD:
        s->bn = HVP_BATCHNORM_DESC(b, 64, 3136);
        HVP_TRY(tensor(ctx, &t[0], 4, (int[]){b, 64, 56, 56}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 4, (int[]){b, 64, 56, 56}, 0.1f));
        for (int i = 2; i < 8; i++)
            HVP_TRY(tensor(ctx, &t[i], 1, (int[]){64}, 1.0f));
        return hvp_batchnorm_fwd_train(ctx, &s->bn, &t[0], &t[2], &t[3], NULL, NULL, &t[1],
                                       &t[4], &t[5]);
    case MAXPOOL_FWD:
        s->pool = (hvp_maxpool_desc){b, 64, 112, 112, 3, 2, 1};
        HVP_TRY(tensor(ctx, &t[0], 4, (int[]){b, 64, 112, 112}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 4, (int[]){b, 64, 56, 56}, 0.0f));
        return hvp_tensor_alloc(ctx->acts, HVP_I32, 4, (int[]){b, 64, 56, 56}, "idx", &t[2]);
    case LINEAR_FWD:
    case LINEAR_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b * T, D}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 2, (int[]){HIDDEN, D}, 0.01f));
        HVP_TRY(tensor(ctx, &t[2], 1, (int[]){HIDDEN}, 0.0f));
        HVP_TRY(tensor(ctx, &t[3], 2, (int[]){b * T, HIDDEN}, 0.1f));
        HVP_TRY(tensor(ctx, &t[4], 2, (int[]){b * T, D}, 0.0f));
        HVP_TRY(tensor(ctx, &t[5], 2, (int[]){HIDDEN, D}, 0.0f));
        return tensor(ctx, &t[6], 1, (int[]){HIDDEN}, 0.0f);
    case LAYERNORM_FWD:
    case LAYERNORM_BWD:
    case LAYERNORM_BWD_PARAMS:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b * T, D}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 1, (int[]){D}, 1.0f));
        HVP_TRY(tensor(ctx, &t[2], 1, (int[]){D}, 0.0f));
        HVP_TRY(tensor(ctx, &t[3], 2, (int[]){b * T, D}, 0.0f));
        HVP_TRY(tensor(ctx, &t[4], 1, (int[]){b * T}, 0.0f));
        HVP_TRY(tensor(ctx, &t[5], 1, (int[]){b * T}, 0.0f));
        HVP_TRY(tensor(ctx, &t[6], 1, (int[]){D}, 0.0f));
        HVP_TRY(tensor(ctx, &t[7], 1, (int[]){D}, 0.0f));
        return hvp_layernorm_fwd(ctx, &t[0], &t[1], &t[2], 1e-6f, &t[3], &t[4], &t[5]);
    case ATTENTION_FWD:
    case ATTENTION_BWD: {
        s->attn = (hvp_attn_shape){b, T, HEADS, 64};
        int saved = (int)hvp_attention_saved_numel(&s->attn);
        HVP_TRY(tensor(ctx, &t[0], 3, (int[]){b, T, 3 * D}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 1, &saved, 0.0f));
        HVP_TRY(tensor(ctx, &t[2], 3, (int[]){b, T, D}, 0.1f));
        HVP_TRY(tensor(ctx, &t[3], 3, (int[]){b, T, 3 * D}, 0.0f));
        return hvp_attention_fwd(ctx, &s->attn, &t[0], &t[1], &t[2]);
    }
    case L2NORM_FWD:
    case L2NORM_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b, 2048}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 2, (int[]){b, 2048}, 0.0f));
        return tensor(ctx, &t[2], 2, (int[]){b, 2048}, 0.1f);
    case L2NORM_FWD_DINO:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b * DINO_CROPS, DINO_BOTTLENECK}, 0.5f));
        return tensor(ctx, &t[1], 2, (int[]){b * DINO_CROPS, DINO_BOTTLENECK}, 0.0f);
    case CROSS_ENTROPY_FWD:
    case CROSS_ENTROPY_BWD:
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){b, DINO_K}, 0.5f));
        HVP_TRY(tensor(ctx, &t[1], 2, (int[]){b, DINO_K}, 1.0f / DINO_K));
        HVP_TRY(tensor(ctx, &t[2], 1, (int[]){b}, 0.0f));
        return tensor(ctx, &t[3], 2, (int[]){b, DINO_K}, 0.0f);
    case CROSS_ENTROPY_FWD_SIMCLR:
    case CROSS_ENTROPY_BWD_SIMCLR: {
        int n = 2 * b, *labels = malloc((size_t)n * sizeof *labels);
        if (!labels)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        for (int i = 0; i < n; i++) /* the other view of the same image */
            labels[i] = (i + b) % n;
        hvp_status st = hvp_tensor_alloc(ctx->acts, HVP_I32, 1, &n, "bench labels", &t[1]);
        if (st == HVP_OK)
            st = hvp_tensor_upload(ctx, &t[1], labels);
        free(labels);
        HVP_TRY(st);
        HVP_TRY(tensor(ctx, &t[0], 2, (int[]){n, n}, 0.5f));
        HVP_TRY(tensor(ctx, &t[2], 1, &n, 0.0f));
        return tensor(ctx, &t[3], 2, (int[]){n, n}, 0.0f);
    }
    }
    return HVP_FAIL(HVP_ERR_ARG, "unknown bench op %d", s->id);
}

hvp_status hvp_bench_op_run(hvp_ctx *ctx, void *state, const char *algo)
{
    (void)algo;
    op_state *s = state;
    hvp_tensor *t = s->t;
    hvp_conv2d_desc c;
    int fwd;
    if (conv_case(s->id, s->batch, &c, &fwd))
        return fwd ? hvp_conv2d_fwd(ctx, &s->conv, &t[0], &t[1], NULL, &t[2])
                   : hvp_conv2d_bwd(ctx, &s->conv, &t[0], &t[1], &t[2], &t[3], &t[4], NULL);
    switch (s->id) {
    case RELU_FWD: return hvp_relu_fwd(ctx, &t[0], &t[2]);
    case ADD_RELU_FWD_RESNET: return hvp_add_relu_fwd(ctx, &t[0], &t[1], &t[2]);
    case ADD_FWD: return hvp_add_fwd(ctx, &t[0], &t[1], &t[2]);
    case ADD_ACC: return hvp_add_acc(ctx, &t[2], &t[0]);
    case BIAS_BWD_RESNET:
    case BIAS_BWD: return hvp_linear_bwd_bias(ctx, &t[0], &t[1]);
    case GELU_BWD: return hvp_gelu_bwd(ctx, &t[0], &t[1], &t[2]);
    case DROP_PATH_FWD: return hvp_drop_path_fwd(ctx, &t[0], 0.1f, 1234, 5, 6, &t[2]);
    case DROP_PATH_BWD: return hvp_drop_path_bwd(ctx, &t[1], 0.1f, 1234, 5, 6, &t[2]);
    case SOFTMAX_BWD: return hvp_softmax_bwd(ctx, &t[0], &t[2], 0.125f, &t[1]);
    case LAYERNORM_BWD_PARAMS:
        return hvp_layernorm_bwd(ctx, &t[0], &t[1], &t[4], &t[5], &t[3], NULL, &t[6], &t[7]);
    case BN_FWD:
        return hvp_batchnorm_fwd_train(ctx, &s->bn, &t[0], &t[2], &t[3], NULL, NULL, &t[1],
                                       &t[4], &t[5]);
    case BN_BWD:
        return hvp_batchnorm_bwd(ctx, &s->bn, &t[0], &t[2], &t[3], &t[4], &t[5], &t[1], &t[1],
                                 &t[6], &t[7]);
    case MAXPOOL_FWD: return hvp_maxpool_fwd(ctx, &s->pool, &t[0], &t[1], &t[2]);
    case LINEAR_FWD: return hvp_linear_fwd(ctx, &t[0], &t[1], &t[2], &t[3]);
    case LINEAR_BWD: return hvp_linear_bwd(ctx, &t[0], &t[1], &t[3], &t[4], &t[5], &t[6]);
    case LAYERNORM_FWD: return hvp_layernorm_fwd(ctx, &t[0], &t[1], &t[2], 1e-6f, &t[3], &t[4], &t[5]);
    case LAYERNORM_BWD:
        return hvp_layernorm_bwd(ctx, &t[0], &t[1], &t[4], &t[5], &t[3], &t[3], &t[6], &t[7]);
    case GELU_FWD: return hvp_gelu_fwd(ctx, &t[0], &t[2]);
    case SOFTMAX_FWD: return hvp_softmax_fwd(ctx, &t[0], 0.125f, &t[1]);
    case ATTENTION_FWD: return hvp_attention_fwd(ctx, &s->attn, &t[0], &t[1], &t[2]);
    case ATTENTION_BWD: return hvp_attention_bwd(ctx, &s->attn, &t[1], &t[2], &t[3]);
    case L2NORM_FWD:
    case L2NORM_FWD_DINO: return hvp_l2norm_fwd(ctx, &t[0], &t[1], 1e-12f);
    case L2NORM_BWD: return hvp_l2norm_bwd(ctx, &t[0], &t[2], &t[1], 1e-12f);
    case CROSS_ENTROPY_FWD:
        return hvp_cross_entropy_fwd(ctx, &t[0], NULL, &t[1], 0.1f, &t[2], NULL);
    case CROSS_ENTROPY_BWD:
        return hvp_cross_entropy_bwd(ctx, &t[0], NULL, &t[1], 0.1f, 1.0f, &t[3]);
    case CROSS_ENTROPY_FWD_SIMCLR:
        return hvp_cross_entropy_fwd(ctx, &t[0], &t[1], NULL, 0.1f, &t[2], NULL);
    case CROSS_ENTROPY_BWD_SIMCLR:
        return hvp_cross_entropy_bwd(ctx, &t[0], &t[1], NULL, 0.1f, 1.0f, &t[3]);
    }
    return HVP_FAIL(HVP_ERR_ARG, "unknown bench op %d", s->id);
}
