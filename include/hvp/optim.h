/* Optimizers, EMA and gradient clipping on device tensors (src/optim/, cl/optim_*.cl).
 * Every update is enqueued on ctx->queue with no host round trip: norms are reduced on the
 * device (hvp_reduce, fixed order) and read from device memory by the next kernel, so a
 * step is bitwise reproducible on a device. */
#ifndef HVP_OPTIM_H
#define HVP_OPTIM_H

#include "hvp/tensor.h"

/* One parameter tensor as the models list them (torchvision / timm names). */
typedef struct hvp_param {
    char name[96];
    hvp_tensor value, grad;
    int no_decay; /* biases and norm parameters: no weight decay, excluded from LARS adaptation */
} hvp_param;

/* ---- flat storage ------------------------------------------------------------------
 * A model built under a plan (hvp_method_from_config, see hvp_state_plan in hvp/nn.h) has
 * its parameter values, gradients and buffers each in one region, tensor after tensor in
 * creation order, each starting at a multiple of HVP_PARAM_ALIGN elements from the region's
 * start (256 bytes: the alignment the arena gave tensors one by one, so kernels choose the
 * same vector paths). The gaps are zero. Such a list is "packed": the optimizer, clipping,
 * zero-grad and EMA then launch a constant number of kernels over the region; any other
 * list (tensors allocated one by one) takes a launch per tensor, as before. */
#define HVP_PARAM_ALIGN 64

/* Where tensor i of a packed list starts, given where tensor i - 1 started and its size. */
static inline size_t hvp_packed_next(size_t start, size_t numel)
{
    return (start + numel + HVP_PARAM_ALIGN - 1) / HVP_PARAM_ALIGN * HVP_PARAM_ALIGN;
}

/* 1 when the n F32 tensors t[0], *(t + stride bytes), ... lie packed in one buffer (n >= 1):
 * *span is then the region they cover, F32 [total] from the first one's offset, total the
 * last one's end rounded up to HVP_PARAM_ALIGN. 0 otherwise (span untouched). */
int hvp_tensors_packed(const hvp_tensor *t, size_t stride, int n, hvp_tensor *span);
/* 1 when both the values and the grads of params are packed (hvp_tensors_packed). */
int hvp_params_packed(const hvp_param *params, int n, hvp_tensor *values, hvp_tensor *grads);

/* Zeroes every grad (before a step's backward, since parameter gradients accumulate). */
hvp_status hvp_params_zero_grad(hvp_ctx *ctx, const hvp_param *params, int n);

typedef enum hvp_optim_kind {
    HVP_OPTIM_SGD = 0, /* torch.optim.SGD: momentum, dampening 0, no nesterov */
    HVP_OPTIM_LARS,    /* solo-learn's LARS (SimCLR) */
    HVP_OPTIM_ADAMW    /* torch.optim.AdamW */
} hvp_optim_kind;

typedef struct hvp_optim_config {
    hvp_optim_kind kind;
    float momentum;           /* SGD, LARS: 0.9 (0: no momentum buffer, as PyTorch) */
    float beta1, beta2, eps;  /* AdamW: 0.9, 0.999, 1e-8 */
    float lars_eta;           /* 0.02 */
    float lars_eps;           /* 1e-8, in the trust ratio's denominator */
    int lars_clip_lr;         /* solo-learn's clip_lr: ratio = min(ratio / lr, 1); 0 */
    int lars_exclude_bias_n_norm; /* no_decay params get neither adaptation nor decay; 1 */
    int decay_all; /* SGD, AdamW: weight decay on no_decay params too (SimSiam's official
                    * code decays everything); 0 */
} hvp_optim_config;

/* The defaults above for a kind. */
hvp_optim_config hvp_optim_defaults(hvp_optim_kind kind);

/* Parameter groups as PyTorch's param_groups: each parameter is in one (0 unless
 * hvp_optim_set_group moved it); set each group's lr and weight decay before a step. */
#define HVP_OPTIM_MAX_GROUPS 4
typedef struct hvp_optim_group {
    float lr, weight_decay;
} hvp_optim_group;

typedef struct hvp_optim {
    hvp_optim_config cfg;
    const hvp_param *params; /* borrowed: the caller keeps the array alive */
    int nparams;
    int *group;                                 /* per parameter */
    hvp_optim_group groups[HVP_OPTIM_MAX_GROUPS];
    /* Device state, from ctx->params, zeroed at creation, named for checkpoints:
     * "<param>.momentum_buffer" (SGD and LARS with momentum) or "<param>.exp_avg" and
     * "<param>.exp_avg_sq" (AdamW). value is the buffer; grad is unused. */
    hvp_param *state;
    int nstate;
    int *state_of; /* per parameter: its first entry in state, or -1 */
    long step;     /* steps taken (AdamW's bias correction); checkpoint it with the state */
    hvp_tensor norms; /* LARS over a list that is not packed: ||p||, ||g|| per parameter,
                       * [2 * nparams] */
    /* A packed list (hvp_params_packed): its segment tables, and the state's regions (the
     * state tensors above are views of them: exp_avg in [0], exp_avg_sq in [1], or the
     * momentum buffers in [0]); NULL: a launch per tensor. */
    struct hvp_segments *seg;
    hvp_tensor state_region[2];
} hvp_optim;

