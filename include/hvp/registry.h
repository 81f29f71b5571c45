/* The methods (method.name) and backbones (model.arch) hvp knows, one line each. The
 * config accepts exactly these names; src/ssl/registry.c builds a method by its name and
 * src/nn/backbone_registry.c a backbone by its line. Adding a method: its source file in
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

/* name, family (hvp_<family>_backbone_ops, src/nn/<family>.c), and the variant the family
 * builds: ResNet depth, ViT preset (hvp_vit_preset). src/nn/backbone_registry.c maps each
 * to its family (hvp_backbone_arch_find, hvp/nn.h). */
#define HVP_ARCHS(X)                                                                           \
    X(resnet18, resnet, "18")                                                                  \
    X(resnet34, resnet, "34")                                                                  \
    X(resnet50, resnet, "50")                                                                  \
    X(vit_tiny, vit, "tiny")                                                                   \
    X(vit_small, vit, "small")                                                                 \
    X(vit_base, vit, "base")

#endif
