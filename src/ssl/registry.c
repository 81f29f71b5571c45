/* Methods by method.name: the one place that maps the config's name to a constructor. */
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
    return factories[i](ctx, cfg, backbone, out);
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