hvp_status hvp_optim_create(hvp_ctx *ctx, const hvp_optim_config *cfg, const hvp_param *params,
                            int nparams, hvp_optim **out);
void hvp_optim_destroy(hvp_optim *o);
/* Puts every parameter whose name starts with prefix into group; returns how many, or -1
 * for a group out of range. (SimSiam's fix_pred_lr: predictor in group 1 at the base lr.) */
int hvp_optim_set_group(hvp_optim *o, const char *prefix, int group);
/* One update of every parameter from its grad, with the groups' current lr and wd: over a
 * packed list one launch (LARS: three), else one per tensor. */
hvp_status hvp_optim_step(hvp_ctx *ctx, hvp_optim *o);

/* teacher = m * teacher + (1 - m) * student, pairwise (the lists must match in shape). */
hvp_status hvp_ema_update(hvp_ctx *ctx, const hvp_param *teacher, const hvp_param *student,
                          int n, float m);
/* The same for plain tensors (BN running statistics and other buffers). */
hvp_status hvp_ema_tensors(hvp_ctx *ctx, const hvp_tensor *teacher, const hvp_tensor *student,
                           int n, float m);

/* The chunks a multi-tensor kernel (cl/optim_flat.cl) takes, one per work-group, one
 * element per item: runs of at most `size` elements of a list of tensors, none across two,
 * as I32 [count, 3] (tensor, first element, end) in ctx->params (src/optim/segments.h). */
typedef struct hvp_chunk_table {
    hvp_tensor table;
    int count;
    size_t size; /* the launch's work-group size */
} hvp_chunk_table;

/* An EMA over fixed (teacher, online) pairs, prepared once: where the teachers are one
 * packed run (hvp_tensors_packed) and so are their online tensors (then in the same
 * layout), one launch over the two runs; where they are not but each side lies in one
 * buffer (iBOT: the student's masked_embed has no teacher), one launch through a table of
 * chunks (in ctx->params); else one launch per pair. The arrays are borrowed: prepare again
 * when they move. */
typedef struct hvp_ema_pairs {
    const hvp_tensor *teacher, *online;
    int n;
    int mode; /* HVP_EMA_RUN, HVP_EMA_TABLE or HVP_EMA_PER_PAIR */
    hvp_tensor teacher_run, online_run; /* RUN */
    hvp_tensor delta; /* TABLE: per pair the online tensor's offset minus the teacher's */
    hvp_chunk_table chunks; /* TABLE: the teachers' */
} hvp_ema_pairs;
enum { HVP_EMA_PER_PAIR = 0, HVP_EMA_RUN, HVP_EMA_TABLE };
hvp_status hvp_ema_pairs_prepare(hvp_ctx *ctx, const hvp_tensor *teacher,
                                 const hvp_tensor *online, int n, hvp_ema_pairs *out);
/* teacher = m * teacher + (1 - m) * online over every pair, as hvp_ema_tensors. */
hvp_status hvp_ema_pairs_update(hvp_ctx *ctx, const hvp_ema_pairs *e, float m);

/* torch.nn.utils.clip_grad_norm_(max_norm): total = ||(||g_1||, ..., ||g_n||)||, then every
 * grad *= max_norm / (total + 1e-6) when that is below 1. The scale is read on the device.
 * total_norm (F32, one element, NULL to skip) receives the total norm before clipping. */
hvp_status hvp_clip_grad_norm(hvp_ctx *ctx, const hvp_param *params, int n, float max_norm,
                              const hvp_tensor *total_norm);
/* DINO's utils.clip_gradients(clip): each grad scaled by clip / (||g_i|| + 1e-6) when below
 * 1. norms (F32 [n], NULL to skip) receives each norm before clipping. */
hvp_status hvp_clip_grad_per_param(hvp_ctx *ctx, const hvp_param *params, int n, float clip,
                                   const hvp_tensor *norms);
/* The same two over the optimizer's parameters, bitwise the same results: over a packed
 * list a constant number of launches through its segment tables (norms of every gradient
 * in two, their norm in one more, one scale of the region; per parameter, the norms and
 * one scale), else the functions above. */
hvp_status hvp_optim_clip_grad_norm(hvp_ctx *ctx, hvp_optim *o, float max_norm,
                                    const hvp_tensor *total_norm);
hvp_status hvp_optim_clip_grad_per_param(hvp_ctx *ctx, hvp_optim *o, float clip,
                                         const hvp_tensor *norms);

#endif
