/* Features of a folder of images from a trained checkpoint, written as safetensors.
 *
 *   examples/extract_features RUN_DIR IMAGE_FOLDER OUT.safetensors
 *
 * RUN_DIR is a training run (its config.ini and latest checkpoint). Images are read as an
 * unlabeled folder (or an ImageFolder), preprocessed as `hvp knn` does (centre crop and
 * resize to the run's image size), and passed through the backbone in eval mode. Uses only the public API in include/hvp/. */
#include <stdio.h>
#include <stdlib.h>

#include "hvp/checkpoint.h"
#include "hvp/hvp.h"
#include "hvp/model_io.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

static int fail(const char *what)
{
    fprintf(stderr, "extract_features: %s: %s\n", what, hvp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s RUN_DIR IMAGE_FOLDER OUT.safetensors\n", argv[0]);
        return 2;
    }
    char path[2048], ckpt[1024];
    int64_t step;
    hvp_config cfg;
    snprintf(path, sizeof path, "%s/config.ini", argv[1]);
    if (hvp_config_load(path, &cfg) != HVP_OK)
        return fail("config");
    if (hvp_ckpt_find_latest(argv[1], ckpt, sizeof ckpt, &step) != HVP_OK)
        return fail("checkpoint");

    hvp_ctx *ctx;
    if (hvp_train_open_device(&cfg, &ctx) != HVP_OK)
        return fail("device");
    hvp_dataset_opts o = {HVP_DATA_AUTO, argv[2], NULL, cfg.data.channels};
    hvp_dataset *ds;
    if (hvp_dataset_open(&o, &ds) != HVP_OK)
        return fail("images");
    hvp_method *m;
    if (hvp_train_make_method(ctx, &cfg, hvp_dataset_channels(ds), &m) != HVP_OK)
        return fail("model");
    hvp_st_file *weights;
    snprintf(path, sizeof path, "%s/" HVP_CKPT_WEIGHTS, ckpt);
    if (hvp_st_open(path, &weights) != HVP_OK ||
        hvp_state_read(ctx, &m->state, weights, NULL, 1) != HVP_OK)
        return fail("weights");
    hvp_st_close(weights);

    /* One view per image, preprocessed as hvp knn does (hvp_eval_view_params). */
    hvp_view_config vc;
    if (hvp_train_view_config(&cfg, hvp_dataset_channels(ds), 1, &vc) != HVP_OK)
        return fail("views");
    hvp_augment *aug;
    hvp_loader *loader;
    hvp_loader_opts lo = {64, 2, 0, 0, 0, 0, 0, 1, NULL, NULL};
    if (hvp_augment_create(ctx, &vc, &aug) != HVP_OK ||
        hvp_loader_create(ds, &lo, &loader) != HVP_OK || hvp_loader_start_epoch(loader, 0))
        return fail("pipeline");
    long n = (long)hvp_dataset_size(ds), done = 0;
    float *features = malloc((size_t)n * m->feature_dim * sizeof *features);
    hvp_view_params *params = malloc(64 * sizeof *params);
    const hvp_image_batch *b;
    while (features && params && hvp_loader_next(loader, &b) == HVP_OK && b) {
        for (int i = 0; i < b->count; i++)
            hvp_eval_view_params(b->heights[i], b->widths[i], vc.slot[0].size, &params[i]);
        hvp_arena_reset(ctx->acts);
        hvp_tensor views, none, f;
        if (hvp_augment_apply(aug, b, params, &views, &none) != HVP_OK)
            return fail("views");
        hvp_tensor x = hvp_tensor_view(&views, 0, 4, views.shape + 1); /* [count, C, S, S] */
        if (m->ops->features(m, ctx, &x, &f) != HVP_OK ||
            hvp_tensor_download(ctx, &f, features + done * m->feature_dim) != HVP_OK)
            return fail("features");
        done += b->count;
    }
    hvp_st_writer *w;
    if (!features || hvp_st_writer_new(&w) != HVP_OK ||
        hvp_st_add_f32(w, "features", 2, (int[]){(int)done, m->feature_dim}, features) != HVP_OK ||
        hvp_st_save(w, argv[3]) != HVP_OK)
        return fail("writing");
    printf("%s: %ld images x %d features from %s\n", argv[3], done, m->feature_dim, ckpt);
    hvp_st_writer_free(w);
    free(features);
    free(params);
    hvp_loader_destroy(loader);
    hvp_augment_destroy(aug);
    hvp_method_destroy(m);
    hvp_dataset_close(ds);
    hvp_ctx_destroy(ctx);
    return 0;
}
