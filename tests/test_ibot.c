/* iBOT's masks, schedules, state and one step on a one-block ViT (no batch norm, so the
 * selection score of a pair and the training loss on that pair are the same computation
 * when both use the same masks): the student alone is trainable and has masked_embed, the
 * teacher has none and moves only by the EMA, both centers move, masked_embed gets a
 * gradient when views are masked. Small enough for Oclgrind; the comparison with PyTorch
 * is ibot_golden_step. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "hvp/ssl.h"

static hvp_ibot_config tiny_config(void)
{
    hvp_ibot_config c;
    memset(&c, 0, sizeof c);
    c.backbone = hvp_vit_backbone_config(&(hvp_vit_config){8, 4, 3, 8, 1, 2, 2.0f, 0.0f, 0});
    c.out_dim = c.patch_out_dim = 24;
    c.hidden_dim = 12;
    c.bottleneck_dim = 6;
    c.norm_last_layer = 1;
    c.teacher_temp = 0.07f;
    c.warmup_teacher_temp = 0.04f;
    c.teacher_patch_temp = 0.08f;
    c.warmup_teacher_patch_temp = 0.05f;
    c.warmup_teacher_temp_epochs = 3;
    c.student_temp = 0.1f;
    c.teacher_momentum = 0.5f;
    c.center_momentum = 0.9f;
    c.lambda1 = c.lambda2 = 1.0f;
    c.mask_prob = 0.5f;
    c.mask_ratio_min = 0.1f;
    c.mask_ratio_max = 0.5f;
    c.seed = 3;
    return c;
}

HVP_TEST(ibot_masks)
{
    hvp_ibot_config c = tiny_config();
    int grid = 14, L = grid * grid, mask[196], again[196];
    for (int random = 0; random < 2; random++) {
        c.mask_random = random;
        int masked_views = 0;
        for (int s = 0; s < 200; s++) {
            hvp_ibot_draw_mask(&c, grid, 5, s, 1, mask);
            hvp_ibot_draw_mask(&c, grid, 5, s, 1, again);
            EXPECT(memcmp(mask, again, sizeof mask) == 0, "sample %d: not reproducible", s);
            int count = 0;
            for (int t = 0; t < L; t++)
                count += mask[t];
            masked_views += count > 0;
            /* at most the ratio's maximum (blockwise stops at or below its target; random
             * patches take the rounded target) */
            EXPECT(count <= (int)(0.5 * L + 1), "sample %d: %d masked of %d", s, count, L);
        }
        EXPECT(masked_views > 60 && masked_views < 140, "%d of 200 views masked at p 0.5",
               masked_views);
    }
    c.mask_prob = 1.0f;
    c.mask_random = 0;
    int total = 0;
    for (int s = 0; s < 100; s++) {
        hvp_ibot_draw_mask(&c, grid, 0, s, 0, mask);
        for (int t = 0; t < L; t++)
            total += mask[t];
    }
    /* blockwise: on average close to (a bit under) the mean ratio 0.3 */
    EXPECT(total > 0.2 * L * 100 && total <= 0.31 * L * 100, "mean masked %g of %d",
           total / 100.0, L);
    c.mask_prob = 0.0f;
    hvp_ibot_draw_mask(&c, grid, 0, 0, 0, mask);
    int any = 0;
    for (int t = 0; t < L; t++)
        any |= mask[t];
    EXPECT(!any, "mask_prob 0 masked a patch");
}

HVP_TEST(ibot_schedules_and_errors)
{
    hvp_ibot_config c = tiny_config();
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_ibot_create(test_ctx(), &c, &m));
    hvp_ibot_set_schedule(m, 10, 100);
    EXPECT(fabs(hvp_ibot_teacher_temp(m, 10) - 0.055) < 1e-7, "class temperature, epoch 1");
    EXPECT(fabs(hvp_ibot_teacher_patch_temp(m, 10) - 0.065) < 1e-7, "patch temperature, epoch 1");
    EXPECT(fabs(hvp_ibot_teacher_patch_temp(m, 30) - 0.08) < 1e-7, "patch temperature, epoch 3");
    EXPECT(fabs(hvp_ibot_teacher_momentum(m, 50) - 0.75) < 1e-7, "momentum at the middle");
    hvp_method_destroy(m);
    hvp_ibot_config bad = tiny_config();
    bad.backbone = hvp_resnet_backbone_config(&(hvp_resnet_config){18, 3, 1, 0.25f, 0});
    EXPECT(hvp_ibot_create(test_ctx(), &bad, &m) != HVP_OK, "a ResNet must be refused");
    bad = tiny_config();
    bad.patch_out_dim = 12;
    EXPECT(hvp_ibot_create(test_ctx(), &bad, &m) != HVP_OK,
           "patch_out_dim != out_dim must be refused with a shared head");
    bad.separate_head = 1; /* the teacher's head still shared: its patches get out_dim */
    EXPECT(hvp_ibot_create(test_ctx(), &bad, &m) != HVP_OK,
           "patch_out_dim != out_dim must be refused with the teacher's head shared");
    bad.separate_head = 0;
    bad.separate_head_teacher = 1;
    bad.patch_out_dim = bad.out_dim;
    EXPECT(hvp_ibot_create(test_ctx(), &bad, &m) != HVP_OK,
           "a separate teacher head behind a shared student head must be refused");
    if (!test_tiny()) { /* both separate: accepted (built and stepped below) */
        bad.separate_head = 1;
        bad.patch_out_dim = 12;
        REQUIRE_OK(hvp_ibot_create(test_ctx(), &bad, &m));
        hvp_method_destroy(m);
    }
}

