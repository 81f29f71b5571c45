/* Flat storage: a method built by hvp_method_from_config (two builds under a plan) has its
 * parameters, gradients and buffers packed in one region each, with the names and the
 * initial values of a build that allocates them one by one. */
#include <string.h>

#include "harness.h"
#include "hvp/ssl.h"

/* Every tensor of a and b (same names, same order) holds the same bytes. */
static void expect_same_state(const char *what, const hvp_state *a, const hvp_state *b)
{
    EXPECT(a->nparams == b->nparams && a->nbuffers == b->nbuffers,
           "%s: %d parameters and %d buffers, want %d and %d", what, a->nparams, a->nbuffers,
           b->nparams, b->nbuffers);
    for (int i = 0; i < a->nparams && i < b->nparams; i++) {
        const hvp_tensor *x = &a->params[i].value, *y = &b->params[i].value;
        EXPECT(strcmp(a->params[i].name, b->params[i].name) == 0 &&
                   memcmp(test_read(x), test_read(y), hvp_nbytes(x)) == 0,
               "%s: parameter %s differs from %s", what, a->params[i].name, b->params[i].name);
    }
    for (int i = 0; i < a->nbuffers && i < b->nbuffers; i++) {
        const hvp_buffer *x = &a->buffers[i], *y = &b->buffers[i];
        EXPECT(strcmp(x->name, y->name) == 0 &&
                   (x->is_count || memcmp(test_read(&x->value), test_read(&y->value),
                                          hvp_nbytes(&x->value)) == 0),
               "%s: buffer %s differs from %s", what, x->name, y->name);
    }
}

/* The trained parameters are the packed prefix of the values region and their gradients of
 * the gradients region; teacher weights (buffers made as parameters) follow them in the
 * values region; every other buffer lies in the buffers region. */
static void expect_flat(const char *what, const hvp_state *s)
{
    hvp_tensor values, grads, buffers;
    REQUIRE_OK(hvp_state_param_region(s, &values, &grads));
    REQUIRE_OK(hvp_state_buffer_region(s, &buffers));
    size_t at = 0;
    for (int i = 0; i < s->nparams; i++) {
        const hvp_param *p = &s->params[i];
        EXPECT(p->value.buf == values.buf && p->value.off == values.off + at &&
                   p->grad.buf == grads.buf && p->grad.off == grads.off + at,
               "%s: %s is not at element %zu of the regions", what, p->name, at);
        at = hvp_packed_next(at, hvp_numel(&p->value));
    }
    EXPECT(hvp_numel(&values) == at && hvp_numel(&grads) == at,
           "%s: regions of %zu elements, want %zu", what, hvp_numel(&values), at);
    size_t value_end = s->values.off + hvp_numel(&s->values);
    size_t buffer_end = buffers.off + hvp_numel(&buffers);
    for (int i = 0; i < s->nbuffers; i++) {
        const hvp_buffer *b = &s->buffers[i];
        if (b->is_count)
            continue;
        int in_buffers = b->value.buf == buffers.buf && b->value.off >= buffers.off &&
                         b->value.off + hvp_numel(&b->value) <= buffer_end;
        int in_values = b->value.buf == s->values.buf && b->value.off >= values.off + at &&
                        b->value.off + hvp_numel(&b->value) <= value_end;
        EXPECT(in_buffers || in_values, "%s: buffer %s lies outside the regions", what,
               b->name);
    }
}

