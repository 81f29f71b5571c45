/* Backbones behind one interface, so that SSL methods hold either a ResNet or a ViT. */
#include <string.h>

#include "hvp/config.h"
#include "hvp/nn.h"

/* model.arch's line of HVP_ARCHS, with [model] and data.image_size. */
hvp_status hvp_backbone_from_config(const hvp_config *c, int channels, hvp_backbone_config *out)
{
    memset(out, 0, sizeof *out);
    const hvp_arch_info *arch = hvp_arch_info_of(c->model.arch);
    if (!arch)
        return HVP_FAIL(HVP_ERR_ARG, "model.arch: no architecture number %d", c->model.arch);
    out->kind = arch->kind;
    if (arch->kind == HVP_BACKBONE_VIT) {
        if (c->data.image_size % c->model.patch_size != 0)
            return HVP_FAIL(HVP_ERR_ARG,
                            "data.image_size = %d is not a multiple of model.patch_size = %d "
                            "(ViT patches must tile the image)",
                            c->data.image_size, c->model.patch_size);
        return hvp_vit_preset(arch->vit_preset, c->data.image_size, c->model.patch_size,
                              channels, (float)c->model.drop_path, &out->vit);
    }
    out->resnet.depth = arch->resnet_depth;
    out->resnet.in_channels = channels;
    out->resnet.cifar_stem = c->model.cifar_stem;
    out->resnet.width = (float)c->model.width;
    out->resnet.zero_init_residual = c->model.zero_init_residual;
    return HVP_OK;
}


void hvp_backbone_describe(const hvp_backbone_config *cfg, char *buf, size_t size)
{
    if (cfg->kind == HVP_BACKBONE_VIT) {
        const hvp_vit_config *v = &cfg->vit;
        snprintf(buf, size, "ViT (dim %d, depth %d, heads %d, patch %d, %d px)", v->dim, v->depth,
                 v->heads, v->patch, v->img_size);
    } else {
        snprintf(buf, size, "ResNet-%d", cfg->resnet.depth);
    }
}

hvp_status hvp_backbone_init(hvp_backbone *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                             const hvp_backbone_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->kind = cfg->kind;
    switch (cfg->kind) {
    case HVP_BACKBONE_RESNET:
        HVP_TRY(hvp_resnet_init(&m->resnet, s, ctx, prefix, &cfg->resnet));
        m->feature_dim = m->resnet.feature_dim;
        return HVP_OK;
    case HVP_BACKBONE_VIT:
        HVP_TRY(hvp_vit_init(&m->vit, s, ctx, prefix, &cfg->vit));
        m->feature_dim = m->vit.feature_dim;
        return HVP_OK;
    }
    return HVP_FAIL(HVP_ERR_ARG, "backbone kind %d: resnet or vit", (int)cfg->kind);
}

void hvp_backbone_free(hvp_backbone *m)
{
    if (m->kind == HVP_BACKBONE_VIT)
        hvp_vit_free(&m->vit);
    else
        hvp_resnet_free(&m->resnet);
}

void hvp_backbone_set_step(hvp_backbone *m, uint32_t step)
{
    m->vit.step = step;
}

hvp_status hvp_backbone_forward(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                hvp_tensor *features)
{
    if (m->kind == HVP_BACKBONE_VIT)
        return hvp_vit_forward(&m->vit, p, x, features);
    return hvp_resnet_forward(&m->resnet, p, x, features);
}

hvp_status hvp_backbone_eval_features(hvp_backbone *m, const hvp_pass *p, const hvp_tensor *x,
                                      int last_blocks, hvp_tensor *features)
{
    if (last_blocks == 1)
        return hvp_backbone_forward(m, p, x, features);
    if (m->kind != HVP_BACKBONE_VIT)
        return HVP_FAIL(HVP_ERR_ARG, "eval.last_blocks = %d: features of several blocks are "
                        "a ViT's (a ResNet gives its pooled features, eval.last_blocks = 1)",
                        last_blocks);
    return hvp_vit_forward_last_blocks(&m->vit, p, x, last_blocks, features);
}

hvp_status hvp_backbone_backward(hvp_backbone *m, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    if (m->kind == HVP_BACKBONE_VIT)
        return hvp_vit_backward(&m->vit, ctx, dfeatures);
    return hvp_resnet_backward(&m->resnet, ctx, dfeatures);
}
