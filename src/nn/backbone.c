/* Backbones behind one interface (hvp_backbone_ops), so that SSL methods hold any family. */
#include <stdlib.h>
#include <string.h>

#include "hvp/nn.h"

void hvp_backbone_describe(const hvp_backbone_config *cfg, char *buf, size_t size)
{
    cfg->ops->describe(cfg, buf, size);
}

void hvp_backbone_config_set_drop_path(hvp_backbone_config *cfg, float rate)
{
    if (cfg->ops->set_drop_path)
        cfg->ops->set_drop_path(cfg, rate);
}

hvp_status hvp_backbone_config_set_masked_tokens(hvp_backbone_config *cfg, int on)
{
    if (!cfg->ops->set_masked_tokens)
        return HVP_FAIL(HVP_ERR_ARG, "a %s has no patch tokens to mask", cfg->ops->name);
    cfg->ops->set_masked_tokens(cfg, on);
    return HVP_OK;
}

hvp_status hvp_backbone_init(hvp_backbone *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                             const hvp_backbone_config *cfg)
{
    memset(m, 0, sizeof *m);
    if (!cfg->ops)
        return HVP_FAIL(HVP_ERR_ARG, "backbone '%s': its config names no family "
                        "(hvp_backbone_from_config or hvp_<family>_backbone_config)",
                        prefix ? prefix : "");
    m->impl = calloc(1, cfg->ops->module_size);
    if (!m->impl)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    m->ops = cfg->ops;
    return cfg->ops->init(m->impl, s, ctx, prefix, cfg);
}

void hvp_backbone_free(hvp_backbone *m)
{
    if (m->impl)
        m->ops->free(m->impl);
    free(m->impl);
    m->impl = NULL;
}

int hvp_backbone_feature_dim(const hvp_backbone *m)
{
    return m->impl ? m->ops->feature_dim(m->impl) : 0;
}

int hvp_backbone_token_grid(const hvp_backbone *m, int side)
{
    return m->ops->token_grid ? m->ops->token_grid(m->impl, side) : 0;
}

void hvp_backbone_set_step(hvp_backbone *m, uint32_t step)
{
    if (m->ops->set_step)
        m->ops->set_step(m->impl, step);
}

void hvp_backbone_invert_seed(hvp_backbone *m)
{
    if (m->ops->invert_seed)
        m->ops->invert_seed(m->impl);
}

hvp_status hvp_backbone_forward(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                hvp_tensor *features)
{
    return m->ops->forward(m->impl, p, x, features);
}

hvp_status hvp_backbone_backward(hvp_backbone *m, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    return m->ops->backward(m->impl, ctx, dfeatures);
}

hvp_status hvp_backbone_eval_features(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                      int last_blocks, hvp_tensor *features)
{
    if (last_blocks == 1)
        return hvp_backbone_forward(m, p, x, features);
    if (!m->ops->forward_last_blocks)
        return HVP_FAIL(HVP_ERR_ARG, "eval.last_blocks = %d: a %s gives the features of its "
                        "last block only (eval.last_blocks = 1)", last_blocks, m->ops->name);
    return m->ops->forward_last_blocks(m->impl, p, x, last_blocks, features);
}

hvp_status hvp_backbone_forward_tokens(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                       const hvp_tensor *mask, hvp_tensor *tokens)
{
    if (!m->ops->forward_tokens)
        return HVP_FAIL(HVP_ERR_ARG, "a %s has no tokens", m->ops->name);
    return m->ops->forward_tokens(m->impl, p, x, mask, tokens);
}

hvp_status hvp_backbone_backward_tokens(hvp_backbone *m, hvp_ctx *ctx,
                                        const hvp_tensor *dtokens)
{
    if (!m->ops->backward_tokens)
        return HVP_FAIL(HVP_ERR_ARG, "a %s has no tokens", m->ops->name);
    return m->ops->backward_tokens(m->impl, ctx, dtokens);
}
