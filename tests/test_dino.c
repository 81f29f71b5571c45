/* DINO's state and one step on a one-block ViT (no batch norm, so a pair's selection score
 * and the training loss on that pair are the same computation): only the student is
 * trainable, the teacher starts as its copy and moves only by the EMA, the center moves.
 * Small enough for Oclgrind; the comparison with PyTorch is dino_golden_step. */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "hvp/ssl.h"

static hvp_dino_config tiny_config(void)
{
    hvp_dino_config c;
    memset(&c, 0, sizeof c);
    c.backbone = hvp_vit_backbone_config(&(hvp_vit_config){8, 4, 3, 8, 1, 2, 2.0f, 0.0f, 0});
    c.out_dim = 24;
    c.hidden_dim = 12;
    c.bottleneck_dim = 6;
    c.norm_last_layer = 1;
    c.teacher_temp = 0.07f;
    c.warmup_teacher_temp = 0.04f;
    c.warmup_teacher_temp_epochs = 3;
    c.student_temp = 0.1f;
    c.teacher_momentum = 0.5f;
    c.center_momentum = 0.9f;
    c.seed = 3;
    return c;
}

HVP_TEST(dino_schedules)
{
    hvp_dino_config c = tiny_config();
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_dino_create(test_ctx(), &c, &m));
    /* before set_schedule: epoch 0, constant momentum */
    EXPECT(hvp_dino_teacher_temp(m, 1000) == 0.04f, "temperature %g", (double)hvp_dino_teacher_temp(m, 1000));
    EXPECT(hvp_dino_teacher_momentum(m, 7) == 0.5f, "momentum %g", (double)hvp_dino_teacher_momentum(m, 7));
    hvp_dino_set_schedule(m, 10, 100);
    /* np.linspace(0.04, 0.07, 3) by epoch, then 0.07 */
    EXPECT(fabs(hvp_dino_teacher_temp(m, 9) - 0.04) < 1e-7, "epoch 0");
    EXPECT(fabs(hvp_dino_teacher_temp(m, 10) - 0.055) < 1e-7, "epoch 1");
    EXPECT(fabs(hvp_dino_teacher_temp(m, 29) - 0.07) < 1e-7, "epoch 2");
    EXPECT(fabs(hvp_dino_teacher_temp(m, 99) - 0.07) < 1e-7, "epoch 9");
    /* 1 + (m0 - 1)(1 + cos(pi it / total)) / 2 */
    EXPECT(fabs(hvp_dino_teacher_momentum(m, 0) - 0.5) < 1e-7, "momentum at 0");
    EXPECT(fabs(hvp_dino_teacher_momentum(m, 50) - 0.75) < 1e-7, "momentum at the middle");
    EXPECT(fabs(hvp_dino_teacher_momentum(m, 100) - 1.0) < 1e-7, "momentum at the end");
    hvp_method_destroy(m);
}

