/* The backbone registry: each model.arch of HVP_ARCHS with its family's hvp_backbone_ops. */
#include <string.h>

#include "hvp/config.h"
#include "hvp/nn.h"
#include "hvp/registry.h"

#define HVP_ARCH_ENTRY(name, family, variant) {#name, &hvp_##family##_backbone_ops, variant},
static const hvp_backbone_arch archs[] = {HVP_ARCHS(HVP_ARCH_ENTRY)};
#undef HVP_ARCH_ENTRY
#define NARCHS (int)(sizeof archs / sizeof archs[0])

const hvp_backbone_arch *hvp_backbone_arch_at(int index)
{
    return index >= 0 && index < NARCHS ? &archs[index] : NULL;
}

hvp_status hvp_backbone_arch_find(const char *name, const hvp_backbone_arch **out)
{
    *out = NULL;
    char known[256] = "";
    for (int i = 0; i < NARCHS; i++) {
        if (strcmp(archs[i].name, name) == 0) {
            *out = &archs[i];
            return HVP_OK;
        }
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? "|" : "", archs[i].name);
    }
    return HVP_FAIL(HVP_ERR_ARG, "model.arch = '%s': no such backbone (one of %s)", name, known);
}

hvp_status hvp_backbone_from_config(const hvp_config *c, int channels, hvp_backbone_config *out)
{
    memset(out, 0, sizeof *out);
    const hvp_backbone_arch *arch = hvp_backbone_arch_at(c->model.arch);
    if (!arch)
        return HVP_FAIL(HVP_ERR_ARG, "model.arch: no architecture number %d", c->model.arch);
    return arch->ops->from_config(arch->variant, c, channels, out);
}
