/* `hvp views CONFIG [--out FILE] [--images N] [section.key=value ...]`: a grid of the first
 * images of the training set and the views the config cuts from them (JPEG or PPM), and
 * `hvp bench data CONFIG [...]`: images/s decoded and views/s augmented for that config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/augment.h"
#include "hvp/config.h"
#include "hvp/data.h"
#include "hvp/train.h"

/* Splits "--name value" options from the config path and overrides. */
static int parse(int argc, char **argv, const char **out, int *images, int *n, char **rest)
{
    *n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            *out = argv[++i];
        else if (strcmp(argv[i], "--images") == 0) {
            if (!hvp_cli_int("views", "--images", i + 1 < argc ? argv[++i] : NULL, 1, 4096,
                             images))
                return 0;
        } else if (argv[i][0] == '-')
            return 0;
        else
            rest[(*n)++] = argv[i];
    }
    return *n >= 1;
}

/* One batch of `images` from the training set, in dataset order, and the views. */
typedef struct views_run {
    hvp_ctx *ctx;
    hvp_dataset *ds;
    hvp_loader *loader;
    hvp_augment *aug;
    hvp_view_config vc;
    const hvp_image_batch *batch;
} views_run;

static hvp_status views_open(const hvp_config *cfg, int images, views_run *r)
{
    memset(r, 0, sizeof *r);
    HVP_TRY(hvp_train_open_device(cfg, &r->ctx));
    hvp_dataset_opts o = {cfg->data.format, cfg->data.root[0] ? cfg->data.root : HVP_DATA_DEFAULT_ROOT,
                          "train", cfg->data.channels};
    HVP_TRY(hvp_dataset_open(&o, &r->ds));
    hvp_loader_opts lo = {images, cfg->data.workers, 0, 0, 0, (uint64_t)cfg->run.seed, 0, 1,
                          NULL, NULL};
    HVP_TRY(hvp_loader_create(r->ds, &lo, &r->loader));
    HVP_TRY(hvp_loader_start_epoch(r->loader, 0));
    HVP_TRY(hvp_loader_next(r->loader, &r->batch));
    if (!r->batch)
        return HVP_FAIL(HVP_ERR_IO, "the dataset gave no batch");
    HVP_TRY(hvp_train_view_config(cfg, hvp_dataset_channels(r->ds),
                                  cfg->hvp.enabled ? cfg->hvp.views : 2, &r->vc));
    HVP_TRY(hvp_views_validate(&r->vc));
    HVP_TRY(hvp_augment_create(r->ctx, &r->vc, &r->aug));
    hvp_augment_set_blur_mode(r->aug, hvp_views_blur_mode(&r->vc)); /* the training's path */
    return HVP_OK;
}

static void views_close(views_run *r)
{
    hvp_augment_destroy(r->aug);
    hvp_loader_destroy(r->loader);
    hvp_dataset_close(r->ds);
    hvp_ctx_destroy(r->ctx);
}

hvp_status hvp_cli_views_grid(const hvp_config *cfg, const char *out, int images,
                              int *views_per_image)
{
    views_run r;
    hvp_tensor global, local;
    hvp_status st = views_open(cfg, images, &r);
    if (st == HVP_OK)
        st = hvp_augment_batch(r.aug, r.batch, (uint64_t)cfg->run.seed, 0, &global, &local);
    if (st == HVP_OK)
        st = hvp_views_write_grid(r.ctx, out, r.batch, &r.vc, &global, &local, 96);
    if (views_per_image)
        *views_per_image = r.vc.n_global + r.vc.n_local;
    views_close(&r);
    return st;
}

int hvp_cmd_views(int argc, char **argv)
{
    const char *out = "views.jpg";
    int images = 8, n;
    char *rest[64];
    hvp_config cfg;
    if (argc > 64 || !parse(argc, argv, &out, &images, &n, rest)) {
        fprintf(stderr, "usage: hvp views CONFIG [--out FILE.jpg|.ppm] [--images N] "
                        "[section.key=value ...]\n");
        return 2;
    }
    if (!hvp_cli_load_config(n, rest, &cfg))
        return 2;
    int per_image = 0;
    if (hvp_cli_views_grid(&cfg, out, images, &per_image) != HVP_OK)
        return hvp_cli_error("views");
    printf("wrote %s: %d images (rows), the original then %d views each\n", out, images,
           per_image);
    return 0;
}

int hvp_cmd_bench_data(int argc, char **argv)
{
    const char *out = NULL;
    int images = 0, n;
    char *rest[64];
    hvp_config cfg;
    if (argc > 64 || !parse(argc, argv, &out, &images, &n, rest)) {
        fprintf(stderr, "usage: hvp bench data CONFIG [--images BATCH] [section.key=value ...]\n");
        return 2;
    }
    if (!hvp_cli_load_config(n, rest, &cfg))
        return 2;
    int batch = images > 0 ? images : cfg.data.batch_size;
    views_run r;
    hvp_decode_bench dec;
    double views_per_s = 0;
    hvp_status st = views_open(&cfg, batch, &r);
    if (st == HVP_OK)
        st = hvp_data_bench_decode(r.ds, cfg.data.workers, batch, 20LL * batch, &dec);
    if (st == HVP_OK)
        st = hvp_augment_bench(r.aug, r.batch, 5, &views_per_s);
    if (st == HVP_OK) {
        printf("data: %s, batch %d, %d workers\n", hvp_dataset_root(r.ds), batch,
               cfg.data.workers);
        printf("decode: %.0f images/s\n", dec.images_per_second);
        printf("augment: %.0f views/s (%d views of %d px per image) = %.0f images/s\n",
               views_per_s, r.vc.n_global, r.vc.slot[0].size, views_per_s / r.vc.n_global);
    }
    views_close(&r);
    return st == HVP_OK ? 0 : hvp_cli_error("bench data");
}
