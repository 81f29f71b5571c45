/* The EMA teacher shared by DINO, iBOT and BYOL (see teacher.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/optim.h"
#include "ssl/teacher.h"

/* Room for one more pair. */
static hvp_status grow(ema_teacher *t)
{
    if (t->n < t->cap)
        return HVP_OK;
    int cap = t->cap ? 2 * t->cap : 64;
    hvp_tensor *te = realloc(t->teacher, (size_t)cap * sizeof *te);
    if (te)
        t->teacher = te;
    hvp_tensor *on = te ? realloc(t->online, (size_t)cap * sizeof *on) : NULL;
    if (!te || !on)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    t->online = on;
    t->cap = cap;
    return HVP_OK;
}

/* The teacher buffer of an online name under online_prefix (NULL: none); its name in name. */
static hvp_buffer *namesake(hvp_state *s, const char *online, const char *online_prefix,
                            const char *teacher_prefix, char *name, size_t size)
{
    snprintf(name, size, "%s%s", teacher_prefix, online + strlen(online_prefix));
    return hvp_state_find_buffer(s, name);
}

hvp_status ema_teacher_link(ema_teacher *t, hvp_state *s, hvp_ctx *ctx, const char *online_prefix,
                            const char *teacher_prefix, int skip_missing)
{
    size_t plen = strlen(online_prefix);
    char name[160];
    for (int i = 0; i < s->nparams; i++) {
        const hvp_param *p = &s->params[i];
        if (strncmp(p->name, online_prefix, plen) != 0)
            continue;
        hvp_buffer *tb = namesake(s, p->name, online_prefix, teacher_prefix, name, sizeof name);
        if (!tb && skip_missing)
            continue;
        if (!tb)
            return HVP_FAIL(HVP_ERR_ARG, "the teacher has no %s (the EMA of %s)", name,
                            p->name);
        HVP_TRY(hvp_tensor_copy(ctx, &tb->value, &p->value));
        HVP_TRY(grow(t));
        t->teacher[t->n] = tb->value;
        t->online[t->n++] = p->value;
    }
    for (int i = 0; i < s->nbuffers; i++) {
        const hvp_buffer *b = &s->buffers[i];
        if (b->is_count || strncmp(b->name, online_prefix, plen) != 0)
            continue;
        hvp_buffer *tb = namesake(s, b->name, online_prefix, teacher_prefix, name, sizeof name);
        if (!tb && skip_missing)
            continue;
        if (!tb)
            return HVP_FAIL(HVP_ERR_ARG, "the teacher has no %s (a copy of %s)", name, b->name);
        HVP_TRY(hvp_tensor_copy(ctx, &tb->value, &b->value));
    }
    return hvp_ema_pairs_prepare(ctx, t->teacher, t->online, t->n, &t->pairs);
}

hvp_status ema_teacher_update(ema_teacher *t, hvp_ctx *ctx, float momentum)
{
    return hvp_ema_pairs_update(ctx, &t->pairs, momentum);
}

void ema_teacher_free(ema_teacher *t)
{
    free(t->teacher);
    free(t->online);
    memset(t, 0, sizeof *t);
}

float ema_momentum_at(float base, float final, long total_steps, long step)
{
    if (total_steps <= 0)
        return base;
    double c = cos(M_PI * (double)step / (double)total_steps);
    return (float)((double)final - ((double)final - (double)base) * (c + 1.0) / 2.0);
}
