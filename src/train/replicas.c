/* Data-parallel training's collectives over the trainer's state (replicas.h). */
#include <inttypes.h>
#include <stdlib.h>

#include "hvp/dist.h"
#include "hvp/optim.h"
#include "hvp/runtime.h"
#include "train/replicas.h"

/* The gradients go through host memory (OpenCL buffers are not MPI's): a packed list in
 * one transfer each way, any other tensor by tensor, then hvp_dist's rank-ordered
 * all-reduce over them all at once. Each rank's loss is the mean over its images, so the
 * mean over ranks is the gradient of the global batch's mean. */
hvp_status hvp_replicas_average_gradients(hvp_ctx *ctx, const hvp_param *params, int n,
                                          float **host)
{
    hvp_tensor values, grads;
    int flat = hvp_params_packed(params, n, &values, &grads);
    size_t total = 0;
    for (int i = 0; !flat && i < n; i++)
        total += hvp_numel(&params[i].grad);
    if (flat)
        total = hvp_numel(&grads);
    if (!*host && !(*host = malloc(total * sizeof **host)))
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for the gradients (%zu floats)",
                        total);
    if (flat)
        HVP_TRY(hvp_tensor_download(ctx, &grads, *host));
    size_t off = 0;
    for (int i = 0; !flat && i < n; off += hvp_numel(&params[i].grad), i++)
        HVP_TRY(hvp_tensor_download(ctx, &params[i].grad, *host + off));
    HVP_TRY(hvp_dist_allreduce_mean_f32(*host, total));
    if (flat)
        return hvp_tensor_upload(ctx, &grads, *host);
    off = 0;
    for (int i = 0; i < n; off += hvp_numel(&params[i].grad), i++)
        HVP_TRY(hvp_tensor_upload(ctx, &params[i].grad, *host + off));
    return HVP_OK;
}

hvp_status hvp_replicas_mean_loss(double *loss)
{
    HVP_TRY(hvp_dist_allreduce_sum_f64(loss, 1));
    *loss /= hvp_dist_world();
    return HVP_OK;
}

hvp_status hvp_replicas_sum_selection(hvp_selector *sel)
{
    int n = 3 + sel->npairs;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    v[0] = sel->sum_chosen_loss;
    v[1] = sel->sum_all_loss;
    v[2] = (double)sel->scored_samples;
    for (int k = 0; k < sel->npairs; k++)
        v[3 + k] = (double)sel->wins[k];
    hvp_status st = hvp_dist_allreduce_sum_f64(v, (size_t)n);
    sel->sum_chosen_loss = v[0];
    sel->sum_all_loss = v[1];
    sel->scored_samples = (long)v[2];
    for (int k = 0; k < sel->npairs; k++)
        sel->wins[k] = (long)v[3 + k];
    free(v);
    return st;
}

/* The FNV-1a of a state's parameters and buffers, continuing h. */
static hvp_status hash_state(hvp_ctx *ctx, const hvp_state *s, uint64_t *h)
{
    for (int i = 0; i < s->nparams + s->nbuffers; i++) {
        int is_param = i < s->nparams;
        const hvp_buffer *b = is_param ? NULL : &s->buffers[i - s->nparams];
        if (b && b->is_count) {
            *h = hvp_fnv1a_bytes(*h, &b->count, sizeof b->count);
            continue;
        }
        const hvp_tensor *v = is_param ? &s->params[i].value : &b->value;
        float *host = malloc(hvp_nbytes(v) + 1);
        if (!host)
            return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
        hvp_status st = hvp_tensor_download(ctx, v, host);
        *h = hvp_fnv1a_bytes(*h, host, hvp_nbytes(v));
        free(host);
        HVP_TRY(st);
    }
    return HVP_OK;
}

/* The all-reduces are ordered, so any difference between the ranks is a defect. */
hvp_status hvp_replicas_check(hvp_ctx *ctx, const hvp_state *const *states, int n, long step,
                              uint64_t *hash)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++)
        HVP_TRY(hash_state(ctx, states[i], &h));
    int world = hvp_dist_world();
    uint64_t *all = calloc((size_t)world, sizeof *all);
    if (!all)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    hvp_status st = hvp_dist_allgather(&h, sizeof h, all);
    for (int r = 1; st == HVP_OK && r < world; r++)
        if (all[r] != all[0])
            st = HVP_FAIL(HVP_ERR_NUMERIC, "after step %ld rank %d's parameters and buffers "
                          "differ from rank 0's (FNV-1a %016" PRIx64 " against %016" PRIx64
                          "): the ranks have diverged", step, r, all[r], all[0]);
    *hash = all[0];
    free(all);
    return st;
}
