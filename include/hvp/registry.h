/* The methods (method.name) and backbones (model.arch) hvp knows, one line each. The
 * config accepts exactly these names; src/ssl/registry.c builds a method by its name and
 * src/train/train_util.c a backbone by its line. Adding a method: its source file in
 * src/ssl/ with hvp_<name>_from_config (declared in hvp/ssl.h), and a line here. */
#ifndef HVP_REGISTRY_H
#define HVP_REGISTRY_H

/* name, and where its backbone's weights are in its state (what `hvp export` writes, under
 * torchvision / timm names once the prefix is cut): the official evaluations' network, so
 * DINO's and iBOT's teacher. */
#define HVP_METHODS(X)                                                                         \
    X(simsiam, "encoder.")                                                                     \
    X(simclr, "backbone.")                                                                     \
    X(dino, "teacher.backbone.")                                                               \
    X(ibot, "teacher.backbone.")                                                               \
    X(byol, "backbone.")

/* method.name of the index the config stores, or NULL out of range. */
static inline const char *hvp_method_name_of(int method)
{
#define HVP_METHOD_NAME(name, prefix) #name,
    static const char *const names[] = {HVP_METHODS(HVP_METHOD_NAME)};
#undef HVP_METHOD_NAME
    return method >= 0 && method < (int)(sizeof names / sizeof names[0]) ? names[method] : 0;
}

/* Where method's backbone is in its state (see HVP_METHODS), or NULL out of range. */
static inline const char *hvp_method_backbone_prefix(int method)
{
#define HVP_METHOD_BACKBONE(name, prefix) prefix,
    static const char *const prefixes[] = {HVP_METHODS(HVP_METHOD_BACKBONE)};
#undef HVP_METHOD_BACKBONE
    return method >= 0 && method < (int)(sizeof prefixes / sizeof prefixes[0]) ? prefixes[method]
                                                                               : 0;
}

typedef enum hvp_backbone_kind { HVP_BACKBONE_RESNET = 0, HVP_BACKBONE_VIT } hvp_backbone_kind;

/* name, family, ResNet depth, ViT preset (hvp_vit_preset) */
#define HVP_ARCHS(X)                                                                           \
    X(resnet18, HVP_BACKBONE_RESNET, 18, NULL)                                                 \
    X(resnet34, HVP_BACKBONE_RESNET, 34, NULL)                                                 \
    X(resnet50, HVP_BACKBONE_RESNET, 50, NULL)                                                 \
    X(vit_tiny, HVP_BACKBONE_VIT, 0, "tiny")                                                   \
    X(vit_small, HVP_BACKBONE_VIT, 0, "small")                                                 \
    X(vit_base, HVP_BACKBONE_VIT, 0, "base")

typedef struct hvp_arch_info {
    const char *name;
    hvp_backbone_kind kind;
    int resnet_depth;
    const char *vit_preset;
} hvp_arch_info;

/* model.arch's line (arch: the index the config stores), or NULL out of range. */
static inline const hvp_arch_info *hvp_arch_info_of(int arch)
{
#define HVP_ARCH_INFO(name, kind, depth, preset)                                               \
    {#name, kind, depth, preset},
    static const hvp_arch_info archs[] = {HVP_ARCHS(HVP_ARCH_INFO)};
#undef HVP_ARCH_INFO
    return arch >= 0 && arch < (int)(sizeof archs / sizeof archs[0]) ? &archs[arch] : 0;
}

#endif
