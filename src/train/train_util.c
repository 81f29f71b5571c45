/* Config -> datasets and view settings. */
#include <string.h>

#include "hvp/ssl.h"
#include "hvp/train.h"

hvp_status hvp_train_open_device(const hvp_config *cfg, hvp_ctx **out)
{
    HVP_TRY(hvp_ctx_create(cfg->device.select, out));
    hvp_status s = hvp_ctx_set_memory_limit(*out, (size_t)cfg->device.memory_limit_mb << 20);
    if (s != HVP_OK) {
        hvp_ctx_destroy(*out);
        *out = NULL;
        return HVP_FAIL(s, "device.memory_limit_mb = %d: %s", cfg->device.memory_limit_mb,
                        hvp_last_error());
    }
    return HVP_OK;
}

hvp_status hvp_train_open_dataset(const hvp_config *cfg, const char *split, int is_test,
                                  hvp_dataset **out)
{
    hvp_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.format = cfg->data.format;
    o.root = is_test && cfg->eval.test_root[0] ? cfg->eval.test_root : cfg->data.root;
    if (!o.root[0] && (o.format == HVP_DATA_AUTO || o.format == HVP_DATA_IDX))
        o.root = HVP_DATA_DEFAULT_ROOT;
    o.split = split;
    o.channels = cfg->data.channels;
    return hvp_dataset_open(&o, out);
}

static double item(const hvp_cfg_floats *f, int i, double fallback)
{
    return i < f->n ? f->v[i] : fallback;
}

hvp_status hvp_train_view_config(const hvp_config *cfg, int channels, int nviews,
                                 hvp_view_config *vc)
{
    if (nviews < 1 || nviews > HVP_MAX_VIEWS)
        return HVP_FAIL(HVP_ERR_ARG, "%d views per image: 1 to %d", nviews, HVP_MAX_VIEWS);
    hvp_views_preset_simsiam(vc, nviews, cfg->data.image_size);
    vc->out_channels = channels;
    for (int v = 0; v < nviews; v++) {
        hvp_view_slot *s = &vc->slot[v];
        s->scale_min = item(&cfg->data.crop_scale, 0, s->scale_min);
        s->scale_max = item(&cfg->data.crop_scale, 1, s->scale_max);
        s->flip_p = cfg->data.hflip_prob;
        s->jitter_p = cfg->data.jitter_prob;
        s->brightness = item(&cfg->data.color_jitter, 0, s->brightness);
        s->contrast = item(&cfg->data.color_jitter, 1, s->contrast);
        s->saturation = item(&cfg->data.color_jitter, 2, s->saturation);
        s->hue = item(&cfg->data.color_jitter, 3, s->hue);
        s->gray_p = cfg->data.grayscale_prob;
        s->blur_p = cfg->data.blur_prob;
        s->sigma_min = item(&cfg->data.blur_sigma, 0, s->sigma_min);
        s->sigma_max = item(&cfg->data.blur_sigma, 1, s->sigma_max);
        s->solarize_p = cfg->data.solarize_prob;
        for (int c = 0; c < 3; c++) {
            s->mean[c] = (float)item(&cfg->data.mean, c < cfg->data.mean.n ? c : 0, s->mean[c]);
            s->std[c] = (float)item(&cfg->data.std, c < cfg->data.std.n ? c : 0, s->std[c]);
        }
    }
    return HVP_OK;
}

hvp_status hvp_train_backbone_config(const hvp_config *c, int channels,
                                     hvp_backbone_config *out)
{
    memset(out, 0, sizeof *out);
    if (c->model.arch >= HVP_ARCH_VIT_TINY && c->model.arch <= HVP_ARCH_VIT_BASE) {
        static const char *const preset[] = {"tiny", "small", "base"};
        out->kind = HVP_BACKBONE_VIT;
        if (c->data.image_size % c->model.patch_size != 0)
            return HVP_FAIL(HVP_ERR_ARG,
                            "data.image_size = %d is not a multiple of model.patch_size = %d "
                            "(ViT patches must tile the image)",
                            c->data.image_size, c->model.patch_size);
        return hvp_vit_preset(preset[c->model.arch - HVP_ARCH_VIT_TINY], c->data.image_size,
                              c->model.patch_size, channels, (float)c->model.drop_path,
                              &out->vit);
    }
    static const int depth[] = {18, 34, 50};
    out->kind = HVP_BACKBONE_RESNET;
    out->resnet.depth = depth[c->model.arch];
    out->resnet.in_channels = channels;
    out->resnet.cifar_stem = c->model.cifar_stem;
    out->resnet.width = (float)c->model.width;
    out->resnet.zero_init_residual = c->model.zero_init_residual;
    return HVP_OK;
}

