/* The ViT backbone: parameter names, order and init as DINO; forward and backward against
 * PyTorch (tools/make_vit_golden.py made tests/data/vit_golden.safetensors once, in
 * double); keep == 0 and eval passes; drop path reproducible per step; size errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/model_io.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif

/* Bitwise equality of two float arrays. */
static int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

HVP_TEST(vit_golden)
{
    if (test_tiny()) {
        test_skip("a whole model; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(HVP_TEST_DATA "/vit_golden.safetensors", &f));
    int B = test_meta_int(f, "B"), C = test_meta_int(f, "C"), img = test_meta_int(f, "img"),
        D = test_meta_int(f, "dim");
    hvp_vit_config cfg = {img, test_meta_int(f, "patch"), C, D, test_meta_int(f, "depth"),
                          test_meta_int(f, "heads"), (float)test_meta_int(f, "mlp_ratio"), 0.0f, 0};
    hvp_state state;
    hvp_state_init(&state, 7);
    hvp_vit vit;
    hvp_status st = hvp_vit_init(&vit, &state, ctx, "", &cfg);
    if (st == HVP_OK)
        st = hvp_state_read(ctx, &state, f, "init.", 0);
    if (st != HVP_OK) {
        TEST_FAIL("setup: %s", hvp_last_error());
        goto done;
    }
    /* The state-dict order of PyTorch's model, name by name. */
    char order[4096];
    snprintf(order, sizeof order, "%s", hvp_st_metadata(f, "order"));
    int i = 0;
    for (char *save = NULL, *name = strtok_r(order, ",", &save); name;
         name = strtok_r(NULL, ",", &save), i++)
        EXPECT(i < state.nparams && strcmp(state.params[i].name, name) == 0,
               "parameter %d: hvp has %s, PyTorch %s", i, i < state.nparams ? state.params[i].name : "-",
               name);
    EXPECT(i == state.nparams, "%d parameters, PyTorch %d", state.nparams, i);

    const hvp_st_tensor *xs = hvp_st_find(f, "x"), *cs = hvp_st_find(f, "cotangent"),
                        *fs = hvp_st_find(f, "features");
    if (!xs || !cs || !fs) {
        TEST_FAIL("golden file lacks x, cotangent or features");
        goto done;
    }
    hvp_tensor x = test_tensor(4, (int[]){B, C, img, img}, xs->data);
    hvp_tensor cot = test_tensor(2, (int[]){B, D}, cs->data);
    size_t nf = (size_t)B * D;

    /* No keep, and eval (drop_path is 0): the same features, bit for bit. */
    hvp_tensor feat;
    hvp_pass nokeep = {ctx, 1, 0, 1, 0}, eval = {ctx, 0, 0, 1, 0};
    REQUIRE_OK(hvp_vit_forward(&vit, &nokeep, &x, &feat));
    float *f_nokeep = test_read(&feat);
    REQUIRE_OK(hvp_vit_forward(&vit, &eval, &x, &feat));
    float *f_eval = test_read(&feat);

    hvp_pass train = {ctx, 1, 1, 1, 1};
    REQUIRE_OK(hvp_vit_forward(&vit, &train, &x, &feat));
    float *got = test_read(&feat);
    EXPECT_CLOSE("vit features", got, test_to_double(fs->data, nf), nf, FWD_TOL);
    EXPECT(same(got, f_nokeep, nf), "features differ between keep = 1 and keep = 0");
    EXPECT(same(got, f_eval, nf), "features differ between train and eval (drop_path 0)");

    REQUIRE_OK(hvp_params_zero_grad(ctx, state.params, state.nparams));
    REQUIRE_OK(hvp_vit_backward(&vit, ctx, &cot));
    for (int p = 0; p < state.nparams; p++) {
        char name[128];
        snprintf(name, sizeof name, "grad.%s", state.params[p].name);
        const hvp_st_tensor *g = hvp_st_find(f, name);
        if (!g) {
            TEST_FAIL("golden file lacks %s", name);
            continue;
        }
        size_t n = hvp_numel(&state.params[p].grad);
        EXPECT_CLOSE(name, test_read(&state.params[p].grad), test_to_double(g->data, n), n,
                     GRAD_TOL);
    }

    /* An image whose side the patches do not tile is refused, naming the patch size (other
     * sides are taken through pos_embed interpolation: the DINO and iBOT golden steps with
     * local crops check them against PyTorch). */
    int odd = img / 2 + 1;
    hvp_tensor small = test_tensor(4, (int[]){B, C, odd, odd}, NULL);
    EXPECT(hvp_vit_forward(&vit, &eval, &small, &feat) == HVP_ERR_ARG,
           "a %d-px image accepted by a ViT of patch %d", odd, cfg.patch);
    char want[64];
    snprintf(want, sizeof want, "multiple of the patch size %d", cfg.patch);
    EXPECT(strstr(hvp_last_error(), want) != NULL, "message: %s", hvp_last_error());
done:
    hvp_vit_free(&vit);
    hvp_state_free(&state);
    hvp_st_close(f);
}

/* Names, shapes, no_decay and DINO's init statistics of a vit_tiny. */
HVP_TEST(vit_init)
{
    if (test_tiny()) {
        test_skip("a whole model; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_vit_config cfg;
    REQUIRE_OK(hvp_vit_preset("vit_tiny", 32, 16, 3, 0.1f, &cfg));
    EXPECT(cfg.dim == 192 && cfg.depth == 12 && cfg.heads == 3 && cfg.mlp_ratio == 4.0f,
           "vit_tiny preset");
    hvp_vit_config bad;
    EXPECT(hvp_vit_preset("huge", 32, 16, 3, 0, &bad) == HVP_ERR_ARG, "unknown preset accepted");
    hvp_state state;
    hvp_state_init(&state, 3);
    hvp_vit vit;
    hvp_status st = hvp_vit_init(&vit, &state, ctx, "encoder", &cfg);
    if (st != HVP_OK) {
        TEST_FAIL("init: %s", hvp_last_error());
        goto done;
    }
    EXPECT(state.nparams == 4 + 12 * 12 + 2, "%d parameters", state.nparams);
    EXPECT(vit.feature_dim == 192 && vit.tokens == 5, "feature_dim %d, tokens %d",
           vit.feature_dim, vit.tokens);
    static const char *const names[] = {"encoder.cls_token", "encoder.pos_embed",
                                        "encoder.patch_embed.proj.weight",
                                        "encoder.patch_embed.proj.bias",
                                        "encoder.blocks.0.norm1.weight"};
    for (int i = 0; i < 5; i++)
        EXPECT(strcmp(state.params[i].name, names[i]) == 0, "parameter %d is %s, expected %s", i,
               state.params[i].name, names[i]);
    EXPECT(strcmp(state.params[state.nparams - 1].name, "encoder.norm.bias") == 0,
           "last parameter %s", state.params[state.nparams - 1].name);
    hvp_param *pos = hvp_state_find_param(&state, "encoder.pos_embed");
    EXPECT(pos && pos->value.ndim == 3 && pos->value.shape[1] == 5 && pos->value.shape[2] == 192,
           "pos_embed shape");
    for (int i = 0; i < state.nparams; i++) {
        const hvp_param *p = &state.params[i];
        size_t n = hvp_numel(&p->value);
        float *v = test_read(&p->value);
        double sum = 0, sq = 0, mx = 0;
        for (size_t j = 0; j < n; j++) {
            sum += v[j];
            sq += (double)v[j] * v[j];
            mx = fmax(mx, fabs(v[j]));
        }
        double mean = sum / (double)n, std = sqrt(sq / (double)n - mean * mean);
        const char *nm = p->name;
        int is_bias = strstr(nm, ".bias") != NULL, is_norm = strstr(nm, "norm") != NULL;
        int embed = strstr(nm, "cls_token") || strstr(nm, "pos_embed");
        int decays = !(is_bias || is_norm || embed);
        EXPECT(p->no_decay == !decays, "%s: no_decay %d", nm, p->no_decay);
        if (strstr(nm, "patch_embed")) {
            double bound = 1.0 / sqrt(3.0 * 16 * 16);
            EXPECT(mx <= bound && mx > 0.9 * bound, "%s: max |w| %g, bound %g", nm, mx, bound);
        } else if (is_norm && !is_bias) {
            EXPECT(mean == 1.0 && std == 0.0, "%s: not all 1", nm);
        } else if (is_bias) {
            EXPECT(mx == 0.0, "%s: not all 0", nm);
        } else { /* Linear weights, cls_token, pos_embed: trunc normal std 0.02 at +-2 std */
            EXPECT(mx <= 0.04 + 1e-7, "%s: max |w| %g beyond 2 std", nm, mx);
            if (n >= 1000)
                EXPECT(fabs(std - 0.0176) < 0.002 && fabs(mean) < 0.002,
                       "%s: mean %g std %g, expected 0 and 0.0176 (truncated 0.02)", nm, mean,
                       std);
        }
    }
done:
    hvp_vit_free(&vit);
    hvp_state_free(&state);
}

/* Drop path: the same step gives the same features (and a backward runs), another step other
 * masks; eval mode drops nothing. */
HVP_TEST(vit_drop_path)
{
    if (test_tiny()) {
        test_skip("a whole model; its kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_vit_config cfg = {16, 4, 1, 12, 3, 2, 2.0f, 0.6f, 0};
    hvp_state state;
    hvp_state_init(&state, 11);
    hvp_vit vit;
    hvp_status st = hvp_vit_init(&vit, &state, ctx, "", &cfg);
    if (st != HVP_OK) {
        TEST_FAIL("init: %s", hvp_last_error());
        goto done;
    }
    int B = 16;
    size_t n = (size_t)B * 16 * 16, nf = (size_t)B * 12;
    float *xh = test_floats(n);
    test_fill_uniform(xh, n, -1, 1);
    hvp_tensor x = test_tensor(4, (int[]){B, 1, 16, 16}, xh), feat;
    hvp_pass eval = {ctx, 0, 0, 1, 0};
    REQUIRE_OK(hvp_vit_forward(&vit, &eval, &x, &feat));
    float *fe = test_read(&feat);
    hvp_pass s3 = {ctx, 1, 1, 1, 1}, s3n = {ctx, 1, 0, 1, 0}, s4 = s3;
    vit.step = 3;
    REQUIRE_OK(hvp_vit_forward(&vit, &s3, &x, &feat));
    float *f3 = test_read(&feat);
    REQUIRE_OK(hvp_vit_backward(&vit, ctx, &feat));
    float *g1 = test_read(&state.params[0].grad);
    REQUIRE_OK(hvp_vit_forward(&vit, &s3n, &x, &feat));
    float *f3n = test_read(&feat);
    vit.step = 4;
    REQUIRE_OK(hvp_vit_forward(&vit, &s4, &x, &feat));
    float *f4 = test_read(&feat);
    vit.step = 3;
    EXPECT(same(f3, f3n, nf), "step 3 with and without keep differ");
    EXPECT(!same(f3, f4, nf), "steps 3 and 4 drew the same masks");
    EXPECT(!same(f3, fe, nf), "train mode with drop_path 0.6 equals eval");
    /* The backward of the same step again accumulates exactly twice the gradient. */
    REQUIRE_OK(hvp_vit_forward(&vit, &s3, &x, &feat));
    REQUIRE_OK(hvp_vit_backward(&vit, ctx, &feat));
    float *g2 = test_read(&state.params[0].grad);
    int twice = 1;
    for (int d = 0; d < 12; d++)
        twice &= g2[d] == 2.0f * g1[d];
    EXPECT(twice, "a repeated step did not give the same gradient");

    /* The gradient with drop path against a directional central difference of
     * sum(features * cot) at step 3, every parameter moved along a random direction v. */
    float *cot = test_floats(nf);
    test_fill_uniform(cot, nf, -1, 1);
    hvp_tensor tcot = test_tensor(2, (int[]){B, 12}, cot);
    REQUIRE_OK(hvp_params_zero_grad(ctx, state.params, state.nparams));
    REQUIRE_OK(hvp_vit_forward(&vit, &s3, &x, &feat));
    REQUIRE_OK(hvp_vit_backward(&vit, ctx, &tcot));
    double analytic = 0, eps = 1e-3, loss[2];
    float **orig = test_alloc((size_t)state.nparams * sizeof *orig),
          **dir = test_alloc((size_t)state.nparams * sizeof *dir);
    for (int i = 0; i < state.nparams; i++) {
        size_t m = hvp_numel(&state.params[i].value);
        float *g = test_read(&state.params[i].grad);
        orig[i] = test_read(&state.params[i].value);
        dir[i] = test_floats(m);
        test_fill_uniform(dir[i], m, -1, 1);
        for (size_t j = 0; j < m; j++)
            analytic += (double)g[j] * dir[i][j];
    }
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < state.nparams; i++) {
            size_t m = hvp_numel(&state.params[i].value);
            float *moved = test_floats(m);
            for (size_t j = 0; j < m; j++)
                moved[j] = (float)(orig[i][j] + (side ? -eps : eps) * dir[i][j]);
            REQUIRE_OK(hvp_tensor_upload(ctx, &state.params[i].value, moved));
        }
        REQUIRE_OK(hvp_vit_forward(&vit, &s3n, &x, &feat));
        float *fv = test_read(&feat);
        loss[side] = 0;
        for (size_t j = 0; j < nf; j++)
            loss[side] += (double)fv[j] * cot[j];
    }
    double numeric = (loss[0] - loss[1]) / (2 * eps);
    EXPECT(fabs(numeric - analytic) <= 0.02 * fabs(analytic) && fabs(analytic) > 1e-3,
           "directional derivative with drop path: backward %g, central difference %g",
           analytic, numeric);
done:
    hvp_vit_free(&vit);
    hvp_state_free(&state);
}

/* model.arch = vit_tiny through the config, for SimSiam and SimCLR: names keep the methods'
 * prefixes, the heads take the ViT's width, a selection pass and a train step give finite
 * losses, and the same step twice gives the same loss bit for bit (drop path per step). */
static void vit_method(const char *method, const char *first, const char *head)
{
    hvp_ctx *ctx = test_ctx();
    hvp_config c;
    hvp_config_defaults(&c);
    char assign[64];
    snprintf(assign, sizeof assign, "method.name=%s", method);
    const char *over[] = {"model.arch=vit_tiny", "model.patch_size=8", "data.image_size=16",
                          "model.drop_path=0.2", "method.proj_dim=32",
                          "method.proj_hidden_dim=64", "method.pred_dim=16", assign};
    for (int i = 0; i < 8; i++)
        REQUIRE_OK(hvp_config_override(&c, over[i]));
    REQUIRE_OK(hvp_config_check(&c));
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_train_make_method(ctx, &c, 1, &m));
    EXPECT(strcmp(m->state.params[0].name, first) == 0, "%s: first parameter %s, expected %s",
           method, m->state.params[0].name, first);
    hvp_param *h = hvp_state_find_param(&m->state, head);
    EXPECT(h && h->value.shape[1] == 192, "%s: %s missing or not 192 wide", method, head);
    EXPECT(m->feature_dim == 192, "%s: feature_dim %d", method, m->feature_dim);
    int B = 4, n = 4 * B * 16 * 16;
    float *xh = test_floats((size_t)n);
    test_fill_uniform(xh, (size_t)n, -1, 1);
    hvp_tensor views = test_tensor(4, (int[]){4 * B, 1, 16, 16}, xh);
    hvp_tensor x12 = hvp_tensor_view(&views, 0, 4, (int[]){2 * B, 1, 16, 16});
    hvp_tensor scores = test_tensor(2, (int[]){2, B}, NULL), loss = test_tensor(1, (int[]){1}, NULL);
    static const int pairs[2][2] = {{0, 1}, {2, 3}};
    float first_loss = 0;
    for (int rep = 0; rep < 2; rep++) {
        REQUIRE_OK(m->ops->score_pairs(m, ctx, &views, 4, 2, pairs, 7, &scores));
        float *sc = test_read(&scores);
        for (int i = 0; i < 2 * B; i++)
            EXPECT(isfinite(sc[i]), "%s: score %d = %g", method, i, sc[i]);
        REQUIRE_OK(hvp_params_zero_grad(ctx, m->state.params, m->state.nparams));
        REQUIRE_OK(m->ops->train_step(m, ctx, &x12, &(hvp_step_input){.step = 7}, &loss));
        float l = test_read(&loss)[0];
        EXPECT(isfinite(l), "%s: loss %g", method, l);
        if (rep == 0)
            first_loss = l;
        else
            EXPECT(l == first_loss, "%s: the same step gave losses %.9g and %.9g", method,
                   first_loss, l);
        hvp_param *pe = hvp_state_find_param(&m->state, first);
        float *g = pe ? test_read(&pe->grad) : NULL;
        double gs = 0;
        for (int i = 0; g && i < 192; i++)
            gs += fabs(g[i]);
        EXPECT(gs > 0, "%s: no gradient reached %s", method, first);
    }
    hvp_tensor f;
    REQUIRE_OK(m->ops->features(m, ctx, &x12, &f));
    EXPECT(f.shape[0] == 2 * B && f.shape[1] == 192, "%s: features shape", method);
    hvp_method_destroy(m);
}

HVP_TEST(vit_simsiam_simclr_step)
{
    if (test_tiny()) {
        test_skip("a whole model; its kernels are checked by the op tests");
        return;
    }
    vit_method("simsiam", "encoder.cls_token", "encoder.fc.0.weight");
    vit_method("simclr", "backbone.cls_token", "projector.0.weight");
}
