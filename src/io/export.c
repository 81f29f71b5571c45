/* A backbone's weights out of a checkpoint, under the names torchvision (ResNet) and timm
 * (ViT) use, so that `resnet50(); model.fc = nn.Identity()` or
 * `vit_small_patch16_224(num_classes=0)` loads them with strict=True. */
#include <string.h>

#include "hvp/model_io.h"

/* Tensors under the prefix that the PyTorch backbone without its classifier lacks:
 * torchvision's fc (where SimSiam keeps its projector), timm's head, iBOT's masked_embed. */
static int left_out(const char *name)
{
    return strncmp(name, "fc.", 3) == 0 || strncmp(name, "head.", 5) == 0 ||
           strcmp(name, "masked_embed") == 0;
}

hvp_status hvp_export_backbone(const char *weights, const char *prefix, const char *out,
                               int *ntensors)
{
    hvp_st_file *f = NULL;
    hvp_st_writer *w = NULL;
    HVP_TRY(hvp_st_open(weights, &f));
    hvp_status st = hvp_st_writer_new(&w);
    size_t plen = strlen(prefix);
    *ntensors = 0;
    for (int i = 0; st == HVP_OK && i < hvp_st_count(f); i++) {
        const hvp_st_tensor *t = hvp_st_at(f, i);
        if (strncmp(t->name, prefix, plen) != 0 || left_out(t->name + plen))
            continue;
        st = hvp_st_add(w, t->name + plen, t->dtype, t->ndim, t->shape, t->data);
        ++*ntensors;
    }
    if (st == HVP_OK && *ntensors == 0)
        st = HVP_FAIL(HVP_ERR_NOTFOUND, "%s holds no tensor under '%s': not this method's "
                      "checkpoint?", weights, prefix);
    if (st == HVP_OK)
        st = hvp_st_set_metadata(w, "format", "pt");
    if (st == HVP_OK)
        st = hvp_st_save(w, out);
    hvp_st_writer_free(w);
    hvp_st_close(f);
    return st;
}