/* separate: the student's own patch layer (last_layer2); separate_teacher: the teacher's
 * too, of 20 outputs (with the teacher's head shared, out_dim ones: the official default) */
static void state_and_step(int separate, int separate_teacher)
{
    hvp_ctx *ctx = test_ctx();
    hvp_ibot_config c = tiny_config();
    c.separate_head = separate;
    c.separate_head_teacher = separate_teacher;
    if (separate_teacher)
        c.patch_out_dim = 20;
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_ibot_create(ctx, &c, &m));
    hvp_state *s = &m->state;
    for (int i = 0; i < s->nparams; i++)
        EXPECT(strncmp(s->params[i].name, "student.", 8) == 0, "trainable %s", s->params[i].name);
    hvp_param *me = hvp_state_find_param(s, "student.backbone.masked_embed");
    hvp_buffer *center = hvp_state_find_buffer(s, "ibot_loss.center");
    hvp_buffer *center2 = hvp_state_find_buffer(s, "ibot_loss.center2");
    EXPECT(!hvp_state_find_buffer(s, "teacher.backbone.masked_embed"),
           "the teacher has a masked_embed");
    if (!me || !center || !center2) {
        TEST_FAIL("no masked_embed, center or center2");
        hvp_method_destroy(m);
        return;
    }
    EXPECT(center2->value.ndim == 3 && center2->value.shape[2] == c.patch_out_dim,
           "center2's shape");
    EXPECT(!separate == !hvp_state_find_param(s, "student.head.last_layer2.weight_v") &&
               !separate_teacher == !hvp_state_find_buffer(s, "teacher.head.last_layer2.weight_v"),
           "last_layer2 for the student and the teacher exactly where the head is separate");

    /* masks for 3 candidate views of 3 images (L = 4): view 0 unmasked, the rest partly;
     * training on views (0, 1) with the same masks */
    int b = 3, nv = 3, L = 4;
    int score[36] = {0};
    for (int r = b; r < nv * b; r++)
        for (int t = 0; t < L; t++)
            score[r * L + t] = (r + t) % 3 == 0;
    REQUIRE_OK(hvp_ibot_set_masks(m, score, nv * b, score, 2 * b));
    float *x = test_floats((size_t)nv * b * 3 * 64);
    test_fill_uniform(x, (size_t)nv * b * 3 * 64, -1, 1);
    hvp_tensor views = test_tensor(4, (int[]){nv * b, 3, 8, 8}, x);
    hvp_tensor scores = test_tensor(2, (int[]){3, b}, NULL), loss = test_tensor(1, (int[]){1}, NULL);
    const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    REQUIRE_OK(m->ops->score_pairs(m, ctx, &views, nv, 3, pairs, 0, &scores));
    float *sc = test_read(&scores);
    hvp_tensor x12 = views;
    x12.shape[0] = 2 * b;
    REQUIRE_OK(hvp_params_zero_grad(ctx, s->params, s->nparams));
    REQUIRE_OK(m->ops->train_step(m, ctx, &x12, &(hvp_step_input){.step = 0}, &loss));
    float got = test_read(&loss)[0];
    double want = (sc[0] + sc[1] + sc[2]) / 3.0;
    EXPECT(isfinite(got) && fabs(got - want) <= 1e-5 * fabs(want),
           "loss %.7g, pair scores' mean %.7g", (double)got, want);
    double spread = fabs(sc[0] - sc[3]) + fabs(sc[3] - sc[6]) + fabs(sc[1] - sc[2]);
    EXPECT(spread > 1e-4, "the pair scores do not depend on the pair (%g)", spread);
    float *g = test_read(&me->grad);
    double gn = 0;
    for (int i = 0; i < 8; i++)
        gn += fabs(g[i]);
    EXPECT(isfinite(gn) && gn > 0, "masked_embed has no gradient (%g)", gn);
    float *cv = test_read(&center->value), *cv2 = test_read(&center2->value);
    double c1 = 0, c2 = 0;
    for (int i = 0; i < c.out_dim; i++)
        c1 += fabs(cv[i]);
    for (int i = 0; i < c.patch_out_dim; i++)
        c2 += fabs(cv2[i]);
    EXPECT(c1 > 0 && c2 > 0 && isfinite(c1 + c2), "centers did not move (%g, %g)", c1, c2);

    /* drawn masks (no injected ones) give finite losses, and the EMA runs */
    REQUIRE_OK(hvp_ibot_set_masks(m, NULL, 0, NULL, 0));
    REQUIRE_OK(m->ops->score_pairs(m, ctx, &views, nv, 3, pairs, 7, &scores));
    REQUIRE_OK(m->ops->train_step(m, ctx, &x12, &(hvp_step_input){.step = 7}, &loss));
    REQUIRE_OK(m->ops->after_step(m, ctx, 7));
    got = test_read(&loss)[0];
    sc = test_read(&scores);
    EXPECT(isfinite(got) && isfinite(sc[0] + sc[4] + sc[8]), "loss %g", (double)got);
    hvp_method_destroy(m);
}

HVP_TEST(ibot_state_and_step)
{
    state_and_step(0, 0);
}

/* The same with a separate patch head for both networks, and for the student only: the
 * pair scores and the loss still agree. */
HVP_TEST(ibot_state_and_step_separate_head)
{
    if (test_tiny()) {
        test_skip("the kernels of ibot_state_and_step, on another weight");
        return;
    }
    state_and_step(1, 1);
    state_and_step(1, 0);
}
