/* A run's length from FLOPs: the sum over its steps of their counted FLOPs, the number of
 * steps nearest to a budget, and the budget of a reference config (train.match). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvp/train.h"

static double step_flops(const hvp_step_flops *p, long s)
{
    int scored = s % p->select_every == 0;
    int last = s % p->steps_per_epoch == p->steps_per_epoch - 1;
    return p->step[scored][last];
}

double hvp_step_flops_sum(const hvp_step_flops *p, long n)
{
    double sum = 0;
    for (long s = 0; s < n; s++)
        sum += step_flops(p, s);
    return sum;
}

long hvp_step_flops_steps_for(const hvp_step_flops *p, double budget)
{
    double sum = 0;
    long n = 0;
    /* take step n while that brings the sum nearer to the budget */
    for (double f = step_flops(p, 0); f > 0 && budget - sum >= f / 2; f = step_flops(p, n)) {
        sum += f;
        n++;
    }
    return n;
}

#define MAX_MATCH_WORDS 32

hvp_status hvp_train_match_budget(const char *match, double *budget)
{
    char text[HVP_CFG_STR], *words[MAX_MATCH_WORDS], *save = NULL;
    snprintf(text, sizeof text, "%s", match);
    int n = 0;
    for (char *w = strtok_r(text, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (n == MAX_MATCH_WORDS)
            return HVP_FAIL(HVP_ERR_ARG, "train.match = \"%s\": more than %d words", match,
                            MAX_MATCH_WORDS);
        words[n++] = w;
    }
    if (n == 0)
        return HVP_FAIL(HVP_ERR_ARG, "train.match is empty: expected \"CONFIG [section.key=value "
                        "...]\"");
    hvp_config *ref = malloc(sizeof *ref);
    if (!ref)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    hvp_status st = hvp_config_from_cli(ref, words[0], n - 1, words + 1);
    if (st == HVP_OK && (ref->train.flops_budget > 0 || ref->train.match[0]))
        st = HVP_FAIL(HVP_ERR_ARG, "train.match = \"%s\": that config sets its own length by "
                      "FLOPs (train.flops_budget or train.match); the reference must give it by "
                      "train.epochs and train.max_steps", match);
    hvp_step_flops plan;
    long steps = 0;
    if (st == HVP_OK)
        st = hvp_train_count_flops(ref, &plan, &steps);
    if (st == HVP_OK)
        *budget = hvp_step_flops_sum(&plan, steps);
    free(ref);
    if (st != HVP_OK) {
        char why[1024];
        snprintf(why, sizeof why, "%s", hvp_last_error());
        return HVP_FAIL(st, "train.match = \"%s\": %s", match, why);
    }
    return HVP_OK;
}
