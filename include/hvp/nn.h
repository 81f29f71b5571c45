/* Modules with parameters: Conv, BatchNorm, Linear, the ResNet backbone and MLP heads.
 * A module is a struct holding its parameters (in the model's state), their gradients and
 * the activations its forward saved; forward and backward live side by side. There is no
 * general autograd: a model's backward calls its modules' backwards in reverse.
 * Parameter names follow torchvision and timm, so weights travel to and from PyTorch. */
#ifndef HVP_NN_H
#define HVP_NN_H

#include "hvp/ops.h"
#include "hvp/optim.h"

/* How a forward pass runs. */
typedef struct hvp_pass {
    hvp_ctx *ctx;
    int train;        /* batch norm uses batch statistics (else running statistics) */
    int keep;         /* keep activations for a backward; when 0 every module gives its
                       * scratch back to ctx->acts as soon as its output is written */
    int groups;       /* batch norm statistics per group of n/groups consecutive samples:
                       * two views in one batch behave as two separate forwards */
    int update_stats; /* train mode: update batch-norm running statistics */
} hvp_pass;

/* ---- a model's state: parameters and buffers in state-dict order ------------------- */

typedef struct hvp_buffer {
    char name[96];
    hvp_tensor value;  /* unused for counts */
    int is_count;      /* num_batches_tracked: counted on the host, I64 in PyTorch files */
    long long count;
} hvp_buffer;

typedef struct hvp_state {
    hvp_param *params;
    int nparams, cap_params;
    hvp_buffer *buffers;
    int nbuffers, cap_buffers;
    uint64_t init_seed; /* parameter initialisation draws from (init_seed, parameter index) */
    /* Built under a plan (below): the regions its tensors are views of, F32 [total]; buf
     * NULL when they were allocated one by one. */
    hvp_tensor values, grads, buffer_values;
} hvp_state;

void hvp_state_init(hvp_state *s, uint64_t init_seed);
void hvp_state_free(hvp_state *s);

/* ---- flat storage: the plan of a model's tensors ----------------------------------
 * Modules keep copies of their tensors' (buffer, offset), so a model's storage cannot move
 * once it is built. A model is therefore built twice under a plan: the first build, with
 * the plan recording, allocates as usual and notes every tensor (name, size) that
 * hvp_state_param and hvp_state_buffer make, in order; the model is then destroyed and
 * ctx->params rewound. hvp_state_plan_reserve allocates one region of parameter values, one
 * of their gradients and one of buffers (hvp_packed_next's layout, zeroed), and the second
 * build takes its tensors from them in the same order: a tensor that differs from the first
 * build's is an error naming both. Parameters made by one build and turned into buffers
 * (hvp_state_params_to_buffers: an EMA teacher) stay where they were made, in the values
 * region after the trained ones. Initialisation draws from (seed, parameter index), so the
 * second build has the values the first would have had; the first skips drawing them. The
 * plan is found through ctx->state_plan while it is set (hvp_method_from_config does all
 * this). */
typedef struct hvp_state_plan hvp_state_plan;
hvp_status hvp_state_plan_create(hvp_state_plan **out);
void hvp_state_plan_free(hvp_state_plan *p);
/* Ends the recording: allocates and zeroes the regions from ctx->params. */
hvp_status hvp_state_plan_reserve(hvp_state_plan *p, hvp_ctx *ctx);
/* After the second build: fails unless it made every tensor of the first. */
hvp_status hvp_state_plan_check_done(const hvp_state_plan *p);
/* Storage for the next tensor of a build under p (state.c): while recording, notes it and
 * sets *taken 0 (allocate it as usual); after hvp_state_plan_reserve, sets value (and grad,
 * for a parameter) to the next slices of the regions, *regions to the state's regions, and
 * *taken 1. Names the tensor in its error when it is not the one the first build made. */
hvp_status hvp_state_plan_take(hvp_state_plan *p, int is_param, const char *name, int ndim,
                               const int *shape, hvp_tensor *value, hvp_tensor *grad,
                               hvp_state *regions, int *taken);
/* 1 while p records (its first build). */
int hvp_state_plan_recording(const hvp_state_plan *p);