HVP_TEST(dino_state_and_step)
{
    hvp_ctx *ctx = test_ctx();
    hvp_dino_config c = tiny_config();
    hvp_method *m = NULL;
    REQUIRE_OK(hvp_dino_create(ctx, &c, &m));
    hvp_state *s = &m->state;

    /* the optimizer's list is the student, without weight_g (fixed norm) */
    for (int i = 0; i < s->nparams; i++)
        EXPECT(strncmp(s->params[i].name, "student.", 8) == 0, "trainable %s", s->params[i].name);
    EXPECT(!hvp_state_find_param(s, "student.head.last_layer.weight_g"), "weight_g is trainable");
    EXPECT(hvp_state_find_param(s, "student.head.mlp.4.weight") &&
               hvp_state_find_param(s, "student.head.last_layer.weight_v") &&
               hvp_state_find_param(s, "student.backbone.blocks.0.attn.qkv.weight"),
           "official names");
    hvp_buffer *g = hvp_state_find_buffer(s, "student.head.last_layer.weight_g");
    hvp_buffer *center = hvp_state_find_buffer(s, "dino_loss.center");
    if (!g || !center) {
        TEST_FAIL("no weight_g or center buffer");
        hvp_method_destroy(m);
        return;
    }
    float *gv = test_read(&g->value);
    for (int i = 0; i < c.out_dim; i++)
        EXPECT(gv[i] == 1.0f, "weight_g[%d] = %g", i, (double)gv[i]);
    /* the teacher is the student's copy */
    int nparams = s->nparams;
    float **before = test_alloc((size_t)nparams * sizeof *before);
    char name[128];
    for (int i = 0; i < nparams; i++) {
        const hvp_param *p = &s->params[i];
        snprintf(name, sizeof name, "teacher.%s", p->name + 8);
        hvp_buffer *t = hvp_state_find_buffer(s, name);
        if (!t) {
            TEST_FAIL("no %s", name);
            continue;
        }
        size_t n = hvp_numel(&p->value);
        before[i] = test_read(&p->value);
        EXPECT(memcmp(before[i], test_read(&t->value), n * sizeof(float)) == 0,
               "%s is not the student's", name);
    }

    int b = 3, nv = 3;
    float *x = test_floats((size_t)nv * b * 3 * 8 * 8);
    test_fill_uniform(x, (size_t)nv * b * 3 * 64, -1, 1);
    hvp_tensor views = test_tensor(4, (int[]){nv * b, 3, 8, 8}, x);
    hvp_tensor scores = test_tensor(2, (int[]){3, b}, NULL), loss = test_tensor(1, (int[]){1}, NULL);
    const int pairs[3][2] = {{0, 1}, {0, 2}, {1, 2}};
    REQUIRE_OK(m->ops->score_pairs(m, ctx, &views, nv, 3, pairs, 0, &scores));
    float *sc = test_read(&scores);
    /* train on views (0, 1): its loss is the batch mean of pair 0's scores */
    hvp_tensor x12 = views;
    x12.shape[0] = 2 * b;
    REQUIRE_OK(hvp_params_zero_grad(ctx, s->params, nparams));
    REQUIRE_OK(m->ops->train_step(m, ctx, &x12, &(hvp_step_input){.step = 0}, &loss));
    float got = test_read(&loss)[0];
    double want = (sc[0] + sc[1] + sc[2]) / 3.0;
    EXPECT(isfinite(got) && fabs(got - want) <= 1e-5 * fabs(want), "loss %.7g, pair scores' mean %.7g",
           (double)got, want);
    double spread = fabs(sc[0] - sc[3]) + fabs(sc[3] - sc[6]) + fabs(sc[1] - sc[2]);
    EXPECT(spread > 1e-4, "the pair scores do not depend on the pair (%g)", spread);
    float *cv = test_read(&center->value);
    double cnorm = 0;
    for (int i = 0; i < c.out_dim; i++)
        cnorm += fabs(cv[i]);
    EXPECT(isfinite(cnorm) && cnorm > 0, "the center did not move (%g)", cnorm);

    /* a plain step p -= 0.5 grad, then the EMA at momentum 0.5: t = (t0 + p1) / 2 */
    for (int i = 0; i < nparams; i++)
        REQUIRE_OK(hvp_axpby(ctx, 1.0f, &s->params[i].value, -0.5f, &s->params[i].grad,
                             &s->params[i].value));
    REQUIRE_OK(m->ops->after_step(m, ctx, 0));
    int moved = 0;
    for (int i = 0; i < nparams; i++) {
        const hvp_param *p = &s->params[i];
        snprintf(name, sizeof name, "teacher.%s", p->name + 8);
        hvp_buffer *t = hvp_state_find_buffer(s, name);
        if (!t)
            continue;
        size_t n = hvp_numel(&p->value);
        float *after = test_read(&p->value);
        double *w = test_doubles(n);
        for (size_t j = 0; j < n; j++) {
            w[j] = 0.5 * before[i][j] + 0.5 * after[j];
            moved += after[j] != before[i][j];
        }
        EXPECT_CLOSE(name, test_read(&t->value), w, n, 1e-6);
    }
    EXPECT(moved > 0, "the student did not move");
    hvp_method_destroy(m);
}
