/* The backbone interface: the registry resolves every model.arch of HVP_ARCHS to a complete
 * family and refuses other names; what a family lacks is refused by name; and a method
 * works on a family it has never heard of, asking the interface for the token grid and the
 * feature width (iBOT on a ViT whose ops count the calls, bit for bit the plain ViT's). */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "hvp/config.h"
#include "hvp/registry.h"
#include "hvp/ssl.h"

HVP_TEST(backbone_registry)
{
#define ARCH_NAME(name, family, variant) #name,
    static const char *const names[] = {HVP_ARCHS(ARCH_NAME)};
#undef ARCH_NAME
    int n = (int)(sizeof names / sizeof names[0]);
    for (int i = 0; i < n; i++) {
        const hvp_backbone_arch *a = NULL;
        REQUIRE_OK(hvp_backbone_arch_find(names[i], &a));
        EXPECT(a && strcmp(a->name, names[i]) == 0 && a == hvp_backbone_arch_at(i),
               "%s: found %s, line %d holds %s", names[i], a ? a->name : "nothing", i,
               hvp_backbone_arch_at(i) ? hvp_backbone_arch_at(i)->name : "nothing");
        const hvp_backbone_ops *o = a->ops;
        EXPECT(o && o->name && o->weight_names && o->from_config && o->describe && o->init &&
                   o->free && o->feature_dim && o->forward && o->backward,
               "%s: its family lacks a required entry", names[i]);
        EXPECT(!o->forward_tokens == !o->backward_tokens && !o->forward_tokens == !o->token_grid &&
                   !o->forward_tokens == !o->set_masked_tokens,
               "%s: tokens half provided", names[i]);
        /* the config's model.arch builds that family's config */
        hvp_config c;
        hvp_config_defaults(&c);
        char over[64];
        snprintf(over, sizeof over, "model.arch=%s", names[i]);
        REQUIRE_OK(hvp_config_override(&c, over));
        EXPECT(c.model.arch == i, "%s: the config stores line %d", names[i], c.model.arch);
        hvp_backbone_config bc;
        REQUIRE_OK(hvp_backbone_from_config(&c, 3, &bc));
        char what[128] = "";
        hvp_backbone_describe(&bc, what, sizeof what);
        EXPECT(bc.ops == o && strncmp(what, o->name, strlen(o->name)) == 0,
               "%s: described as '%s' (family %s)", names[i], what, o->name);
    }
    EXPECT(!hvp_backbone_arch_at(-1) && !hvp_backbone_arch_at(n), "lines beyond HVP_ARCHS");
    const hvp_backbone_arch *a = NULL;
    EXPECT(hvp_backbone_arch_find("resnet15", &a) == HVP_ERR_ARG && !a, "resnet15 accepted");
    const char *msg = hvp_last_error();
    EXPECT(strstr(msg, "'resnet15'") && strstr(msg, "resnet18|") && strstr(msg, "|vit_base"),
           "the refusal names neither the name nor the known ones: %s", msg);
}

/* A ResNet has no tokens and one block's features: each refused, naming the family. */
HVP_TEST(backbone_refuses_what_a_family_lacks)
{
    hvp_ctx *ctx = test_ctx();
    hvp_backbone_config bc =
        hvp_resnet_backbone_config(&(hvp_resnet_config){18, 3, 1, 0.125f, 0});
    EXPECT(hvp_backbone_config_set_masked_tokens(&bc, 1) == HVP_ERR_ARG &&
               strstr(hvp_last_error(), "ResNet"),
           "masked tokens of a ResNet: %s", hvp_last_error());
    hvp_backbone_config_set_drop_path(&bc, 0); /* nothing to set */
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_state s;
    hvp_state_init(&s, 1);
    hvp_backbone bb;
    hvp_status st = hvp_backbone_init(&bb, &s, ctx, "", &bc);
    if (st == HVP_OK) {
        hvp_tensor x = test_tensor(4, (int[]){2, 3, 8, 8}, NULL), f;
        hvp_pass p = {ctx, 0, 0, 1, 0};
        EXPECT(hvp_backbone_feature_dim(&bb) == 64, "feature dim %d",
               hvp_backbone_feature_dim(&bb));
        EXPECT(hvp_backbone_token_grid(&bb, 8) == 0, "a ResNet's token grid");
        EXPECT(hvp_backbone_eval_features(&bb, &p, &x, 2, &f) == HVP_ERR_ARG &&
                   strstr(hvp_last_error(), "eval.last_blocks = 2") &&
                   strstr(hvp_last_error(), "ResNet"),
               "two blocks' features of a ResNet: %s", hvp_last_error());
        EXPECT(hvp_backbone_forward_tokens(&bb, &p, &x, NULL, &f) == HVP_ERR_ARG,
               "a ResNet's tokens");
    } else {
        TEST_FAIL("init: %s", hvp_last_error());
    }
    hvp_backbone_free(&bb);
    hvp_state_free(&s);
    hvp_arena_rewind(ctx->params, mark);
    hvp_backbone_config none;
    memset(&none, 0, sizeof none);
    EXPECT(hvp_backbone_init(&bb, &s, ctx, "encoder", &none) == HVP_ERR_ARG &&
               strstr(hvp_last_error(), "encoder"),
           "a config without a family: %s", hvp_last_error());
}

/* The ViT's ops, counting what a method asks of them. */
static struct {
    int grid, dim, tokens, tokens_back, step, drop_path, masked;
} calls;
static hvp_backbone_ops counted;

