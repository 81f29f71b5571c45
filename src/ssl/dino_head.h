/* What DINO (src/ssl/dino.c) and iBOT (src/ssl/ibot.c) share: a network = backbone +
 * DINOHead (Linear-GELU-Linear-GELU-Linear to the bottleneck, L2 normalisation, a
 * weight-normalised Linear without bias), centred and sharpened teacher probabilities,
 * the center's EMA and the temperature schedule. The teacher's EMA is src/ssl/teacher.h. */
#ifndef HVP_SSL_DINO_HEAD_H
#define HVP_SSL_DINO_HEAD_H

#include "hvp/ssl.h"
#include "ssl/teacher.h"

/* The official optimizer rules of DINO and iBOT: no weight decay on biases and norm
 * parameters (get_params_groups), clipping per parameter (clip_gradients), the head's last
 * layer frozen for the first epochs (cancel_gradients_last_layer); global views of two
 * kinds in the official recipe (even slots: blur 1.0; odd: blur 0.1, solarize 0.2), so
 * hard view candidates are paired (even, odd) as the paper's reference code does. */
static const hvp_method_policy dino_policy = {.decay_all = 0,
                                              .clip_per_param = 1,
                                              .frozen_early = ".last_layer.",
                                              .asymmetric_globals = 1};

typedef struct dino_net {
    hvp_backbone backbone;
    hvp_linear mlp[3];
    hvp_param v, g;  /* last_layer.weight_v [out, bottleneck], weight_g [out, 1] */
    int g_trained;   /* norm_last_layer false: g is a parameter */
    /* saved by a forward that keeps activations */
    hvp_tensor h[2]; /* pre-GELU outputs of mlp.0 and mlp.2 */
    hvp_tensor z, zn, w;
} dino_net;

typedef struct dino_head_config {
    int out_dim, hidden_dim, bottleneck_dim, norm_last_layer;
} dino_head_config;

/* "<prefix>.backbone.*", "<prefix>.head.mlp.{0,2,4}.*", "<prefix>.head.last_layer.weight_g"
 * (a buffer when norm_last_layer) and "weight_v", in the official order. */
hvp_status dino_net_init(dino_net *net, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                         const dino_head_config *hc, const hvp_backbone_config *bc);
/* The head on features f [n, in] into out [n, out_dim] (the caller's). Intermediates come
 * from ctx->acts; the caller rewinds them when p->keep is 0. */
hvp_status dino_head_forward(dino_net *net, const hvp_pass *p, const hvp_tensor *f,
                             const hvp_tensor *out);
/* Head parameter gradients from dout; df (allocated here) the features' gradient. */
hvp_status dino_head_backward(dino_net *net, hvp_ctx *ctx, const hvp_tensor *dout,
                              hvp_tensor *df);

/* probs = softmax((t - center) / temp) per row; t [n, k], center k elements. */
hvp_status dino_teacher_probs(hvp_ctx *ctx, const hvp_tensor *t, const hvp_tensor *center,
                              float temp, hvp_tensor *probs);
/* center = m center + (1 - m) w^T t with w [n] (NULL: 1/n each): a GEMM, fixed order. */
hvp_status dino_update_center(hvp_ctx *ctx, const hvp_tensor *t, const hvp_tensor *w,
                              const hvp_tensor *center, float momentum);
/* Eval-mode features of the teacher's backbone (the official kNN and linear evaluations). */
hvp_status dino_teacher_features(dino_net *teacher, hvp_ctx *ctx, const hvp_tensor *x,
                                 hvp_tensor *f);
/* Frees both networks' backbones and the teacher's EMA pairs. */
void dino_nets_free(dino_net *student, dino_net *teacher, ema_teacher *ema);
/* Teacher temperature of the epoch of step: np.linspace(warm, final, warm_epochs) then
 * final. */
float dino_temp_at(float warm, float final, int warm_epochs, long steps_per_epoch, long step);

#endif
