/* model.init: a method's backbone from a PyTorch file under torchvision / timm names (what
 * `hvp export` writes, or torchvision's and timm's own downloads). The backbone's place in
 * the method's state is found from the names alone: a root Q such that Q + X names a
 * tensor of the state for every tensor X of the file. Every root gets the weights (DINO's
 * student and teacher, BYOL's online and momentum backbones), so the method needs no say. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/model_io.h"

/* The classifier of a full torchvision / timm model, which no SSL backbone has (SimSiam's
 * projector sits at fc.* under the backbone's root, iBOT's masked_embed beside it). */
static int classifier(const char *name)
{
    return strncmp(name, "fc.", 3) == 0 || strncmp(name, "head.", 5) == 0;
}

static int beside_backbone(const char *name)
{
    return classifier(name) || strcmp(name, "masked_embed") == 0;
}

/* A backbone tensor under root that f lacks (its name after root), or NULL. */
static const char *lacking(const hvp_state *s, const hvp_st_file *f, const char *root)
{
    size_t r = strlen(root);
    for (int i = 0; i < s->nparams + s->nbuffers; i++) {
        const char *name = i < s->nparams ? s->params[i].name : s->buffers[i - s->nparams].name;
        if (strncmp(name, root, r) == 0 && !beside_backbone(name + r) && !hvp_st_find(f, name + r))
            return name + r;
    }
    return NULL;
}

/* The state's tensor (parameter value or buffer) named root + x, its index in *kind
 * (0 parameter, 1 buffer, -1 none). */
static const hvp_tensor *find(const hvp_state *s, const char *root, const char *x, int *kind,
                              const hvp_buffer **buf)
{
    size_t r = strlen(root);
    *buf = NULL;
    for (int i = 0; i < s->nparams; i++)
        if (strncmp(s->params[i].name, root, r) == 0 && strcmp(s->params[i].name + r, x) == 0) {
            *kind = 0;
            return &s->params[i].value;
        }
    for (int i = 0; i < s->nbuffers; i++)
        if (strncmp(s->buffers[i].name, root, r) == 0 && strcmp(s->buffers[i].name + r, x) == 0) {
            *kind = 1;
            *buf = &s->buffers[i];
            return &s->buffers[i].value;
        }
    *kind = -1;
    return NULL;
}

/* Whether root holds every tensor of f but the classifier. */
static int is_root(const hvp_state *s, const hvp_st_file *f, const char *root, int *missing)
{
    *missing = 0;
    for (int i = 0; i < hvp_st_count(f); i++) {
        const char *x = hvp_st_at(f, i)->name;
        int kind;
        const hvp_buffer *b;
        if (!classifier(x) && !find(s, root, x, &kind, &b))
            ++*missing;
    }
    return *missing == 0;
}

static hvp_status load_into(hvp_ctx *ctx, const hvp_st_file *f, const hvp_st_tensor *t,
                            const char *root, const hvp_tensor *dst, const hvp_buffer *b)
{
    if (b && b->is_count) /* num_batches_tracked: a count of the file's training, not ours */
        return HVP_OK;
    int shape[HVP_MAX_DIMS];
    for (int d = 0; d < dst->ndim; d++)
        shape[d] = dst->shape[d];
    float *host = malloc(hvp_nbytes(dst) ? hvp_nbytes(dst) : 1);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory loading %s", t->name);
    hvp_status st = hvp_st_get_f32(f, t->name, dst->ndim, shape, host);
    if (st != HVP_OK)
        st = HVP_FAIL(st, "model.init: %s (into %s%s): %s", hvp_st_name(f), root, t->name,
                      hvp_last_error());
    for (size_t i = 0; st == HVP_OK && i < hvp_numel(dst); i++)
        if (!isfinite(host[i]))
            st = HVP_FAIL(HVP_ERR_NUMERIC, "model.init: %s: tensor '%s' holds NaN or Inf",
                          hvp_st_name(f), t->name);
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, dst, host);
    free(host);
    return st;
}

hvp_status hvp_state_init_backbone(hvp_ctx *ctx, hvp_state *s, const hvp_st_file *f,
                                   int *roots)
{
    /* candidate roots: the prefixes before a file name's first tensor in the state */
    const char *first = NULL;
    for (int i = 0; i < hvp_st_count(f) && !first; i++)
        if (!classifier(hvp_st_at(f, i)->name))
            first = hvp_st_at(f, i)->name;
    if (!first)
        return HVP_FAIL(HVP_ERR_FORMAT, "model.init: %s holds no backbone tensor",
                        hvp_st_name(f));
    size_t fl = strlen(first);
    int best_missing = -1;
    char best[96] = "";
    *roots = 0;
    for (int i = 0; i < s->nparams + s->nbuffers; i++) {
        const char *name = i < s->nparams ? s->params[i].name : s->buffers[i - s->nparams].name;
        size_t nl = strlen(name);
        if (nl < fl || strcmp(name + nl - fl, first) != 0 ||
            (nl > fl && name[nl - fl - 1] != '.'))
            continue;
        char root[96];
        snprintf(root, sizeof root, "%.*s", (int)(nl - fl), name);
        int missing;
        if (!is_root(s, f, root, &missing)) {
            if (best_missing < 0 || missing < best_missing) {
                best_missing = missing;
                snprintf(best, sizeof best, "%s", root);
            }
            continue;
        }
        const char *lack = lacking(s, f, root);
        if (lack)
            return HVP_FAIL(HVP_ERR_FORMAT, "model.init: %s does not fit the model: it has no "
                            "'%s' for the model's '%s%s' (wrong model.arch?)", hvp_st_name(f),
                            lack, root, lack);
        for (int k = 0; k < hvp_st_count(f); k++) {
            const hvp_st_tensor *t = hvp_st_at(f, k);
            int kind;
            const hvp_buffer *b;
            const hvp_tensor *dst = classifier(t->name) ? NULL : find(s, root, t->name, &kind, &b);
            if (dst)
                HVP_TRY(load_into(ctx, f, t, root, dst, b));
        }
        ++*roots;
    }
    if (*roots == 0) {
        int kind;
        const hvp_buffer *b;
        for (int k = 0; best_missing > 0 && k < hvp_st_count(f); k++) {
            const char *x = hvp_st_at(f, k)->name;
            if (!classifier(x) && !find(s, best, x, &kind, &b))
                return HVP_FAIL(HVP_ERR_FORMAT,
                                "model.init: %s does not fit the model: '%s' (and %d more of "
                                "its tensors) has no '%s%s' to go to (wrong model.arch?)",
                                hvp_st_name(f), x, best_missing - 1, best, x);
        }
        return HVP_FAIL(HVP_ERR_FORMAT, "model.init: %s does not fit the model: no backbone "
                        "of the method has a tensor named like its '%s' (wrong model.arch?)",
                        hvp_st_name(f), first);
    }
    return HVP_OK;
}