static int counted_grid(const void *impl, int side)
{
    calls.grid++;
    return hvp_vit_backbone_ops.token_grid(impl, side);
}
static int counted_dim(const void *impl)
{
    calls.dim++;
    return hvp_vit_backbone_ops.feature_dim(impl);
}
static hvp_status counted_tokens(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                 const hvp_tensor *mask, hvp_tensor *tokens)
{
    calls.tokens++;
    return hvp_vit_backbone_ops.forward_tokens(impl, p, x, mask, tokens);
}
static hvp_status counted_tokens_back(void *impl, hvp_ctx *ctx, const hvp_tensor *dtokens)
{
    calls.tokens_back++;
    return hvp_vit_backbone_ops.backward_tokens(impl, ctx, dtokens);
}
static void counted_step(void *impl, uint32_t step)
{
    calls.step++;
    hvp_vit_backbone_ops.set_step(impl, step);
}
static void counted_drop_path(hvp_backbone_config *cfg, float rate)
{
    calls.drop_path++;
    hvp_vit_backbone_ops.set_drop_path(cfg, rate);
}
static void counted_masked(hvp_backbone_config *cfg, int on)
{
    calls.masked++;
    hvp_vit_backbone_ops.set_masked_tokens(cfg, on);
}

/* iBOT's pair scores and loss of one step (drawn masks, drop path on) on c's backbone. */
static void ibot_step(const hvp_backbone_config *bc, float *scores, float *loss)
{
    hvp_ctx *ctx = test_ctx();
    hvp_ibot_config c;
    memset(&c, 0, sizeof c);
    c.backbone = *bc;
    c.out_dim = c.patch_out_dim = 24;
    c.hidden_dim = 12;
    c.bottleneck_dim = 6;
    c.norm_last_layer = 1;
    c.teacher_temp = c.warmup_teacher_temp = 0.07f;
    c.teacher_patch_temp = c.warmup_teacher_patch_temp = 0.08f;
    c.student_temp = 0.1f;
    c.teacher_momentum = 0.5f;
    c.center_momentum = 0.9f;
    c.lambda1 = c.lambda2 = 1.0f;
    c.mask_prob = 1.0f;
    c.mask_ratio_min = 0.1f;
    c.mask_ratio_max = 0.5f;
    c.seed = 3;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_ibot_create(ctx, &c, &m));
    int b = 3;
    float *x = test_floats((size_t)2 * b * 3 * 64);
    for (int i = 0; i < 2 * b * 3 * 64; i++)
        x[i] = sinf(0.37f * (float)i);
    hvp_tensor views = test_tensor(4, (int[]){2 * b, 3, 8, 8}, x);
    hvp_tensor sc = test_tensor(2, (int[]){1, b}, NULL), l = test_tensor(1, (int[]){1}, NULL);
    const int pairs[1][2] = {{0, 1}};
    hvp_status st = m->ops->score_pairs(m, ctx, &views, 2, 1, pairs, 5, &sc);
    if (st == HVP_OK)
        st = hvp_params_zero_grad(ctx, m->state.params, m->state.nparams);
    if (st == HVP_OK)
        st = m->ops->train_step(m, ctx, &views, &(hvp_step_input){.step = 5}, &l);
    EXPECT(st == HVP_OK, "iBOT's step: %s", hvp_last_error());
    memcpy(scores, test_read(&sc), (size_t)b * sizeof *scores);
    *loss = test_read(&l)[0];
    hvp_method_destroy(m);
    hvp_arena_rewind(ctx->params, mark);
}

HVP_TEST(backbone_method_asks_the_interface)
{
    /* two blocks, so that drop path draws (a one-block ViT's only rate is 0) */
    hvp_backbone_config vit =
        hvp_vit_backbone_config(&(hvp_vit_config){8, 4, 3, 8, 2, 2, 2.0f, 0.3f, 0});
    counted = hvp_vit_backbone_ops;
    counted.name = "counted ViT";
    counted.token_grid = counted_grid;
    counted.feature_dim = counted_dim;
    counted.forward_tokens = counted_tokens;
    counted.backward_tokens = counted_tokens_back;
    counted.set_step = counted_step;
    counted.set_drop_path = counted_drop_path;
    counted.set_masked_tokens = counted_masked;
    hvp_backbone_config other = vit;
    other.ops = &counted;
    float want_scores[3] = {0}, scores[3] = {0}, want_loss = 0, loss = 0;
    ibot_step(&vit, want_scores, &want_loss);
    memset(&calls, 0, sizeof calls);
    ibot_step(&other, scores, &loss);
    EXPECT(memcmp(scores, want_scores, sizeof scores) == 0 &&
               memcmp(&loss, &want_loss, sizeof loss) == 0 && isfinite(loss),
           "on the counted family: loss %.9g, scores %.9g %.9g %.9g; on the ViT %.9g, %.9g %.9g "
           "%.9g", (double)loss, (double)scores[0], (double)scores[1], (double)scores[2],
           (double)want_loss, (double)want_scores[0], (double)want_scores[1],
           (double)want_scores[2]);
    EXPECT(calls.grid > 0 && calls.dim > 0 && calls.tokens > 0 && calls.tokens_back > 0 &&
               calls.step > 0 && calls.drop_path > 0 && calls.masked > 0,
           "iBOT went around the interface: token grid %d, feature dim %d, tokens %d, their "
           "backward %d, set step %d, drop path %d, masked tokens %d", calls.grid, calls.dim,
           calls.tokens, calls.tokens_back, calls.step, calls.drop_path, calls.masked);
}
