/* Config -> datasets and view settings. */
#include <string.h>

#include "hvp/dist.h"
#include "hvp/model_io.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

hvp_status hvp_train_open_device(const hvp_config *cfg, hvp_ctx **out)
{
    /* data-parallel ranks on one machine take distinct devices (or share them) */
    hvp_device_info dev;
    HVP_TRY(hvp_find_device_for(cfg->device.select, hvp_dist_local_rank(),
                                hvp_dist_local_world(), cfg->device.share, &dev));
    HVP_TRY(hvp_ctx_create_on(&dev, out));
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

hvp_status hvp_train_open_eval_dataset(const hvp_config *cfg, int is_test, hvp_dataset **out)
{
    if (!cfg->eval.train_root[0])
        return hvp_train_open_dataset(cfg, is_test ? "test" : "train", is_test, out);
    /* another dataset than the pretraining one: its layout is guessed from its files */
    hvp_dataset_opts o;
    memset(&o, 0, sizeof o);
    o.format = HVP_DATA_AUTO;
    o.root = is_test && cfg->eval.test_root[0] ? cfg->eval.test_root : cfg->eval.train_root;
    o.split = is_test ? "test" : "train";
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
    hvp_views_preset_default(vc, nviews, cfg->data.image_size);
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
        if (v % 2 == 1 && cfg->data.odd_blur_prob >= 0) /* DINO's second kind of view */
            s->blur_p = cfg->data.odd_blur_prob;
        if (v % 2 == 1 && cfg->data.odd_solarize_prob >= 0)
            s->solarize_p = cfg->data.odd_solarize_prob;
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
    return hvp_backbone_from_config(c, channels, out);
}

hvp_status hvp_train_make_method(hvp_ctx *ctx, const hvp_config *c, int channels,
                                 hvp_method **out)
{
    hvp_backbone_config backbone;
    HVP_TRY(hvp_train_backbone_config(c, channels, &backbone));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    HVP_TRY(hvp_method_from_config(ctx, c, &backbone, out));
    if (!c->model.init[0])
        return HVP_OK;
    hvp_st_file *f = NULL;
    int roots = 0;
    hvp_status st = hvp_st_open(c->model.init, &f);
    if (st == HVP_OK)
        st = hvp_state_init_backbone(ctx, &(*out)->state, f, &roots);
    hvp_st_close(f);
    if (st != HVP_OK) { /* a refused file keeps no device memory */
        hvp_method_destroy(*out);
        *out = NULL;
        hvp_arena_release_to(ctx->params, mark);
    }
    return st;
}

hvp_status hvp_train_write_state(hvp_ctx *ctx, const hvp_optim *opt, long step, long epoch,
                                 const hvp_config *cfg, const char *path)
{
    hvp_st_writer *w = NULL;
    hvp_status st = hvp_st_writer_new(&w);
    if (st == HVP_OK)
        st = hvp_optim_write(ctx, opt, w);
    char num[64];
    snprintf(num, sizeof num, "%ld", step);
    if (st == HVP_OK)
        st = hvp_st_set_metadata(w, "step", num);
    snprintf(num, sizeof num, "%ld", epoch);
    if (st == HVP_OK)
        st = hvp_st_set_metadata(w, "epoch", num);
    char *text = st == HVP_OK ? hvp_config_to_string(cfg) : NULL;
    if (st == HVP_OK && text)
        st = hvp_st_set_metadata(w, "config", text);
    free(text);
    if (st == HVP_OK)
        st = hvp_st_save(w, path);
    hvp_st_writer_free(w);
    return st;
}
