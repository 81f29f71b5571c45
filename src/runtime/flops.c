/* FLOPs counted from shapes, never timed: each op adds what its shapes imply, so a step's
 * count is the same on every device and along every kernel path. */
#include "hvp/runtime.h"

void hvp_flops_add(hvp_ctx *ctx, hvp_flops_kind k, double n)
{
    if (n > 0)
        ctx->flops[k] += (uint64_t)(n + 0.5);
}

uint64_t hvp_flops_total(const hvp_ctx *ctx)
{
    uint64_t sum = 0;
    for (int k = 0; k < HVP_FLOPS_KINDS; k++)
        sum += ctx->flops[k];
    return sum;
}

int hvp_flops_count_only(hvp_ctx *ctx, int on)
{
    int was = ctx->count_only;
    ctx->count_only = on;
    return was;
}