hvp_status hvp_train_make_method(hvp_ctx *ctx, const hvp_config *c, int channels,
                                 hvp_method **out)
{
    hvp_backbone_config backbone;
    HVP_TRY(hvp_train_backbone_config(c, channels, &backbone));
    if (c->method.name == HVP_METHOD_IBOT) {
        if (backbone.kind != HVP_BACKBONE_VIT)
            return HVP_FAIL(HVP_ERR_ARG, "method.name = ibot needs a ViT (model.arch = vit_tiny, "
                            "vit_small or vit_base): masked image modelling works on patch "
                            "tokens");
        hvp_ibot_config ic;
        memset(&ic, 0, sizeof ic);
        ic.backbone = backbone;
        ic.out_dim = c->method.out_dim;
        ic.patch_out_dim = c->method.patch_out_dim;
        ic.hidden_dim = c->method.proj_hidden_dim;
        ic.bottleneck_dim = c->method.bottleneck_dim;
        ic.norm_last_layer = c->method.norm_last_layer;
        ic.teacher_temp = (float)c->method.teacher_temp;
        ic.warmup_teacher_temp = (float)c->method.warmup_teacher_temp;
        ic.warmup_teacher_temp_epochs = c->method.warmup_teacher_temp_epochs;
        /* no separate keys: the patch temperatures follow the class ones (the official
         * ViT-S/16 recipe has 0.04 -> 0.07 for both) */
        ic.teacher_patch_temp = ic.teacher_temp;
        ic.warmup_teacher_patch_temp = ic.warmup_teacher_temp;
        ic.student_temp = (float)c->method.student_temp;
        ic.teacher_momentum = (float)c->method.teacher_momentum;
        ic.center_momentum = (float)c->method.center_momentum;
        ic.lambda1 = 1.0f;
        ic.lambda2 = 1.0f;
        ic.mask_prob = (float)c->method.mask_prob;
        ic.mask_ratio_min = (float)c->method.mask_ratio.v[0];
        ic.mask_ratio_max = (float)c->method.mask_ratio.v[1];
        ic.mask_random = 0; /* blockwise, as the official pred_shape 'block' */
        ic.seed = (uint64_t)c->run.seed;
        return hvp_ibot_create(ctx, &ic, out);
    }
    if (c->method.name == HVP_METHOD_DINO) {
        hvp_dino_config dc;
        memset(&dc, 0, sizeof dc);
        dc.backbone = backbone;
        dc.out_dim = c->method.out_dim;
        dc.hidden_dim = c->method.proj_hidden_dim;
        dc.bottleneck_dim = c->method.bottleneck_dim;
        dc.norm_last_layer = c->method.norm_last_layer;
        dc.teacher_temp = (float)c->method.teacher_temp;
        dc.warmup_teacher_temp = (float)c->method.warmup_teacher_temp;
        dc.warmup_teacher_temp_epochs = c->method.warmup_teacher_temp_epochs;
        dc.student_temp = (float)c->method.student_temp;
        dc.teacher_momentum = (float)c->method.teacher_momentum;
        dc.center_momentum = (float)c->method.center_momentum;
        dc.seed = (uint64_t)c->run.seed;
        return hvp_dino_create(ctx, &dc, out);
    }
    if (c->method.name == HVP_METHOD_SIMCLR) {
        hvp_simclr_config sc = {backbone, c->method.proj_dim, c->method.proj_hidden_dim,
                                (float)c->method.temperature, (uint64_t)c->run.seed};
        return hvp_simclr_create(ctx, &sc, out);
    }
    hvp_simsiam_config sc = {backbone, c->method.proj_dim, c->method.proj_hidden_dim,
                             c->method.pred_dim, (uint64_t)c->run.seed};
    return hvp_simsiam_create(ctx, &sc, out);
}
