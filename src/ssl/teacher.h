/* An EMA teacher, shared by the methods that have one (DINO's and iBOT's teacher, BYOL's
 * momentum network): its weights are buffers of the method's state under a name prefix of
 * their own, so checkpoints carry them and no optimizer sees them; after each optimizer
 * step they move towards their online namesakes' parameters with a momentum that follows a
 * cosine schedule by step. */
#ifndef HVP_SSL_TEACHER_H
#define HVP_SSL_TEACHER_H

#include "hvp/ssl.h"

/* The (teacher buffer, online parameter) pairs of the EMA. */
typedef struct ema_teacher {
    hvp_tensor *teacher, *online;
    int n, cap;
    hvp_ema_pairs pairs; /* prepared after each link: one launch per update under a plan */
} ema_teacher;

/* Pairs every parameter named "<online_prefix>X" with the buffer "<teacher_prefix>X" and
 * starts the teacher as a copy: those parameters and the online prefix's other buffers
 * (batch-norm running statistics; counts excepted) are copied into their teacher
 * namesakes. Called once per prefix pair, adding to t (zeroed at first). skip_missing: an
 * online name without a teacher namesake is left out (iBOT's masked_embed, as the official
 * EMA over the common names); else it is an error naming it. */
hvp_status ema_teacher_link(ema_teacher *t, hvp_state *s, hvp_ctx *ctx, const char *online_prefix,
                            const char *teacher_prefix, int skip_missing);
/* teacher = m teacher + (1 - m) online over every pair: the parameters only, as DINO's
 * and solo-learn's (MomentumUpdater.update) EMA; the teacher's running statistics are its
 * own forwards'. */
hvp_status ema_teacher_update(ema_teacher *t, hvp_ctx *ctx, float momentum);
void ema_teacher_free(ema_teacher *t);

/* Momentum at step (0-based) of total_steps: cosine from base to final,
 * final - (final - base) (cos(pi step / total) + 1) / 2 (DINO's utils.cosine_scheduler to 1,
 * solo-learn's MomentumUpdater.update_tau); base when total_steps <= 0. */
float ema_momentum_at(float base, float final, long total_steps, long step);

#endif