/* The trained parameters' values and gradients as two F32 [total] views (total the end of
 * the last parameter, rounded up to HVP_PARAM_ALIGN): one contiguous prefix of each region,
 * for an all-reduce or a multi-tensor kernel. Fails for a state built without a plan. */
hvp_status hvp_state_param_region(const hvp_state *s, hvp_tensor *values, hvp_tensor *grads);
/* The buffers' region (batch-norm statistics, centers; F32 [total]); fails as above. */
hvp_status hvp_state_buffer_region(const hvp_state *s, hvp_tensor *buffers);

typedef enum hvp_init {
    HVP_INIT_ZERO,
    HVP_INIT_ONE,
    HVP_INIT_KAIMING_FAN_OUT, /* normal, std sqrt(2 / fan_out): torchvision's conv init */
    HVP_INIT_LINEAR_DEFAULT,  /* uniform +-1/sqrt(fan_in): nn.Linear's weight and bias */
    HVP_INIT_TRUNC_NORMAL_02  /* truncated normal, std 0.02, at +-2 std: timm's ViT init */
} hvp_init;

/* Allocates a parameter and its gradient in ctx->params, initialised on the host from the
 * counter-based RNG and uploaded. fan is fan-in or fan-out as the init needs. The tensor
 * is returned by value (tensors are handles); the state keeps the same handle. */
hvp_status hvp_state_param(hvp_state *s, hvp_ctx *ctx, const char *name, int ndim,
                           const int *shape, hvp_init init, int fan, int no_decay,
                           hvp_param *out);
hvp_status hvp_state_buffer(hvp_state *s, hvp_ctx *ctx, const char *name, int ndim,
                            const int *shape, hvp_init init, hvp_tensor *out);
/* A host-side counter saved with the buffers; returns its index in s->buffers. */
hvp_status hvp_state_counter(hvp_state *s, const char *name, int *index);
/* Turns parameters [first, nparams) into buffers (appended, names and values kept): an
 * EMA teacher's weights are saved and loaded with the model but no optimizer sees them.
 * Their gradient tensors stay allocated, unused; under a plan their values stay in the
 * values region, after the parameters that remain. */
hvp_status hvp_state_params_to_buffers(hvp_state *s, int first);
/* The parameter or buffer called name, or NULL. */
hvp_param *hvp_state_find_param(hvp_state *s, const char *name);
hvp_buffer *hvp_state_find_buffer(hvp_state *s, const char *name);
/* Number of scalars in all parameters. */
size_t hvp_state_numel(const hvp_state *s);

/* ---- Conv2d (bias optional) -------------------------------------------------------- */

typedef struct hvp_conv {
    int c_in, c_out, k, stride, pad;
    hvp_param w, b; /* b.value.buf == NULL when there is no bias */
    hvp_conv2d_desc desc; /* of the last forward */
    hvp_tensor x;         /* saved input */
} hvp_conv;

hvp_status hvp_conv_init(hvp_conv *m, hvp_state *s, hvp_ctx *ctx, const char *name, int c_in,
                         int c_out, int k, int stride, int pad, int bias);
/* y is allocated from ctx->acts. */
hvp_status hvp_conv_forward(hvp_conv *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y);
/* dx NULL: not wanted (first layer); else allocated from ctx->acts. */
hvp_status hvp_conv_backward(hvp_conv *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx);

/* ---- BatchNorm 1-d / 2-d ----------------------------------------------------------- */

typedef struct hvp_bn {
    int c, affine, relu; /* relu: a ReLU follows, fused into the batch norm both ways */
    float eps, momentum;
    hvp_param w, b;                     /* when affine */
    hvp_tensor running_mean, running_var;
    hvp_state *state;
    int num_batches_tracked; /* index of the counter in state->buffers */
    hvp_batchnorm_desc desc; /* per group, of the last forward */
    int groups;
    hvp_tensor x, mean, invstd; /* saved: input, per-group statistics [groups, c] */
} hvp_bn;

hvp_status hvp_bn_init(hvp_bn *m, hvp_state *s, hvp_ctx *ctx, const char *name, int c,
                       int affine, int relu);
/* x is [n, c] or [n, c, h, w]; y may be x (in place) only when the pass keeps nothing. With
 * relu, y is the ReLU's output and the backward's dy its gradient. */
hvp_status hvp_bn_forward(hvp_bn *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y);
hvp_status hvp_bn_backward(hvp_bn *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx);

