/* Optimizer steps against double-precision references of the PyTorch (and solo-learn LARS)
 * formulas, over several steps with state carried; EMA; gradient clipping. Every case runs
 * on two copies of the same parameters: tensors allocated one by one (a launch per tensor)
 * and packed in one region (hvp_params_packed: the multi-tensor kernels), which must agree
 * bitwise. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "ref/ref.h"

#define NP 5
/* sizes that divide no work-group size; 4097 takes hvp_reduce's two stages */
static const int full_sizes[NP] = {1, 7, 1000, 4097, 300};
static const int tiny_sizes[NP] = {1, 7, 33, 65, 3};

static int param_size(int i) { return test_tiny() ? tiny_sizes[i] : full_sizes[i]; }

static const size_t *param_sizes(void)
{
    static size_t s[NP];
    for (int i = 0; i < NP; i++)
        s[i] = (size_t)param_size(i);
    return s;
}

/* A region of total elements, zeroed, `offset` elements into a test buffer (an odd offset:
 * the kernels must not assume the region aligned, only its tensors' starts relative to it). */
static hvp_tensor zeroed_region(size_t offset, int total)
{
    hvp_tensor r = test_tensor_at(offset, 1, &total, NULL);
    if (hvp_tensor_zero(test_ctx(), &r) != HVP_OK)
        TEST_FAIL("zeroing a region: %s", hvp_last_error());
    return r;
}

/* Parameters p0..p4 with values and grads; odd ones are "biases" (no_decay). one: each tensor
 * allocated alone; packed (NULL to skip): the same values packed in a values region and a
 * grads region. */
static void make_params(hvp_param *one, hvp_param *packed, double **p_ref, int zero_p2)
{
    int total = 0;
    for (int i = 0; i < NP; i++)
        total = (int)hvp_packed_next((size_t)total, (size_t)param_size(i));
    hvp_tensor values = {0}, grads = {0};
    if (packed) {
        values = zeroed_region(5, total);
        grads = zeroed_region(3, total);
    }
    size_t at = 0;
    for (int i = 0; i < NP; i++) {
        int n = param_size(i);
        memset(&one[i], 0, sizeof one[i]);
        snprintf(one[i].name, sizeof one[i].name, "p%d.%s", i, i % 2 ? "bias" : "weight");
        one[i].no_decay = i % 2;
        float *v = test_floats((size_t)n);
        if (!(zero_p2 && i == 2))
            test_fill_uniform(v, (size_t)n, -1, 1);
        one[i].value = test_tensor(1, &n, v);
        one[i].grad = test_tensor(1, &n, NULL);
        p_ref[i] = test_to_double(v, (size_t)n);
        if (packed) {
            packed[i] = one[i];
            packed[i].value = hvp_tensor_view(&values, at, 1, &n);
            packed[i].grad = hvp_tensor_view(&grads, at, 1, &n);
            REQUIRE_OK(hvp_tensor_upload(test_ctx(), &packed[i].value, v));
            at = hvp_packed_next(at, (size_t)n);
        }
    }
    hvp_tensor a, b;
    EXPECT(!hvp_params_packed(one, NP, &a, &b), "tensors allocated alone look packed");
    EXPECT(!packed || hvp_params_packed(packed, NP, &a, &b), "the packed list is not packed");
}

/* New random grads on the device (both copies); their double copies in g_ref. */
static void new_grads(hvp_param *one, hvp_param *packed, double **g_ref)
{
    for (int i = 0; i < NP; i++) {
        int n = param_size(i);
        float *g = test_floats((size_t)n);
        test_fill_uniform(g, (size_t)n, -1, 1);
        REQUIRE_OK(hvp_tensor_upload(test_ctx(), &one[i].grad, g));
        if (packed)
            REQUIRE_OK(hvp_tensor_upload(test_ctx(), &packed[i].grad, g));
        g_ref[i] = test_to_double(g, (size_t)n);
    }
}

static void expect_same(const char *what, const hvp_tensor *a, const hvp_tensor *b)
{
    EXPECT(memcmp(test_read(a), test_read(b), hvp_nbytes(a)) == 0,
           "%s: the packed list differs from the tensors alone", what);
}

/* The update p_after - p_before against the reference's. The device stores p in float, so
 * the measured update carries up to about one ulp of |p| of rounding whatever the update's
 * size: the bound is FWD_TOL of the largest update plus 2 ulps of the largest |p|. */
