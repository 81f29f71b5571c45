/* Methods by method.name: the one place that maps the config's name to a constructor, and
 * builds every method with flat storage (two builds under a plan, see hvp/nn.h). */
#include <stdlib.h>

#include "hvp/ssl.h"

typedef hvp_status (*method_factory)(hvp_ctx *ctx, const hvp_config *cfg,
                                     const hvp_backbone_config *backbone, hvp_method **out);

hvp_status hvp_method_from_config(hvp_ctx *ctx, const hvp_config *cfg,
                                  const hvp_backbone_config *backbone, hvp_method **out)
{
#define FACTORY(name, prefix) hvp_##name##_from_config,
    static const method_factory factories[] = {HVP_METHODS(FACTORY)};
#undef FACTORY
    *out = NULL;
    int i = cfg->method.name;
    if (i < 0 || i >= (int)(sizeof factories / sizeof factories[0]))
        return HVP_FAIL(HVP_ERR_ARG, "method.name: no method number %d", i);
    if (ctx->state_plan)
        return HVP_FAIL(HVP_ERR_ARG, "method.name: a method is already being built");
    hvp_state_plan *plan;
    HVP_TRY(hvp_state_plan_create(&plan));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_method *sizing = NULL;
    ctx->state_plan = plan;
    /* First build: learns the tensors, then gives its memory back. */
    hvp_status st = factories[i](ctx, cfg, backbone, &sizing);
    hvp_method_destroy(sizing);
    /* trimmed too, else the regions, larger than a block, would skip its blocks */
    hvp_arena_release_to(ctx->params, mark);
    if (st == HVP_OK)
        st = hvp_state_plan_reserve(plan, ctx);
    if (st == HVP_OK)
        st = factories[i](ctx, cfg, backbone, out);
    if (st == HVP_OK)
        st = hvp_state_plan_check_done(plan);
    ctx->state_plan = NULL;
    hvp_state_plan_free(plan);
    if (st != HVP_OK) { /* a failed build keeps no device memory */
        hvp_method_destroy(*out);
        *out = NULL;
        hvp_arena_release_to(ctx->params, mark);
    }
    return st;
}

void hvp_method_destroy(hvp_method *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m);
    hvp_state_free(&m->state);
    free(m);
}
