/* Multi-head scaled dot-product attention, timm ViT layout (cl/attention.cl for the head
 * split/merge layouts; the products as strided batched GEMMs over the B*H heads; the row
 * softmax of src/ops/softmax.c in between).
 *
 * Saved state (caller's tensor, hvp_attention_saved_numel floats):
 *   [0, 3*BH*T*Dh)          q, k, v, each [B*H, T, Dh]
 *   [3*BH*T*Dh, + BH*T*T)   P = softmax(Q K^T * Dh^-0.5), [B*H, T, T] */
#include <math.h>

#include "hvp/ops.h"
#include "ops/op_util.h"

static hvp_status check_shape(const char *op, const hvp_attn_shape *s)
{
    if (!s || s->B <= 0 || s->T <= 0 || s->H <= 0 || s->Dh <= 0)
        return HVP_FAIL(HVP_ERR_ARG, "%s: bad shape (B=%d T=%d H=%d Dh=%d)", op, s ? s->B : 0,
                        s ? s->T : 0, s ? s->H : 0, s ? s->Dh : 0);
    return HVP_OK;
}

size_t hvp_attention_saved_numel(const hvp_attn_shape *s)
{
    size_t bh = (size_t)s->B * (size_t)s->H, t = (size_t)s->T;
    return 3 * bh * t * (size_t)s->Dh + bh * t * t;
}

/* Launches one of the layout kernels over (Dh, T, B); each work-item moves parts*H floats. */
static hvp_status layout(hvp_ctx *ctx, hvp_kernel_id kernel, int parts, const hvp_attn_shape *s,
                         cl_mem src, size_t src_off, cl_mem dst, size_t dst_off)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, kernel, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, parts);
    hvp_arg_int(&a, s->B);
    hvp_arg_int(&a, s->T);
    hvp_arg_int(&a, s->H);
    hvp_arg_int(&a, s->Dh);
    /* CPUs: a whole head row per work-item, as vectors; GPUs: an element (cl/attention.cl) */
    int span = ctx->row_per_item ? s->Dh : 1;
    hvp_arg_int(&a, span);
    hvp_arg_mem(&a, src);
    hvp_arg_int(&a, (int)src_off);
    hvp_arg_mem(&a, dst);
    hvp_arg_int(&a, (int)dst_off);
    size_t global[3] = {(size_t)((s->Dh + span - 1) / span), (size_t)s->T, (size_t)s->B};
    return hvp_launch(ctx, &a, 3, global, NULL);
}

static hvp_mat at(const hvp_tensor *t, size_t elem, int ld)
{
    hvp_mat m = {t->buf, t->off + elem, ld};
    return m;
}

hvp_status hvp_attention_fwd(hvp_ctx *ctx, const hvp_attn_shape *s, const hvp_tensor *qkv,
                             const hvp_tensor *saved, const hvp_tensor *out)
{
    HVP_TRY(check_shape("attention_fwd", s));
    int T = s->T, Dh = s->Dh, bh = s->B * s->H;
    size_t per = (size_t)bh * (size_t)T * (size_t)Dh, tt = (size_t)T * (size_t)T,
           td = (size_t)T * (size_t)Dh;
    HVP_TRY(hvp_expect_numel(qkv, 3 * per, "attention_fwd", "qkv"));
    HVP_TRY(hvp_expect_numel(saved, hvp_attention_saved_numel(s), "attention_fwd", "saved"));
    HVP_TRY(hvp_expect_numel(out, per, "attention_fwd", "out"));
    /* q, k, v into the saved state; S = Q K^T into P's place, the softmax in place;
     * O = P V per head into scratch, then merged into out's (B, T, H, Dh) layout. */
    HVP_TRY(layout(ctx, HVP_K_attention_fwd_split, 3, s, qkv->buf, qkv->off, saved->buf,
                   saved->off));
    size_t p_at = 3 * per;
    HVP_TRY(hvp_gemm_strided_batched(ctx, 0, 1, T, T, Dh, 1.0f, at(saved, 0, Dh), td,
                                     at(saved, per, Dh), td, 0.0f, at(saved, p_at, T), tt, bh));
    hvp_tensor p = hvp_tensor_view(saved, p_at, 2, (int[]){bh * T, T});
    HVP_TRY(hvp_softmax_fwd(ctx, &p, 1.0f / sqrtf((float)Dh), &p));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor o;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "attention output per head", &o, 1, (int[]){(int)per}));
    hvp_status st = hvp_gemm_strided_batched(ctx, 0, 0, T, Dh, T, 1.0f, at(saved, p_at, T), tt,
                                             at(saved, 2 * per, Dh), td, 0.0f, at(&o, 0, Dh),
                                             td, bh);
    if (st == HVP_OK)
        st = layout(ctx, HVP_K_attention_fwd_merge, 1, s, o.buf, o.off, out->buf, out->off);
    /* Later work on the in-order queue runs after these kernels, so the scratch may be
     * handed out again right away. */
    hvp_arena_rewind(ctx->acts, mark);
    return st;
}