static void expect_update(const char *what, const float *delta, const double *want,
                          const float *p, size_t n)
{
    double dmax = 0, pmax = 0, worst = 0;
    size_t wi = 0;
    for (size_t j = 0; j < n; j++) {
        dmax = fmax(dmax, fabs(want[j]));
        pmax = fmax(pmax, fabs((double)p[j]));
    }
    for (size_t j = 0; j < n; j++) {
        double e = fabs((double)delta[j] - want[j]);
        if (!(e <= worst)) {
            worst = isnan(e) ? INFINITY : e;
            wi = j;
        }
    }
    double bound = FWD_TOL * dmax + 2 * FLT_EPSILON * pmax;
    EXPECT(worst <= bound, "%s: error %.3g > %.3g at [%zu]: got %.9g, want %.9g", what, worst,
           bound, wi, (double)delta[wi], want[wi]);
}

typedef struct {
    hvp_optim_config cfg;
    float lr, wd;
    int zero_p2;
    const char *what;
} optim_case;

/* Three groups as PyTorch's param_groups: p3 at half the lr and twice the weight decay,
 * p4 at a quarter of the lr and half the decay. */
static void set_groups(hvp_optim *o, const optim_case *oc, double *lr, double *wd)
{
    EXPECT(hvp_optim_set_group(o, "p3.", 1) == 1 && hvp_optim_set_group(o, "p4.", 2) == 1,
           "%s: groups of p3, p4", oc->what);
    const float lr_of[3] = {oc->lr, oc->lr * 0.5f, oc->lr * 0.25f};
    const float wd_of[3] = {oc->wd, oc->wd * 2, oc->wd * 0.5f};
    for (int g = 0; g < 3; g++) {
        o->groups[g].lr = lr_of[g];
        o->groups[g].weight_decay = wd_of[g];
        lr[g] = lr_of[g];
        wd[g] = wd_of[g];
    }
}

