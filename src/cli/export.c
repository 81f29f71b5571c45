/* `hvp export RUN_DIR|CHECKPOINT_DIR --out FILE.safetensors [--format torchvision|timm]`:
 * the backbone of a checkpoint under PyTorch's names (hvp_export_backbone). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/model_io.h"

int hvp_cmd_export(int argc, char **argv)
{
    const char *out = NULL, *format = NULL, *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            format = argv[++i];
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    if (!path || !out) {
        fprintf(stderr, "usage: hvp export RUN_DIR|CHECKPOINT_DIR --out FILE.safetensors "
                        "[--format torchvision|timm]\n"
                        "  the backbone alone, under torchvision (ResNet) or timm (ViT) names:\n"
                        "  loads with strict=True into the model with its classifier head set "
                        "to nn.Identity()\n");
        return 2;
    }
    char ckpt[1100], weights[1200];
    if (!hvp_cli_locate("export", path, ckpt, sizeof ckpt))
        return 2;
    if (!ckpt[0]) {
        fprintf(stderr, "hvp export: %s is a file; give a run or checkpoint directory\n", path);
        return 2;
    }
    hvp_config cfg;
    if (hvp_ckpt_load_config(ckpt, &cfg) != HVP_OK)
        return hvp_cli_error("export");
    const hvp_backbone_arch *arch = hvp_backbone_arch_at(cfg.model.arch);
    const char *names = arch->ops->weight_names;
    if (format && strcmp(format, names) != 0) {
        fprintf(stderr, "hvp export: --format %s: a %s has %s names\n", format, arch->name,
                names);
        return 2;
    }
    snprintf(weights, sizeof weights, "%s/" HVP_CKPT_WEIGHTS, ckpt);
    int n;
    if (hvp_export_backbone(weights, hvp_method_backbone_prefix(cfg.method.name), out, &n) !=
        HVP_OK)
        return hvp_cli_error("export");
    printf("wrote %s: the %s backbone of %s (%d tensors, %s names, from %s's '%s')\n", out,
           arch->name, ckpt, n, names, hvp_method_name_of(cfg.method.name),
           hvp_method_backbone_prefix(cfg.method.name));
    return 0;
}
