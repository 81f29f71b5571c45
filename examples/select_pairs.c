/* Hard view selection on one batch: which pair of views each image keeps, and its loss.
 *
 *   examples/select_pairs CONFIG.ini [section.key=value ...]
 *
 * Builds the config's model at initialisation (load a checkpoint with hvp_state_read, as
 * examples/extract_features.c does, to look at a trained one), cuts hvp.views views of the
 * first 8 images of the training set, scores every pair with the method's own loss, and
 * prints each image's winning pair and all pair losses. */
#include <stdio.h>
#include <stdlib.h>

#include "hvp/hvp.h"
#include "hvp/select.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

static int fail(const char *what)
{
    fprintf(stderr, "select_pairs: %s: %s\n", what, hvp_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CONFIG.ini [section.key=value ...]\n", argv[0]);
        return 2;
    }
    hvp_config cfg;
    if (hvp_config_load(argv[1], &cfg) != HVP_OK)
        return fail("config");
    for (int i = 2; i < argc; i++)
        if (hvp_config_override(&cfg, argv[i]) != HVP_OK)
            return fail("override");
    int images = 8, nviews = cfg.hvp.views;

    hvp_ctx *ctx;
    hvp_dataset *ds;
    hvp_method *m;
    hvp_loader *loader;
    hvp_augment *aug;
    hvp_selector *sel;
    hvp_view_config vc;
    hvp_loader_opts lo = {images, 1, 0, 0, 0, 0, 0, 1, NULL, NULL};
    hvp_select_config sc = {.views = nviews, .select_every = 1, .seed = (uint64_t)cfg.run.seed,
                            .score_fraction = 1};
    if (hvp_train_open_device(&cfg, &ctx) != HVP_OK ||
        hvp_train_open_dataset(&cfg, "train", 0, &ds) != HVP_OK ||
        hvp_train_make_method(ctx, &cfg, hvp_dataset_channels(ds), &m) != HVP_OK ||
        hvp_loader_create(ds, &lo, &loader) != HVP_OK ||
        hvp_loader_start_epoch(loader, 0) != HVP_OK)
        return fail("setup");
    sc.asymmetric = m->policy.asymmetric_globals; /* DINO, iBOT: (even, odd) pairs only */
    if (hvp_selector_create(&sc, &sel) != HVP_OK)
        return fail("setup");
    if (hvp_train_view_config(&cfg, hvp_dataset_channels(ds), nviews, &vc) != HVP_OK ||
        hvp_augment_create(ctx, &vc, &aug) != HVP_OK)
        return fail("views");

    const hvp_image_batch *b;
    hvp_tensor global, local, x12;
    if (hvp_loader_next(loader, &b) != HVP_OK || !b ||
        hvp_augment_batch(aug, b, (uint64_t)cfg.run.seed, 0, &global, &local) != HVP_OK)
        return fail("batch");
    hvp_tensor views = global; /* [V, B, C, S, S] -> [V*B, C, S, S] */
    views.ndim = 4;
    views.shape[0] = global.shape[0] * global.shape[1];
    for (int d = 1; d < 4; d++)
        views.shape[d] = global.shape[d + 1];
    if (hvp_select(sel, ctx, m, &views, NULL, 0, &x12) != HVP_OK || hvp_ctx_finish(ctx) != HVP_OK)
        return fail("selection");
    hvp_selector_collect(sel);

    printf("image  pair    loss    (all pairs: %d views, %d pairs)\n", nviews, sel->npairs);
    for (int i = 0; i < b->count; i++) {
        int k = sel->chosen_host[i];
        printf("%5lld  (%d,%d)  %7.4f  [", (long long)b->indices[i], sel->pairs[k][0],
               sel->pairs[k][1], sel->scores_host[(size_t)k * b->count + i]);
        for (int p = 0; p < sel->npairs; p++)
            printf("%s%.4f", p ? " " : "", sel->scores_host[(size_t)p * b->count + i]);
        printf("]\n");
    }
    hvp_selector_destroy(sel);
    hvp_augment_destroy(aug);
    hvp_loader_destroy(loader);
    hvp_method_destroy(m);
    hvp_dataset_close(ds);
    hvp_ctx_destroy(ctx);
    return 0;
}