static void run_case(const optim_case *oc)
{
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_param ps[NP], pk[NP];
    double *p_ref[NP], *g_ref[NP], *s1[NP], *s2[NP], lr[3], wd[3];
    make_params(ps, pk, p_ref, oc->zero_p2);
    for (int i = 0; i < NP; i++) {
        s1[i] = test_doubles((size_t)param_size(i));
        s2[i] = test_doubles((size_t)param_size(i));
    }
    static const int group[NP] = {0, 0, 0, 1, 2}, no_decay[NP] = {0, 1, 0, 1, 0};
    ref_optim_list ref = {NP, p_ref, g_ref, s1, s2, param_sizes(), group, no_decay};
    hvp_optim *o, *ok;
    REQUIRE_OK(hvp_optim_create(ctx, &oc->cfg, ps, NP, &o));
    REQUIRE_OK(hvp_optim_create(ctx, &oc->cfg, pk, NP, &ok));
    EXPECT(!o->seg && ok->seg, "%s: the packed list takes the multi-tensor path, the other "
           "not", oc->what);
    set_groups(o, oc, lr, wd);
    set_groups(ok, oc, lr, wd);
    const hvp_optim_config *c = &oc->cfg;
    int steps = test_tiny() ? 3 : 4;
    for (int step = 1; step <= steps; step++) {
        new_grads(ps, pk, g_ref);
        float *before[NP];
        double *ref_before[NP];
        for (int i = 0; i < NP; i++) {
            before[i] = test_read(&ps[i].value);
            ref_before[i] = test_doubles((size_t)param_size(i));
            memcpy(ref_before[i], p_ref[i], (size_t)param_size(i) * sizeof(double));
        }
        REQUIRE_OK(hvp_optim_step(ctx, o));
        REQUIRE_OK(hvp_optim_step(ctx, ok));
        ref_optim_list_step(&ref, c->kind == HVP_OPTIM_SGD ? 0 : c->kind == HVP_OPTIM_LARS ? 1 : 2,
                            lr, wd, c->momentum, c->beta1, c->beta2,
                            c->kind == HVP_OPTIM_LARS ? c->lars_eps : c->eps, c->lars_eta,
                            c->lars_clip_lr, c->lars_exclude_bias_n_norm, c->decay_all, step);
        for (int i = 0; i < NP; i++) {
            size_t n = (size_t)param_size(i);
            float *after = test_read(&ps[i].value), *delta = test_floats(n);
            double *ref_delta = test_doubles(n);
            for (size_t j = 0; j < n; j++) {
                delta[j] = after[j] - before[i][j];
                ref_delta[j] = p_ref[i][j] - ref_before[i][j];
            }
            char what[192];
            snprintf(what, sizeof what, "%.40s step %d %.96s", oc->what, step, ps[i].name);
            EXPECT_CLOSE(what, after, p_ref[i], n, FWD_TOL);
            expect_same(what, &pk[i].value, &ps[i].value);
            snprintf(what, sizeof what, "%.40s step %d %.96s update", oc->what, step, ps[i].name);
            expect_update(what, delta, ref_delta, after, n);
        }
    }
    /* The state, by its checkpoint names; the packed list's in one region per kind. */
    int want_state = c->kind == HVP_OPTIM_ADAMW ? 2 * NP : c->momentum != 0 ? NP : 0;
    EXPECT(o->nstate == want_state && ok->nstate == want_state,
           "%s: %d and %d state tensors, want %d", oc->what, o->nstate, ok->nstate, want_state);
    EXPECT(o->step == steps, "%s: step %ld", oc->what, o->step);
    for (int s = 0; s < o->nstate && s < want_state && s < ok->nstate; s++) {
        int i = c->kind == HVP_OPTIM_ADAMW ? s / 2 : s;
        char want_name[128];
        snprintf(want_name, sizeof want_name, "%s.%s", ps[i].name,
                 c->kind != HVP_OPTIM_ADAMW ? "momentum_buffer"
                 : s % 2                    ? "exp_avg_sq"
                                            : "exp_avg");
        EXPECT(strcmp(o->state[s].name, want_name) == 0 &&
                   strcmp(ok->state[s].name, want_name) == 0,
               "state %d named %s and %s, want %s", s, o->state[s].name, ok->state[s].name,
               want_name);
        double *want = c->kind == HVP_OPTIM_ADAMW && s % 2 ? s2[i] : s1[i];
        EXPECT_CLOSE(want_name, test_read(&o->state[s].value), want, (size_t)param_size(i),
                     FWD_TOL);
        expect_same(want_name, &ok->state[s].value, &o->state[s].value);
        const hvp_tensor *region = &ok->state_region[c->kind == HVP_OPTIM_ADAMW ? s % 2 : 0];
        EXPECT(ok->state[s].value.buf == region->buf &&
                   ok->state[s].value.off - region->off == pk[i].value.off - pk[0].value.off,
               "%s lies outside its region", want_name);
    }
    hvp_optim_destroy(o);
    hvp_optim_destroy(ok);
    hvp_arena_rewind(ctx->params, mark);
}

HVP_TEST(optim_sgd)
{
    optim_case oc = {hvp_optim_defaults(HVP_OPTIM_SGD), 0.05f, 0.1f, 0, "sgd wd"};
    run_case(&oc);
    if (test_tiny()) /* Oclgrind: one case; the variants differ in arithmetic, not access */
        return;
    oc.wd = 0;
    oc.what = "sgd no wd";
    run_case(&oc);
    oc.wd = 0.1f;
    oc.cfg.decay_all = 1;
    oc.what = "sgd decay_all";
    run_case(&oc);
    oc.cfg = hvp_optim_defaults(HVP_OPTIM_SGD);
    oc.cfg.momentum = 0;
    oc.what = "sgd no momentum";
    run_case(&oc);
}

HVP_TEST(optim_lars)
{
    optim_case oc = {hvp_optim_defaults(HVP_OPTIM_LARS), 0.3f, 0.05f, 1, "lars"};
    run_case(&oc);
    if (test_tiny())
        return;
    oc.wd = 0;
    oc.what = "lars no wd";
    run_case(&oc);
    oc.wd = 0.05f;
    oc.cfg.lars_clip_lr = 1;
    oc.what = "lars clip_lr";
    run_case(&oc);
    oc.cfg = hvp_optim_defaults(HVP_OPTIM_LARS);
    oc.cfg.lars_exclude_bias_n_norm = 0;
    oc.cfg.lars_eta = 0.5f;
    oc.what = "lars all adapted";
    run_case(&oc);
    oc.cfg = hvp_optim_defaults(HVP_OPTIM_LARS);
    oc.cfg.momentum = 0;
    oc.cfg.lars_clip_lr = 1;
    oc.what = "lars no momentum clip_lr";
    run_case(&oc);
}

