/* `hvp bench train CONFIG [--steps N] [section.key=value ...]`: images/s of the method's
 * training steps (forward, loss, backward, clipping by the method's policy when
 * optim.clip_grad > 0, the config's optimizer, the method's after_step such as an EMA
 * teacher) on fixed random views of the config's shape, with no data loading and no view
 * selection: the number to hold against the same steps in PyTorch
 * (bench/simsiam_vs_pytorch.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "hvp/hvp.h"
#include "hvp/optim.h"
#include "hvp/rng.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int hvp_cmd_bench_train(int argc, char **argv)
{
    int steps = 5, n = 0;
    char *rest[64];
    for (int i = 1; i < argc && n < 63; i++) {
        if (strcmp(argv[i], "--steps") == 0) {
            if (!hvp_cli_int("bench train", "--steps", i + 1 < argc ? argv[++i] : NULL, 1,
                             1000000, &steps))
                return 2;
        } else
            rest[n++] = argv[i];
    }
    hvp_config cfg;
    if (n < 1 || steps < 1) {
        fprintf(stderr, "usage: hvp bench train CONFIG [--steps N] [section.key=value ...]\n");
        return 2;
    }
    if (!hvp_cli_load_config(n, rest, &cfg))
        return 2;
    int b = cfg.data.batch_size, s = cfg.data.image_size;
    int c = cfg.data.channels > 0 ? cfg.data.channels : 3;
    hvp_ctx *ctx = NULL;
    hvp_method *m = NULL;
    hvp_optim *opt = NULL;
    hvp_status st = hvp_train_open_device(&cfg, &ctx);
    if (st == HVP_OK)
        st = hvp_build_all_programs(ctx);
    if (st == HVP_OK)
        st = hvp_train_make_method(ctx, &cfg, c, &m);
    hvp_optim_config oc = hvp_optim_defaults(cfg.optim.name);
    oc.momentum = (float)cfg.optim.momentum;
    oc.lars_eta = (float)cfg.optim.lars_eta;
    oc.lars_clip_lr = cfg.optim.lars_clip_lr;
    oc.lars_exclude_bias_n_norm = cfg.optim.lars_exclude_bias_bn;
    oc.decay_all = m ? m->policy.decay_all : 0;
    if (st == HVP_OK)
        st = hvp_optim_create(ctx, &oc, m->state.params, m->state.nparams, &opt);
    hvp_tensor x12, loss;
    size_t count = (size_t)2 * b * c * s * s;
    float *host = malloc(count * sizeof *host);
    if (st == HVP_OK && !host)
        st = HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    /* Views live outside the per-step arena, uploaded once. */
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->params, "bench views", &x12, 4, (int[]){2 * b, c, s, s});
    if (st == HVP_OK)
        st = hvp_alloc_f32(ctx->params, "bench loss", &loss, 1, (int[]){1});
    if (st == HVP_OK) {
        hvp_rng_stream r = hvp_rng_stream_init((uint64_t)cfg.run.seed, 7, 0, 0);
        for (size_t i = 0; i < count; i++)
            host[i] = (float)hvp_rng_uniform(&r, -1.0, 1.0);
        st = hvp_tensor_upload(ctx, &x12, host);
    }
    for (int g = 0; st == HVP_OK && g < HVP_OPTIM_MAX_GROUPS; g++) {
        opt->groups[g].lr = (float)cfg.optim.lr;
        opt->groups[g].weight_decay = (float)cfg.optim.weight_decay;
    }
    double t0 = 0;
    const hvp_step_input in = {.step = 0}; /* the global views only */
    for (int i = 0; st == HVP_OK && i < steps + 2; i++) {
        if (i == 2) /* two warm-up steps: kernel builds, first allocations */
            t0 = now();
        hvp_arena_reset(ctx->acts);
        st = hvp_params_zero_grad(ctx, m->state.params, m->state.nparams);
        if (st == HVP_OK)
            st = m->ops->train_step(m, ctx, &x12, &in, &loss);
        if (st == HVP_OK && cfg.optim.clip_grad > 0)
            st = m->policy.clip_per_param
                     ? hvp_optim_clip_grad_per_param(ctx, opt, (float)cfg.optim.clip_grad, NULL)
                     : hvp_optim_clip_grad_norm(ctx, opt, (float)cfg.optim.clip_grad, NULL);
        if (st == HVP_OK)
            st = hvp_optim_step(ctx, opt);
        if (st == HVP_OK && m->ops->after_step)
            st = m->ops->after_step(m, ctx, (long)i);
        if (st == HVP_OK)
            st = hvp_ctx_finish(ctx);
    }
    int rc = 0;
    if (st == HVP_OK) {
        double sec = now() - t0;
        printf("hvp: %d %s steps of %d images (2 views of %dx%dx%d), %.3f s/step, "
               "%.1f images/s on %s\n", steps, m->ops->title, b, c, s, s, sec / steps,
               steps * b / sec,
               ctx->info.device_name);
        /* The arenas only grow during a run, so what they hold now is the peak. */
        printf("hvp: peak device memory %.1f MiB (the arenas' buffers; in use at most: "
               "parameters and optimizer %.1f MiB, activations %.1f MiB)\n",
               (double)ctx->memory_held / 1048576.0,
               (double)hvp_arena_peak(ctx->params) / 1048576.0,
               (double)hvp_arena_peak(ctx->acts) / 1048576.0);
    } else {
        rc = hvp_cli_error("bench train");
    }
    free(host);
    hvp_optim_destroy(opt);
    hvp_method_destroy(m);
    hvp_ctx_destroy(ctx);
    return rc;
}