hvp_status hvp_attention_bwd(hvp_ctx *ctx, const hvp_attn_shape *s, const hvp_tensor *saved,
                             const hvp_tensor *dout, const hvp_tensor *dqkv)
{
    HVP_TRY(check_shape("attention_bwd", s));
    int T = s->T, Dh = s->Dh, bh = s->B * s->H;
    size_t per = (size_t)bh * (size_t)T * (size_t)Dh, tt = (size_t)T * (size_t)T,
           td = (size_t)T * (size_t)Dh, p_at = 3 * per;
    HVP_TRY(hvp_expect_numel(saved, hvp_attention_saved_numel(s), "attention_bwd", "saved"));
    HVP_TRY(hvp_expect_numel(dout, per, "attention_bwd", "dout"));
    HVP_TRY(hvp_expect_numel(dqkv, 3 * per, "attention_bwd", "dqkv"));
    /* Scratch: dO per head [BH, T, Dh], dq dk dv [3, BH, T, Dh], dP / dS [BH, T, T]. */
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor scratch;
    hvp_status st = hvp_alloc_f32(ctx->acts, "attention backward scratch", &scratch, 1,
                                  (int[]){(int)(4 * per + (size_t)bh * tt)});
    if (st != HVP_OK)
        return st;
    size_t d_o = 0, d_q = per, d_k = 2 * per, d_v = 3 * per, d_p = 4 * per;
    float scale = 1.0f / sqrtf((float)Dh);
    hvp_tensor dp = hvp_tensor_view(&scratch, d_p, 2, (int[]){bh * T, T});
    hvp_tensor p = hvp_tensor_view(saved, p_at, 2, (int[]){bh * T, T});
    /* dO into head layout. */
    st = layout(ctx, HVP_K_attention_bwd_split, 1, s, dout->buf, dout->off, scratch.buf,
                scratch.off + d_o);
    /* dV = P^T dO */
    if (st == HVP_OK)
        st = hvp_gemm_strided_batched(ctx, 1, 0, T, Dh, T, 1.0f, at(saved, p_at, T), tt,
                                      at(&scratch, d_o, Dh), td, 0.0f, at(&scratch, d_v, Dh),
                                      td, bh);
    /* dP = dO V^T */
    if (st == HVP_OK)
        st = hvp_gemm_strided_batched(ctx, 0, 1, T, T, Dh, 1.0f, at(&scratch, d_o, Dh), td,
                                      at(saved, 2 * per, Dh), td, 0.0f, at(&scratch, d_p, T), tt,
                                      bh);
    /* dS (gradient of the unscaled scores Q K^T), in place */
    if (st == HVP_OK)
        st = hvp_softmax_bwd(ctx, &p, &dp, scale, &dp);
    /* dQ = dS K, dK = dS^T Q */
    if (st == HVP_OK)
        st = hvp_gemm_strided_batched(ctx, 0, 0, T, Dh, T, 1.0f, at(&scratch, d_p, T), tt,
                                      at(saved, per, Dh), td, 0.0f, at(&scratch, d_q, Dh), td,
                                      bh);
    if (st == HVP_OK)
        st = hvp_gemm_strided_batched(ctx, 1, 0, T, Dh, T, 1.0f, at(&scratch, d_p, T), tt,
                                      at(saved, 0, Dh), td, 0.0f, at(&scratch, d_k, Dh), td, bh);
    /* dq, dk, dv (contiguous) into dqkv's (B, T, 3, H, Dh) layout */
    if (st == HVP_OK)
        st = layout(ctx, HVP_K_attention_bwd_merge, 3, s, scratch.buf, scratch.off + d_q,
                    dqkv->buf, dqkv->off);
    hvp_arena_rewind(ctx->acts, mark);
    return st;
}