HVP_TEST(optim_adamw)
{
    optim_case oc = {hvp_optim_defaults(HVP_OPTIM_ADAMW), 0.01f, 0.05f, 0, "adamw"};
    run_case(&oc);
    if (test_tiny())
        return;
    oc.wd = 0;
    oc.what = "adamw no wd";
    run_case(&oc);
    oc.wd = 0.3f;
    oc.cfg.decay_all = 1;
    oc.cfg.beta2 = 0.95f;
    oc.what = "adamw decay_all";
    run_case(&oc);
}

HVP_TEST(optim_zero_grad_packed)
{
    hvp_param ps[NP], pk[NP];
    double *p_ref[NP], *g_ref[NP];
    make_params(ps, pk, p_ref, 0);
    new_grads(ps, pk, g_ref);
    REQUIRE_OK(hvp_params_zero_grad(test_ctx(), pk, NP));
    REQUIRE_OK(hvp_params_zero_grad(test_ctx(), ps, NP));
    for (int i = 0; i < NP; i++) {
        size_t n = (size_t)param_size(i);
        const float *a = test_read(&ps[i].grad), *b = test_read(&pk[i].grad);
        for (size_t j = 0; j < n; j++)
            if (a[j] != 0.0f || b[j] != 0.0f) {
                TEST_FAIL("grad of %s [%zu] is %g / %g after zero_grad", ps[i].name, j,
                          (double)a[j], (double)b[j]);
                break;
            }
    }
}

/* t_ref = m t_ref + (1 - m) s_ref over n pairs. */
static void ref_ema(double **t_ref, double *const *s_ref, const int *sizes, int n, float m)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < sizes[i]; j++)
            t_ref[i][j] = m * t_ref[i][j] + (1 - (double)m) * s_ref[i][j];
}

HVP_TEST(optim_ema)
{
    hvp_param t[NP], s[NP], tk[NP], sk[NP];
    double *t_ref[NP], *s_ref[NP];
    make_params(t, tk, t_ref, 0);
    make_params(s, sk, s_ref, 0);
    int sizes[NP];
    for (int i = 0; i < NP; i++)
        sizes[i] = param_size(i);
    const float m[3] = {0.996f, 0.9f, 0.5f};
    for (int step = 0; step < 3; step++) {
        REQUIRE_OK(hvp_ema_update(test_ctx(), t, s, NP, m[step]));
        ref_ema(t_ref, s_ref, sizes, NP, m[step]);
        for (int i = 0; i < NP; i++)
            EXPECT_CLOSE("ema teacher", test_read(&t[i].value), t_ref[i], (size_t)sizes[i],
                         FWD_TOL);
        /* The student moves on (as after an optimizer step). */
        new_grads(s, NULL, s_ref);
        for (int i = 0; i < NP; i++)
            REQUIRE_OK(hvp_tensor_copy(test_ctx(), &s[i].value, &s[i].grad));
    }
    /* Plain tensors: m = 0 copies, m = 1 keeps. */
    hvp_tensor tt[2] = {t[2].value, t[3].value}, ss[2] = {s[2].value, s[3].value};
    float *keep = test_read(&tt[1]);
    REQUIRE_OK(hvp_ema_tensors(test_ctx(), tt, ss, 1, 0.0f));
    EXPECT_CLOSE("ema m=0", test_read(&tt[0]), s_ref[2], (size_t)param_size(2), 0.0);
    REQUIRE_OK(hvp_ema_tensors(test_ctx(), tt + 1, ss + 1, 1, 1.0f));
    EXPECT(memcmp(test_read(&tt[1]), keep, (size_t)param_size(3) * sizeof(float)) == 0,
           "ema m=1 changed the teacher");
}

/* hvp_ema_pairs in its three forms against the reference and, bitwise, against each other:
 * teachers and students packed alike (one run); the teachers packed but the students with
 * one more tensor among them (iBOT's masked_embed), or neither packed (tensors allocated
 * alone): the table; a teacher in another buffer: a launch per pair. */