/* ---- Linear ------------------------------------------------------------------------ */

typedef struct hvp_linear {
    int in, out;
    hvp_param w, b;
    hvp_tensor x;
} hvp_linear;

hvp_status hvp_linear_init(hvp_linear *m, hvp_state *s, hvp_ctx *ctx, const char *name, int in,
                           int out, int bias);
hvp_status hvp_linear_forward(hvp_linear *m, const hvp_pass *p, const hvp_tensor *x,
                              hvp_tensor *y);
hvp_status hvp_linear_backward(hvp_linear *m, hvp_ctx *ctx, const hvp_tensor *dy,
                               hvp_tensor *dx);

/* ---- MLP heads: Linear, optional BN, optional ReLU per layer ----------------------- */

#define HVP_MLP_MAX_LAYERS 4
typedef struct hvp_mlp_layer_spec {
    int out, bias, bn, bn_affine, relu;
} hvp_mlp_layer_spec;

typedef struct hvp_mlp {
    int nlayers, in;
    hvp_mlp_layer_spec spec[HVP_MLP_MAX_LAYERS];
    hvp_linear fc[HVP_MLP_MAX_LAYERS];
    hvp_bn bn[HVP_MLP_MAX_LAYERS];
    hvp_tensor act[HVP_MLP_MAX_LAYERS]; /* saved outputs of ReLUs without batch norm */
} hvp_mlp;

/* Layer i is named "<name>.<index>" with torch.nn.Sequential numbering: the modules of
 * each layer (Linear, BN, ReLU) take consecutive indices, as in SimSiam's projector. */
hvp_status hvp_mlp_init(hvp_mlp *m, hvp_state *s, hvp_ctx *ctx, const char *name, int in,
                        int nlayers, const hvp_mlp_layer_spec *spec);
hvp_status hvp_mlp_forward(hvp_mlp *m, const hvp_pass *p, const hvp_tensor *x, hvp_tensor *y);
hvp_status hvp_mlp_backward(hvp_mlp *m, hvp_ctx *ctx, const hvp_tensor *dy, hvp_tensor *dx);

/* ---- ResNet (torchvision layout) --------------------------------------------------- */

typedef struct hvp_resnet_config {
    int depth;              /* 18, 34 or 50 */
    int in_channels;        /* 1 or 3 */
    int cifar_stem;         /* 3x3 stride-1 first conv and no max pool */
    float width;            /* channel multiplier (1 = torchvision; 0.25 for small runs) */
    int zero_init_residual; /* last BN of each block starts at weight 0 */
} hvp_resnet_config;

typedef struct hvp_resnet_block {
    int bottleneck, has_downsample;
    hvp_conv conv[3];
    hvp_bn bn[3];
    hvp_conv down_conv;
    hvp_bn down_bn;
    hvp_tensor x, out; /* saved: input, block output */
} hvp_resnet_block;

typedef struct hvp_resnet {
    hvp_resnet_config cfg;
    hvp_conv conv1;
    hvp_bn bn1;
    hvp_tensor stem_out, pool_idx; /* saved */
    hvp_maxpool_desc pool;         /* of the last forward */
    hvp_resnet_block *blocks;
    int nblocks;
    int feature_dim;   /* channels after layer4 (512 or 2048, times width) */
    hvp_tensor last;   /* saved layer4 output (for the average pool backward) */
} hvp_resnet;

/* Parameters are registered in torchvision's state-dict order ("conv1.weight",
 * "bn1.weight", ..., "layer4.1.bn2.running_var"); no fc layer (SSL heads replace it). */
hvp_status hvp_resnet_init(hvp_resnet *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                           const hvp_resnet_config *cfg);
void hvp_resnet_free(hvp_resnet *m);
/* x [n, in_channels, h, w] -> features [n, feature_dim] (after global average pooling). */
hvp_status hvp_resnet_forward(hvp_resnet *m, const hvp_pass *p, const hvp_tensor *x,
                              hvp_tensor *features);
/* dx is not computed (the input needs no gradient). */
hvp_status hvp_resnet_backward(hvp_resnet *m, hvp_ctx *ctx, const hvp_tensor *dfeatures);

/* ---- Vision Transformer (timm / DINO layout) -------------------------------------- */