static void check_method(const char *const *overrides)
{
    hvp_ctx *ctx = test_ctx();
    hvp_config c;
    hvp_config_defaults(&c);
    for (int i = 0; overrides[i]; i++)
        REQUIRE_OK(hvp_config_override(&c, overrides[i]));
    hvp_backbone_config bc;
    REQUIRE_OK(hvp_backbone_from_config(&c, 3, &bc));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_method *flat = NULL, *one_by_one = NULL;
    REQUIRE_OK(hvp_method_from_config(ctx, &c, &bc, &flat));
    EXPECT(!ctx->state_plan, "the plan outlived the build");
    /* the same factory without a plan: tensors one by one */
#define ONE(m, prefix)                                                                      \
    if (strcmp(flat->ops->name, #m) == 0)                                                   \
        REQUIRE_OK(hvp_##m##_from_config(ctx, &c, &bc, &one_by_one));
    HVP_METHODS(ONE)
#undef ONE
    if (one_by_one) {
        hvp_tensor v, g;
        EXPECT(hvp_state_param_region(&one_by_one->state, &v, &g) != HVP_OK,
               "a state without a plan has no regions");
        expect_flat(flat->ops->name, &flat->state);
        expect_same_state(flat->ops->name, &flat->state, &one_by_one->state);
    } else {
        TEST_FAIL("no factory for %s", flat->ops->name);
    }
    hvp_method_destroy(one_by_one);
    hvp_method_destroy(flat);
    hvp_arena_rewind(ctx->params, mark);
}

#define RESNET "model.arch=resnet18", "model.width=0.125", "model.cifar_stem=true", \
               "data.image_size=16"
#define VIT "model.arch=vit_tiny", "model.patch_size=8", "data.image_size=16"

HVP_TEST(state_flat_methods_keep_names_and_values)
{
    check_method((const char *[]){RESNET, "method.name=simsiam", "method.proj_dim=16",
                                  "method.proj_hidden_dim=16", "method.pred_dim=8", NULL});
    if (test_tiny()) /* Oclgrind: one method */
        return;
    check_method((const char *[]){RESNET, "method.name=simclr", "method.proj_dim=16",
                                  "method.proj_hidden_dim=16", NULL});
    check_method((const char *[]){RESNET, "method.name=dino", "method.out_dim=32",
                                  "method.bottleneck_dim=8", "method.proj_hidden_dim=16",
                                  NULL});
    check_method((const char *[]){VIT, "method.name=ibot", "method.out_dim=32",
                                  "method.patch_out_dim=32", "method.bottleneck_dim=8",
                                  "method.proj_hidden_dim=16", NULL});
    check_method((const char *[]){RESNET, "method.name=byol", "method.proj_dim=16",
                                  "method.proj_hidden_dim=16", "method.pred_hidden_dim=16",
                                  NULL});
}

/* A second build that makes other tensors than the first is an error naming both. */
HVP_TEST(state_flat_plan_mismatch_names_the_tensor)
{
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_state_plan *plan;
    REQUIRE_OK(hvp_state_plan_create(&plan));
    hvp_state s;
    hvp_param p;
    hvp_tensor b;
    ctx->state_plan = plan;
    hvp_state_init(&s, 1);
    hvp_status st = hvp_state_param(&s, ctx, "enc.weight", 2, (int[]){3, 5}, HVP_INIT_ONE, 0, 0,
                                    &p);
    if (st == HVP_OK)
        st = hvp_state_buffer(&s, ctx, "enc.running_mean", 1, (int[]){3}, HVP_INIT_ZERO, &b);
    hvp_state_free(&s);
    if (st == HVP_OK)
        st = hvp_state_plan_reserve(plan, ctx);
    hvp_state_init(&s, 1);
    if (st == HVP_OK)
        st = hvp_state_param(&s, ctx, "enc.weight", 2, (int[]){3, 5}, HVP_INIT_ONE, 0, 0, &p);
    hvp_status wrong = HVP_OK;
    if (st == HVP_OK)
        wrong = hvp_state_buffer(&s, ctx, "enc.running_mean", 1, (int[]){4}, HVP_INIT_ZERO, &b);
    const char *msg = hvp_last_error();
    EXPECT(st == HVP_OK && wrong != HVP_OK && strstr(msg, "enc.running_mean") &&
               strstr(msg, "4 elements") && strstr(msg, "3 elements"),
           "a tensor of another size: %s", msg);
    EXPECT(hvp_state_plan_check_done(plan) != HVP_OK, "an unfinished second build passed");
    ctx->state_plan = NULL;
    hvp_state_free(&s);
    hvp_state_plan_free(plan);
    hvp_arena_rewind(ctx->params, mark);
}