HVP_TEST(optim_ema_pairs)
{
    hvp_param t1[NP], s1[NP], tk[NP], sk[NP];
    double *t_ref[NP], *s_ref[NP];
    make_params(t1, tk, t_ref, 0);
    make_params(s1, sk, s_ref, 0);
    hvp_tensor tv[NP], sv[NP], tone[NP], sone[NP], ttab[NP - 1], stab[NP - 1];
    int sizes[NP];
    for (int i = 0; i < NP; i++) {
        tv[i] = tk[i].value;
        sv[i] = sk[i].value;
        tone[i] = t1[i].value;
        sone[i] = s1[i].value;
        sizes[i] = param_size(i);
    }
    /* the table: teachers p0 p1 p3 p4 of a packed run (p2's slot skipped by packing them
     * afresh), students p0 p1 p3 p4 of the packed students (p2 left out) */
    int total = 0, tsizes[NP - 1];
    for (int i = 0, k = 0; i < NP; i++)
        if (i != 2) {
            tsizes[k++] = sizes[i];
            total = (int)hvp_packed_next((size_t)total, (size_t)sizes[i]);
        }
    hvp_tensor run = zeroed_region(1, total);
    double *tab_ref[NP - 1], *stab_ref[NP - 1];
    size_t at = 0;
    for (int i = 0, k = 0; i < NP; i++) {
        if (i == 2)
            continue;
        ttab[k] = hvp_tensor_view(&run, at, 1, &sizes[i]);
        REQUIRE_OK(hvp_tensor_copy(test_ctx(), &ttab[k], &tone[i]));
        stab[k] = sv[i];
        tab_ref[k] = test_doubles((size_t)sizes[i]);
        memcpy(tab_ref[k], t_ref[i], (size_t)sizes[i] * sizeof(double));
        stab_ref[k] = s_ref[i];
        at = hvp_packed_next(at, (size_t)sizes[i]);
        k++;
    }
    /* p0's teacher of the per-pair list lives in ctx->params, another buffer */
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_tensor tpair[NP];
    for (int i = 0; i < NP; i++) {
        if (i == 0)
            REQUIRE_OK(hvp_alloc_f32(ctx->params, "teacher elsewhere", &tpair[0], 1, &sizes[0]));
        else
            tpair[i] = test_tensor(1, &sizes[i], NULL);
        REQUIRE_OK(hvp_tensor_copy(ctx, &tpair[i], &tone[i]));
    }
    hvp_ema_pairs one, packed, table, per_pair;
    REQUIRE_OK(hvp_ema_pairs_prepare(ctx, tone, sone, NP, &one));
    REQUIRE_OK(hvp_ema_pairs_prepare(ctx, tv, sv, NP, &packed));
    REQUIRE_OK(hvp_ema_pairs_prepare(ctx, ttab, stab, NP - 1, &table));
    REQUIRE_OK(hvp_ema_pairs_prepare(ctx, tpair, sone, NP, &per_pair));
    EXPECT(one.mode == HVP_EMA_TABLE && packed.mode == HVP_EMA_RUN &&
               table.mode == HVP_EMA_TABLE && per_pair.mode == HVP_EMA_PER_PAIR,
           "modes %d %d %d %d", one.mode, packed.mode, table.mode, per_pair.mode);
    const float m[3] = {0.996f, 0.9f, 0.5f};
    for (int step = 0; step < 3; step++) {
        REQUIRE_OK(hvp_ema_pairs_update(test_ctx(), &one, m[step]));
        REQUIRE_OK(hvp_ema_pairs_update(test_ctx(), &packed, m[step]));
        REQUIRE_OK(hvp_ema_pairs_update(test_ctx(), &table, m[step]));
        REQUIRE_OK(hvp_ema_pairs_update(test_ctx(), &per_pair, m[step]));
        ref_ema(t_ref, s_ref, sizes, NP, m[step]);
        ref_ema(tab_ref, stab_ref, tsizes, NP - 1, m[step]);
        for (int i = 0, k = 0; i < NP; i++) {
            EXPECT_CLOSE("ema pairs", test_read(&tone[i]), t_ref[i], (size_t)sizes[i], FWD_TOL);
            expect_same("ema run", &tv[i], &tone[i]);
            expect_same("ema per pair", &tpair[i], &tone[i]);
            if (i != 2) {
                EXPECT_CLOSE("ema table", test_read(&ttab[k]), tab_ref[k], (size_t)sizes[i],
                             FWD_TOL);
                expect_same("ema table", &ttab[k], &tone[i]);
                k++;
            }
        }
    }
    hvp_arena_rewind(ctx->params, mark);
}