typedef struct hvp_vit_config {
    int img_size;      /* pretraining side: pos_embed has (img_size / patch)^2 + 1 rows */
    int patch;         /* patch side (the patch conv's kernel and stride) */
    int in_channels;   /* 1 or 3 */
    int dim;           /* embedding width D */
    int depth;         /* blocks */
    int heads;         /* attention heads (dim divisible by heads) */
    float mlp_ratio;   /* hidden width of the MLP = dim * mlp_ratio (4) */
    float drop_path;   /* stochastic depth: block i drops its branches with rate
                        * drop_path * i / (depth - 1), as DINO's linspace */
    int masked_im_modeling; /* iBOT: a learnable "masked_embed" [1, D] replaces the masked
                             * patch embeddings (hvp_vit_forward_tokens with a mask) */
} hvp_vit_config;

/* DINO's vit_tiny (192 wide, 12 blocks, 3 heads), vit_small (384, 12, 6) and vit_base
 * (768, 12, 12) with mlp_ratio 4; name is "tiny", "small" or "base" (a "vit_" prefix is
 * accepted). */
hvp_status hvp_vit_preset(const char *name, int img_size, int patch, int in_channels,
                          float drop_path, hvp_vit_config *out);

typedef struct hvp_vit_block {
    hvp_param norm1_w, norm1_b, norm2_w, norm2_b;
    hvp_linear qkv, proj, fc1, fc2;
    float drop_rate;  /* this block's drop-path rate */
    int dropped;      /* the last forward applied drop path (train mode, rate > 0) */
    uint32_t step;    /* ... with this step */
    /* saved by a forward that keeps activations */
    hvp_tensor x, ln1_mean, ln1_rstd, attn_saved, mid, ln2_mean, ln2_rstd, fc1_out;
} hvp_vit_block;

typedef struct hvp_vit {
    hvp_vit_config cfg;
    int grid, tokens;  /* patches per side, L + 1, of pos_embed (cfg.img_size) */
    int in_grid, in_tokens; /* the same of the last forward's input */
    hvp_param cls_token, pos_embed;
    hvp_param masked_embed;  /* cfg.masked_im_modeling only */
    hvp_conv patch_embed;
    hvp_vit_block *blocks;
    hvp_param norm_w, norm_b;
    uint64_t seed;     /* drop-path masks: (seed, step, layer 2i or 2i+1 of block i) */
    uint32_t step;     /* the training step, set by the caller before a train-mode forward:
                        * the same step draws the same masks (runs stay reproducible) */
    int feature_dim;   /* dim */
    hvp_tensor cls_rows, norm_mean, norm_rstd; /* saved: CLS rows (or, for the token
                                                * forward, all tokens) before the final norm */
    hvp_tensor mask;   /* saved: the last forward's I32 [n, L] patch mask, if masked */
    int masked;
} hvp_vit;

/* Parameters in DINO's / timm's state-dict order under prefix: "cls_token" [1, 1, D],
 * "pos_embed" [1, L+1, D], "patch_embed.proj.weight" / ".bias", "blocks.{i}.norm1...",
 * "blocks.{i}.attn.qkv...", "blocks.{i}.attn.proj...", "blocks.{i}.norm2...",
 * "blocks.{i}.mlp.fc1...", "blocks.{i}.mlp.fc2...", "norm.weight" / ".bias". Initialised as
 * DINO: Linear weights and the two embeddings truncated normal (std 0.02), Linear biases 0,
 * LayerNorms 1 / 0, the patch conv PyTorch's default (uniform +-1/sqrt(C p p)). */
hvp_status hvp_vit_init(hvp_vit *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                        const hvp_vit_config *cfg);
void hvp_vit_free(hvp_vit *m);
/* x [n, in_channels, S, S] -> features [n, dim]: the class token after the final LayerNorm.
 * S is any multiple of the patch size: when it is not img_size, pos_embed is interpolated
 * to the S / patch grid (DINO's interpolate_pos_encoding, hvp_vit_pos_interp_fwd). Train
 * mode applies drop path with masks drawn from m->step. */
hvp_status hvp_vit_forward(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                           hvp_tensor *features);
/* DINO's linear-evaluation features (eval_linear.py, n_last_blocks): the class token of
 * each of the last n blocks' outputs through the final LayerNorm, concatenated, earliest
 * block first: features [n_img, n * dim]. Eval mode, no backward (p->keep 0). */
