/* Whole runs whose length is set by FLOPs: train.match spends the reference run's FLOPs
 * within one step, and what a run counts without computing is what it then spends. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "hvp/train.h"
#include "test_train_util.h"

static int run(const char *cfg, const char *const *overrides, hvp_train_result *res)
{
    int n = 0;
    while (overrides[n])
        n++;
    hvp_config c;
    hvp_status st = hvp_config_from_cli(&c, cfg, n, (char *const *)overrides);
    if (st == HVP_OK)
        st = hvp_train(&c, NULL, res);
    if (st != HVP_OK)
        TEST_FAIL("%s %s: %s", cfg, n > 0 ? overrides[0] : "", hvp_last_error());
    return st == HVP_OK;
}

/* 20 images in batches of 8 with the last one kept: 3 steps an epoch, the third of 4 images. */
HVP_TEST(train_flops_match_spends_the_reference_budget_within_one_step)
{
    tr_files f;
    if (!tr_begin(&f, 10, 2, "[train]\n"))
        return;
    char dir_ref[1100], dir_hvp[1100], match[2048];
    snprintf(dir_ref, sizeof dir_ref, "run.dir=%s/ref", f.root);
    snprintf(dir_hvp, sizeof dir_hvp, "run.dir=%s/hvp", f.root);
    /* the baseline for 2 epochs (6 steps) ... */
    const char *baseline[] = {dir_ref, "hvp.enabled=false", "data.drop_last=false", NULL};
    hvp_train_result ref, hvp;
    if (!run(f.cfg, baseline, &ref))
        return;
    /* ... counted without computing, as train.match does ... */
    hvp_config c;
    hvp_step_flops plan;
    long steps = 0;
    REQUIRE_OK(hvp_config_from_cli(&c, f.cfg, 3, (char *const *)baseline));
    REQUIRE_OK(hvp_train_count_flops(&c, &plan, &steps));
    EXPECT(steps == 6 && ref.steps == 6, "the baseline runs %ld steps (counted %ld), expected 6",
           ref.steps, steps);
    EXPECT(plan.step[1][1] < plan.step[1][0], "the last batch of 4 costs %.0f FLOPs, a full one "
           "%.0f", plan.step[1][1], plan.step[1][0]);
    EXPECT(hvp_step_flops_sum(&plan, steps) == ref.flops,
           "counted without computing %.0f FLOPs, the run spent %.0f",
           hvp_step_flops_sum(&plan, steps), ref.flops);

    /* ... and HVP with 3 views, scoring every other step, matched to it */
    snprintf(match, sizeof match, "train.match=%s hvp.enabled=false data.drop_last=false",
             f.cfg);
    const char *matched[] = {dir_hvp, "data.drop_last=false", "hvp.select_every=2", match, NULL};
    if (!run(f.cfg, matched, &hvp))
        return;
    REQUIRE_OK(hvp_config_from_cli(&c, f.cfg, 4, (char *const *)matched));
    hvp_step_flops own;
    REQUIRE_OK(hvp_train_count_flops(&c, &own, &steps));
    double largest = fmax(own.step[1][0], own.step[0][0]); /* a full batch, scored or not */
    printf("  baseline %ld steps, %.6g FLOPs; HVP %ld steps, %.6g FLOPs (%.2f of its largest "
           "step apart)\n", ref.steps, ref.flops, hvp.steps, hvp.flops,
           fabs(hvp.flops - ref.flops) / largest);
    EXPECT(fabs(hvp.flops - ref.flops) <= largest / 2,
           "the matched run spent %.0f FLOPs in %ld steps, the reference %.0f: more than half "
           "a step (%.0f) apart", hvp.flops, hvp.steps, ref.flops, largest);
    EXPECT(hvp.steps < ref.steps, "HVP took %ld steps, the baseline %ld: selection costs FLOPs",
           hvp.steps, ref.steps);
}

/* train.flops_budget and train.match together are refused, naming both. */
HVP_TEST(io_config_flops_budget_and_match_are_exclusive)
{
    hvp_config c;
    hvp_config_defaults(&c);
    REQUIRE_OK(hvp_config_override(&c, "train.flops_budget=1e12"));
    REQUIRE_OK(hvp_config_override(&c, "train.match=configs/quickstart.ini"));
    hvp_status st = hvp_config_check(&c);
    EXPECT(st != HVP_OK && strstr(hvp_last_error(), "train.flops_budget") &&
               strstr(hvp_last_error(), "train.match"),
           "expected an error naming both keys, got: %s", st == HVP_OK ? "none" : hvp_last_error());
}