/* Grads before and after clipping against the reference, for max norms above and below; the
 * optimizer's packed form (hvp_optim_clip_*) bitwise as the list's. */
static void check_clip(int per_param, float max_norm, int want_clipped)
{
    hvp_ctx *ctx = test_ctx();
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_param ps[NP], pk[NP];
    double *p_ref[NP], *g_ref[NP], norms[NP];
    make_params(ps, pk, p_ref, 0);
    new_grads(ps, pk, g_ref);
    ref_optim_list ref = {NP, p_ref, g_ref, NULL, NULL, param_sizes(), NULL, NULL};
    double total = ref_grad_norms(&ref, norms);
    if (max_norm < 0) { /* relative to the largest norm clipped against */
        double big = total;
        if (per_param)
            for (int i = 0, first = 1; i < NP; i++, first = 0)
                big = first || norms[i] > big ? norms[i] : big;
        max_norm = (float)(-max_norm * big);
    }
    float *before[NP];
    for (int i = 0; i < NP; i++)
        before[i] = test_read(&ps[i].grad);
    hvp_optim *o;
    hvp_optim_config oc = hvp_optim_defaults(HVP_OPTIM_SGD);
    REQUIRE_OK(hvp_optim_create(ctx, &oc, pk, NP, &o));
    EXPECT(o->seg != NULL, "the packed list takes the multi-tensor path");
    hvp_tensor out = test_tensor(1, (int[]){per_param ? NP : 1}, NULL);
    hvp_tensor outk = test_tensor(1, (int[]){per_param ? NP : 1}, NULL);
    if (per_param) {
        REQUIRE_OK(hvp_clip_grad_per_param(ctx, ps, NP, max_norm, &out));
        REQUIRE_OK(hvp_optim_clip_grad_per_param(ctx, o, max_norm, &outk));
    } else {
        REQUIRE_OK(hvp_clip_grad_norm(ctx, ps, NP, max_norm, &out));
        REQUIRE_OK(hvp_optim_clip_grad_norm(ctx, o, max_norm, &outk));
    }
    EXPECT_CLOSE(per_param ? "clip norms" : "clip total norm", test_read(&out),
                 per_param ? norms : &total, per_param ? NP : 1, FWD_TOL);
    expect_same("clip norms", &outk, &out);
    int clipped = 0;
    for (int i = 0; i < NP; i++) {
        size_t n = (size_t)param_size(i);
        double c = max_norm / ((per_param ? norms[i] : total) + 1e-6);
        float *got = test_read(&ps[i].grad);
        expect_same("clipped grad", &pk[i].grad, &ps[i].grad);
        if (c < 1) {
            clipped++;
            for (size_t j = 0; j < n; j++)
                g_ref[i][j] *= c;
            EXPECT_CLOSE("clipped grad", got, g_ref[i], n, FWD_TOL);
        } else {
            EXPECT(memcmp(got, before[i], n * sizeof(float)) == 0, "%s: grad of %s changed",
                   per_param ? "per param" : "global", ps[i].name);
        }
    }
    /* want_clipped -1: some but not all. */
    EXPECT(want_clipped < 0 ? clipped > 0 && clipped < NP : clipped == want_clipped,
           "%s max %g: %d tensors clipped, want %d", per_param ? "per param" : "global",
           (double)max_norm, clipped, want_clipped);
    hvp_optim_destroy(o);
    hvp_arena_rewind(ctx->params, mark);
}

HVP_TEST(optim_clip_grad_norm)
{
    /* Norms of the tiny/full grads: total about 6 / 41; per param from at most 1 (one
     * element) to 4.7 / 37. */
    check_clip(0, 2.0f, NP);   /* clips */
    check_clip(0, 1000.0f, 0); /* does not */
    check_clip(1, 1.0f, -1);   /* clips some, not others */
    check_clip(1, 1000.0f, 0);
    /* Thresholds just above the norms (scale factors between 1 and 2 must not apply). */
    check_clip(0, -1.5f, 0);
    check_clip(1, -1.5f, 0);
}