hvp_status hvp_vit_forward_last_blocks(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                                       int n, hvp_tensor *features);
/* Parameter gradients of the last forward (which kept its activations); no dx. */
hvp_status hvp_vit_backward(hvp_vit *m, hvp_ctx *ctx, const hvp_tensor *dfeatures);
/* iBOT's forward: every token after the final LayerNorm, tokens [n, L+1, dim] (class token
 * first). mask (NULL: none) is I32 [n, L] in row-major patch order, non-zero where the
 * patch embedding is replaced by masked_embed before the position embedding is added (the
 * official VisionTransformer.prepare_tokens / mask_model); it needs cfg.masked_im_modeling
 * and must stay untouched until the backward. */
hvp_status hvp_vit_forward_tokens(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                                  const hvp_tensor *mask, hvp_tensor *tokens);
/* Parameter gradients (masked_embed's included) of the last hvp_vit_forward_tokens. */
hvp_status hvp_vit_backward_tokens(hvp_vit *m, hvp_ctx *ctx, const hvp_tensor *dtokens);

/* ---- Backbones: what an SSL method holds, whichever network it is -----------------
 * A family (src/nn/resnet.c, src/nn/vit.c) fills an hvp_backbone_ops; the registry
 * (src/nn/backbone_registry.c) gives each model.arch of HVP_ARCHS (hvp/registry.h) its
 * family. Everything outside a family's file goes through the hvp_backbone_* functions below
 * (src/nn/backbone.c), never the family's own structs. */

typedef struct hvp_backbone_ops hvp_backbone_ops;
struct hvp_config;

typedef struct hvp_backbone_config {
    const hvp_backbone_ops *ops; /* the family */
    union {                      /* its settings, read by the family only */
        hvp_resnet_config resnet;
        hvp_vit_config vit;
    } family;
} hvp_backbone_config;

typedef struct hvp_backbone {
    const hvp_backbone_ops *ops;
    void *impl; /* the family's module (an hvp_resnet, an hvp_vit), built by ops->init */
} hvp_backbone;

/* What a family provides. impl is the module its init made. A NULL entry is something the
 * family has not got: the hvp_backbone_* functions then refuse it or do nothing, as each
 * says. */
struct hvp_backbone_ops {
    const char *name;         /* "ResNet", "ViT": in messages */
    const char *weight_names; /* whose parameter names and layouts: "torchvision", "timm" */
    int patch_tiled;          /* images must be multiples of model.patch_size */
    /* The config of an architecture of this family (variant: its HVP_ARCHS column) from
     * [model] and data.image_size, for images of `channels` channels. */
    hvp_status (*from_config)(const char *variant, const struct hvp_config *c, int channels,
                              hvp_backbone_config *out);
    void (*describe)(const hvp_backbone_config *cfg, char *buf, size_t size);
    void (*set_drop_path)(hvp_backbone_config *cfg, float rate);
    void (*set_masked_tokens)(hvp_backbone_config *cfg, int on);
    /* Builds the module in impl (module_size zeroed bytes); free releases what it holds,
     * also after a failed init. */
    size_t module_size;
    hvp_status (*init)(void *impl, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                       const hvp_backbone_config *cfg);
    void (*free)(void *impl);
    int (*feature_dim)(const void *impl);
    int (*token_grid)(const void *impl, int side);
    void (*set_step)(void *impl, uint32_t step);
    void (*invert_seed)(void *impl);
    hvp_status (*forward)(void *impl, const hvp_pass *p, const hvp_tensor *x,
                          hvp_tensor *features);
    hvp_status (*backward)(void *impl, hvp_ctx *ctx, const hvp_tensor *dfeatures);
    hvp_status (*forward_last_blocks)(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                      int n, hvp_tensor *features);
    hvp_status (*forward_tokens)(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                 const hvp_tensor *mask, hvp_tensor *tokens);
    hvp_status (*backward_tokens)(void *impl, hvp_ctx *ctx, const hvp_tensor *dtokens);
};

/* The families (resnet.c, vit.c), and configs of theirs built by hand (tests, PyTorch
 * golden files). */
extern const hvp_backbone_ops hvp_resnet_backbone_ops, hvp_vit_backbone_ops;
hvp_backbone_config hvp_resnet_backbone_config(const hvp_resnet_config *cfg);
hvp_backbone_config hvp_vit_backbone_config(const hvp_vit_config *cfg);

/* ---- the registry: model.arch -> family ------------------------------------------- */

typedef struct hvp_backbone_arch {
    const char *name;            /* model.arch */
    const hvp_backbone_ops *ops; /* its family */
    const char *variant;         /* the family's size of it: ResNet depth, ViT preset */
} hvp_backbone_arch;

/* The architecture called name; an unknown name fails with the names there are. */
hvp_status hvp_backbone_arch_find(const char *name, const hvp_backbone_arch **out);
/* The architecture of the index the config stores (its line of HVP_ARCHS), or NULL. */
const hvp_backbone_arch *hvp_backbone_arch_at(int index);
/* The backbone of cfg's model.arch, [model] and data.image_size, on images of `channels`
 * channels. */
hvp_status hvp_backbone_from_config(const struct hvp_config *cfg, int channels,
                                    hvp_backbone_config *out);

/* ---- a backbone's configuration ---------------------------------------------------- */

/* A one-line description, e.g. "ResNet-18" or "ViT (dim 192, depth 12, heads 3, patch 16)". */
void hvp_backbone_describe(const hvp_backbone_config *cfg, char *buf, size_t size);
/* Stochastic depth at rate (a teacher is built without); nothing where the family has none. */
void hvp_backbone_config_set_drop_path(hvp_backbone_config *cfg, float rate);
/* iBOT's learnable embedding for masked patch tokens (hvp_backbone_forward_tokens with a
 * mask) on or off; fails where the family has no tokens. */
hvp_status hvp_backbone_config_set_masked_tokens(hvp_backbone_config *cfg, int on);

/* ---- a backbone -------------------------------------------------------------------- */

/* Its parameters in the family's names under prefix. m is freed by hvp_backbone_free, also
 * when init fails (a zeroed hvp_backbone may be freed too). */
hvp_status hvp_backbone_init(hvp_backbone *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                             const hvp_backbone_config *cfg);
void hvp_backbone_free(hvp_backbone *m);
/* Width of its features (and of each of its tokens); 0 before an init. */
int hvp_backbone_feature_dim(const hvp_backbone *m);
/* Patches per side of its token grid for images of side px (side 0: the side it was built
 * for, its position embedding's); 0 where it has no tokens. */
int hvp_backbone_token_grid(const hvp_backbone *m, int side);
/* The training step that draws its random masks (drop path); nothing where it draws none. */
void hvp_backbone_set_step(hvp_backbone *m, uint32_t step);
/* Inverts the seed of those draws, so that a second network built in the same state draws
 * its own (BYOL's momentum backbone); nothing where it draws none. */
void hvp_backbone_invert_seed(hvp_backbone *m);
/* x [n, C, S, S] -> features [n, feature_dim] (allocated from ctx->acts). */
hvp_status hvp_backbone_forward(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                hvp_tensor *features);
/* Parameter gradients of the last forward (which kept its activations); no dx. */
hvp_status hvp_backbone_backward(hvp_backbone *m, hvp_ctx *ctx, const hvp_tensor *dfeatures);
/* Frozen features for a linear evaluation: hvp_backbone_forward, or with last_blocks > 1
 * those of each of the last blocks, concatenated ([n, last_blocks * feature_dim]; DINO's
 * n_last_blocks), where the family has them. */
hvp_status hvp_backbone_eval_features(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                      int last_blocks, hvp_tensor *features);
/* Every token: tokens [n, 1 + g * g, feature_dim] (class token first, g its token grid for
 * x's side); mask (NULL: none) I32 [n, g * g], non-zero where a patch is masked (needs the
 * masked-token embedding) and untouched until the backward. Fails where it has no tokens. */
hvp_status hvp_backbone_forward_tokens(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                       const hvp_tensor *mask, hvp_tensor *tokens);
/* Parameter gradients of the last hvp_backbone_forward_tokens. */
hvp_status hvp_backbone_backward_tokens(hvp_backbone *m, hvp_ctx *ctx,
                                        const hvp_tensor *dtokens);

#endif
