/* Vision Transformer as DINO's vision_transformer.py (and timm) builds it: patch conv ->
 * [cls; patches] + pos_embed -> pre-norm blocks (x + drop_path(attn(norm1(x))), then
 * x + drop_path(mlp(norm2(x)))) -> final LayerNorm -> the class token. No head, no dropout
 * besides drop path (DINO's drop_rate and attn_drop_rate are 0). The final norm is applied
 * to the class-token rows only: it works per token, so the features are the same. Images
 * of another side (a multiple of the patch) get the position embedding interpolated to
 * their patch grid (DINO's interpolate_pos_encoding), its gradient back to pos_embed. */
#include <stdlib.h>
#include <string.h>

#include "hvp/config.h"
#include "hvp/nn.h"
#include "nn/module_util.h"

#define LN_EPS 1e-6f

hvp_status hvp_vit_preset(const char *name, int img_size, int patch, int in_channels,
                          float drop_path, hvp_vit_config *out)
{
    memset(out, 0, sizeof *out);
    const char *n = strncmp(name, "vit_", 4) == 0 ? name + 4 : name;
    if (strcmp(n, "tiny") == 0)
        *out = (hvp_vit_config){0, 0, 0, 192, 12, 3, 4.0f, 0, 0};
    else if (strcmp(n, "small") == 0)
        *out = (hvp_vit_config){0, 0, 0, 384, 12, 6, 4.0f, 0, 0};
    else if (strcmp(n, "base") == 0)
        *out = (hvp_vit_config){0, 0, 0, 768, 12, 12, 4.0f, 0, 0};
    else
        return HVP_FAIL(HVP_ERR_ARG, "ViT preset '%s': tiny, small or base", name);
    out->img_size = img_size;
    out->patch = patch;
    out->in_channels = in_channels;
    out->drop_path = drop_path;
    return HVP_OK;
}

/* "<prefix>.<what>" or "<what>". */
static hvp_status name(char *buf, size_t size, const char *prefix, const char *what)
{
    int n = *prefix ? snprintf(buf, size, "%s.%s", prefix, what) : snprintf(buf, size, "%s", what);
    if (n < 0 || (size_t)n >= size)
        return HVP_FAIL(HVP_ERR_ARG, "parameter name too long: %s.%s", prefix, what);
    return HVP_OK;
}

/* A DINO Linear: weight [out, in] truncated normal (std 0.02), bias 0 (no decay). */
static hvp_status linear_init(hvp_linear *l, hvp_state *s, hvp_ctx *ctx, const char *base,
                              int in, int out)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->out = out;
    char n[128];
    HVP_TRY(name(n, sizeof n, base, "weight"));
    HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){out, in}, HVP_INIT_TRUNC_NORMAL_02, in, 0,
                            &l->w));
    HVP_TRY(name(n, sizeof n, base, "bias"));
    return hvp_state_param(s, ctx, n, 1, &out, HVP_INIT_ZERO, 0, 1, &l->b);
}

/* A LayerNorm: weight 1, bias 0, neither decayed. */
static hvp_status norm_init(hvp_param *w, hvp_param *b, hvp_state *s, hvp_ctx *ctx,
                            const char *base, int dim)
{
    char n[128];
    HVP_TRY(name(n, sizeof n, base, "weight"));
    HVP_TRY(hvp_state_param(s, ctx, n, 1, &dim, HVP_INIT_ONE, 0, 1, w));
    HVP_TRY(name(n, sizeof n, base, "bias"));
    return hvp_state_param(s, ctx, n, 1, &dim, HVP_INIT_ZERO, 0, 1, b);
}

hvp_status hvp_vit_init(hvp_vit *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                        const hvp_vit_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const char *p = prefix ? prefix : "";
    int D = cfg->dim, C = cfg->in_channels, P = cfg->patch;
    if (C != 1 && C != 3)
        return HVP_FAIL(HVP_ERR_ARG, "ViT input channels %d: 1 or 3", C);
    if (D < 1 || cfg->depth < 1 || cfg->heads < 1 || D % cfg->heads != 0)
        return HVP_FAIL(HVP_ERR_ARG, "ViT: dim %d must be a positive multiple of heads %d, depth "
                        "%d positive", D, cfg->heads, cfg->depth);
    if (P < 1 || cfg->img_size < P || cfg->img_size % P != 0)
        return HVP_FAIL(HVP_ERR_ARG, "ViT: image size %d is not a multiple of patch size %d",
                        cfg->img_size, P);
    int hidden = (int)(D * cfg->mlp_ratio);
    if (hidden < 1)
        return HVP_FAIL(HVP_ERR_ARG, "ViT: mlp_ratio %g leaves no hidden units",
                        (double)cfg->mlp_ratio);
    if (!(cfg->drop_path >= 0 && cfg->drop_path < 1))
        return HVP_FAIL(HVP_ERR_ARG, "ViT: drop_path %g must be in [0, 1)",
                        (double)cfg->drop_path);
    m->grid = cfg->img_size / P;
    m->tokens = m->grid * m->grid + 1;
    m->feature_dim = D;
    m->seed = s->init_seed ^ 0x5669542d44504154ULL; /* "ViT-DPAT" */

    char n[128], base[128];
    HVP_TRY(name(n, sizeof n, p, "cls_token"));
    HVP_TRY(hvp_state_param(s, ctx, n, 3, (int[]){1, 1, D}, HVP_INIT_TRUNC_NORMAL_02, 0, 1,
                            &m->cls_token));
    HVP_TRY(name(n, sizeof n, p, "pos_embed"));
    HVP_TRY(hvp_state_param(s, ctx, n, 3, (int[]){1, m->tokens, D}, HVP_INIT_TRUNC_NORMAL_02, 0,
                            1, &m->pos_embed));
    if (cfg->masked_im_modeling) { /* iBOT: nn.Parameter(torch.zeros(1, embed_dim)) */
        HVP_TRY(name(n, sizeof n, p, "masked_embed"));
        HVP_TRY(hvp_state_param(s, ctx, n, 2, (int[]){1, D}, HVP_INIT_ZERO, 0, 1,
                                &m->masked_embed));
    }
    /* The patch conv keeps nn.Conv2d's default init (DINO's _init_weights skips it). */
    hvp_conv *pc = &m->patch_embed;
    pc->c_in = C;
    pc->c_out = D;
    pc->k = P;
    pc->stride = P;
    pc->pad = 0;
    int fan = C * P * P;
    HVP_TRY(name(n, sizeof n, p, "patch_embed.proj.weight"));
    HVP_TRY(hvp_state_param(s, ctx, n, 4, (int[]){D, C, P, P}, HVP_INIT_LINEAR_DEFAULT, fan, 0,
                            &pc->w));
    HVP_TRY(name(n, sizeof n, p, "patch_embed.proj.bias"));
    HVP_TRY(hvp_state_param(s, ctx, n, 1, &D, HVP_INIT_LINEAR_DEFAULT, fan, 1, &pc->b));

    m->blocks = calloc((size_t)cfg->depth, sizeof *m->blocks);
    if (!m->blocks)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < cfg->depth; i++) {
        hvp_vit_block *b = &m->blocks[i];
        /* DINO: dpr = torch.linspace(0, drop_path_rate, depth) */
        b->drop_rate = cfg->depth > 1 ? cfg->drop_path * (float)i / (float)(cfg->depth - 1) : 0;
        char blk[64];
        snprintf(blk, sizeof blk, "blocks.%d", i);
        HVP_TRY(name(base, sizeof base, p, blk));
        char sub[160];
        snprintf(sub, sizeof sub, "%s.norm1", base);
        HVP_TRY(norm_init(&b->norm1_w, &b->norm1_b, s, ctx, sub, D));
        snprintf(sub, sizeof sub, "%s.attn.qkv", base);
        HVP_TRY(linear_init(&b->qkv, s, ctx, sub, D, 3 * D));
        snprintf(sub, sizeof sub, "%s.attn.proj", base);
        HVP_TRY(linear_init(&b->proj, s, ctx, sub, D, D));
        snprintf(sub, sizeof sub, "%s.norm2", base);
        HVP_TRY(norm_init(&b->norm2_w, &b->norm2_b, s, ctx, sub, D));
        snprintf(sub, sizeof sub, "%s.mlp.fc1", base);
        HVP_TRY(linear_init(&b->fc1, s, ctx, sub, D, hidden));
        snprintf(sub, sizeof sub, "%s.mlp.fc2", base);
        HVP_TRY(linear_init(&b->fc2, s, ctx, sub, hidden, D));
    }
    HVP_TRY(name(n, sizeof n, p, "norm"));
    return norm_init(&m->norm_w, &m->norm_b, s, ctx, n, D);
}

void hvp_vit_free(hvp_vit *m)
{
    free(m->blocks);
    m->blocks = NULL;
}

/* y = LayerNorm(x) with its statistics (allocated here). */
static hvp_status layernorm(hvp_ctx *ctx, const hvp_tensor *x, const hvp_param *w,
                            const hvp_param *b, hvp_tensor *y, hvp_tensor *mean,
                            hvp_tensor *rstd)
{
    int rows = (int)(hvp_numel(x) / (size_t)x->shape[x->ndim - 1]);
    HVP_TRY(hvp_act_like(ctx, "vit layernorm", x, y));
    HVP_TRY(hvp_act(ctx, "vit layernorm mean", mean, 1, &rows));
    HVP_TRY(hvp_act(ctx, "vit layernorm rstd", rstd, 1, &rows));
    return hvp_layernorm_fwd(ctx, x, &w->value, &b->value, LN_EPS, y, mean, rstd);
}

/* out = x + dp(attn(norm1(x))); out = mid + dp(mlp(norm2(mid))). out is the caller's; with
 * keep == 0 mid is out itself and every scratch tensor is given back after each branch. */
static hvp_status block_forward(hvp_vit *m, int index, const hvp_pass *p, const hvp_tensor *x,
                                const hvp_tensor *out)
{
    hvp_vit_block *b = &m->blocks[index];
    hvp_ctx *ctx = p->ctx;
    int B = x->shape[0], T = x->shape[1], D = m->cfg.dim, H = m->cfg.heads;
    b->dropped = p->train && b->drop_rate > 0;
    b->step = m->step;
    uint32_t layer = 2u * (uint32_t)index;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    b->x = *x;
    hvp_tensor mid = *out;
    if (p->keep)
        HVP_TRY(hvp_act_like(ctx, "vit block middle", x, &mid));

    hvp_tensor h, qkv, att, a;
    HVP_TRY(layernorm(ctx, x, &b->norm1_w, &b->norm1_b, &h, &b->ln1_mean, &b->ln1_rstd));
    HVP_TRY(hvp_linear_forward(&b->qkv, p, &h, &qkv));
    hvp_attn_shape as = {B, T, H, D / H};
    int saved_n = (int)hvp_attention_saved_numel(&as);
    HVP_TRY(hvp_act(ctx, "vit attention saved", &b->attn_saved, 1, &saved_n));
    HVP_TRY(hvp_act_like(ctx, "vit attention output", x, &att));
    HVP_TRY(hvp_attention_fwd(ctx, &as, &qkv, &b->attn_saved, &att));
    HVP_TRY(hvp_linear_forward(&b->proj, p, &att, &a));
    if (b->dropped)
        HVP_TRY(hvp_drop_path_fwd(ctx, &a, b->drop_rate, m->seed, b->step, layer, &a));
    HVP_TRY(hvp_add_fwd(ctx, x, &a, &mid));
    if (!p->keep)
        hvp_arena_rewind(ctx->acts, mark);
    b->mid = mid;

    hvp_tensor g, f;
    HVP_TRY(layernorm(ctx, &mid, &b->norm2_w, &b->norm2_b, &h, &b->ln2_mean, &b->ln2_rstd));
    HVP_TRY(hvp_linear_forward(&b->fc1, p, &h, &b->fc1_out));
    g = b->fc1_out;
    if (p->keep)
        HVP_TRY(hvp_act_like(ctx, "vit gelu", &b->fc1_out, &g));
    HVP_TRY(hvp_gelu_fwd(ctx, &b->fc1_out, &g));
    HVP_TRY(hvp_linear_forward(&b->fc2, p, &g, &f));
    if (b->dropped)
        HVP_TRY(hvp_drop_path_fwd(ctx, &f, b->drop_rate, m->seed, b->step, layer + 1, &f));
    HVP_TRY(hvp_add_fwd(ctx, &mid, &f, out));
    if (!p->keep)
        hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

/* x -> the tokens after the last block (before the final norm), *mask applied first. With
 * cls_stack (eval only), the class-token rows of the last `nlast` blocks' outputs go to it,
 * [nlast, B, D], earliest block first. */
static hvp_status encode_blocks(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                                const hvp_tensor *mask, hvp_tensor *out, int nlast,
                                const hvp_tensor *cls_stack)
{
    hvp_ctx *ctx = p->ctx;
    const hvp_vit_config *c = &m->cfg;
    int P = c->patch;
    if (x->ndim != 4 || x->shape[1] != c->in_channels || x->shape[2] != x->shape[3] ||
        x->shape[2] < P || x->shape[2] % P != 0) {
        char s[64];
        return HVP_FAIL(HVP_ERR_ARG,
                        "ViT: input %s, expected [n, %d, S, S] with S a multiple of the patch "
                        "size %d", hvp_shape_str(x, s, sizeof s), c->in_channels, P);
    }
    int g = x->shape[2] / P;
    m->in_grid = g;
    m->in_tokens = g * g + 1;
    int B = x->shape[0], D = c->dim, T = m->in_tokens, L = T - 1;
    m->masked = mask != NULL;
    if (mask) {
        if (!c->masked_im_modeling)
            return HVP_FAIL(HVP_ERR_ARG, "ViT: a patch mask needs masked_im_modeling");
        m->mask = *mask;
    }
    hvp_tensor conv_out, tok;
    HVP_TRY(hvp_conv_forward(&m->patch_embed, p, x, &conv_out));
    if (mask)
        HVP_TRY(hvp_vit_mask_fwd(ctx, B, D, L, &conv_out, mask, &m->masked_embed.value,
                                 &conv_out));
    int shape[3] = {B, T, D};
    HVP_TRY(hvp_act(ctx, "vit tokens", &tok, 3, shape));
    hvp_tensor pos = m->pos_embed.value;
    if (g != m->grid) { /* DINO's interpolate_pos_encoding; the stored grid as it is */
        HVP_TRY(hvp_act(ctx, "vit interpolated pos_embed", &pos, 2, (int[]){T, D}));
        HVP_TRY(hvp_vit_pos_interp_fwd(ctx, D, m->grid, g, hvp_vit_pos_interp_scale(m->grid, g),
                                       &m->pos_embed.value, &pos));
    }
    HVP_TRY(hvp_vit_embed_fwd(ctx, B, D, L, &conv_out, &m->cls_token.value, &pos, &tok));
    if (!p->keep) {
        /* The tokens and one more buffer, used in turn; each block's scratch above them. */
        hvp_tensor pong;
        HVP_TRY(hvp_act(ctx, "vit tokens", &pong, 3, shape));
        hvp_tensor bufs[2] = {tok, pong};
        for (int i = 0; i < c->depth; i++) {
            HVP_TRY(block_forward(m, i, p, &bufs[i % 2], &bufs[(i + 1) % 2]));
            int k = i - (c->depth - nlast);
            if (cls_stack && k >= 0) {
                hvp_tensor row = hvp_tensor_view(cls_stack, (size_t)k * B * D, 2, (int[]){B, D});
                HVP_TRY(hvp_vit_cls_fwd(ctx, B, T, D, &bufs[(i + 1) % 2], &row));
            }
        }
        tok = bufs[c->depth % 2];
    } else {
        for (int i = 0; i < c->depth; i++) {
            hvp_tensor o;
            HVP_TRY(hvp_act(ctx, "vit block output", &o, 3, shape));
            HVP_TRY(block_forward(m, i, p, &tok, &o));
            tok = o;
        }
    }
    *out = tok;
    return HVP_OK;
}

static hvp_status encode(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                         const hvp_tensor *mask, hvp_tensor *out)
{
    return encode_blocks(m, p, x, mask, out, 0, NULL);
}

hvp_status hvp_vit_forward_last_blocks(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                                       int n, hvp_tensor *features)
{
    hvp_ctx *ctx = p->ctx;
    int B = x->shape[0], D = m->cfg.dim;
    if (n < 1 || n > m->cfg.depth || p->keep || p->train)
        return HVP_FAIL(HVP_ERR_ARG, "ViT: features of the last %d blocks (1..%d, eval mode "
                        "without a backward)", n, m->cfg.depth);
    hvp_tensor stack, normed, tok, mean, rstd, eye;
    HVP_TRY(hvp_act(ctx, "vit last blocks' class tokens", &stack, 2, (int[]){n * B, D}));
    HVP_TRY(encode_blocks(m, p, x, NULL, &tok, n, &stack));
    /* DINO's get_intermediate_layers: each block's output through the final norm */
    HVP_TRY(layernorm(ctx, &stack, &m->norm_w, &m->norm_b, &normed, &mean, &rstd));
    /* [n, B, D] -> [B, n D] (torch.cat(..., dim=-1)) as a batched product with the identity:
     * image b's n rows (stride B D) times I, to its row of n D; exact for finite values */
    float *host = calloc((size_t)D * D, sizeof *host);
    if (!host)
        return HVP_FAIL(HVP_ERR_NOMEM, "ViT: out of host memory");
    for (int i = 0; i < D; i++)
        host[(size_t)i * D + i] = 1.0f;
    hvp_status st = hvp_act(ctx, "identity", &eye, 2, (int[]){D, D});
    if (st == HVP_OK)
        st = hvp_tensor_upload(ctx, &eye, host);
    free(host);
    HVP_TRY(st);
    HVP_TRY(hvp_act(ctx, "vit last blocks' features", features, 2, (int[]){B, n * D}));
    return hvp_gemm_strided_batched(ctx, 0, 0, n, D, D, 1.0f, hvp_mat_of(&normed, B * D),
                                    (size_t)D, hvp_mat_of(&eye, D), 0, 0.0f,
                                    hvp_mat_of(features, D), (size_t)n * D, B);
}

hvp_status hvp_vit_forward(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                           hvp_tensor *features)
{
    hvp_ctx *ctx = p->ctx;
    hvp_tensor tok;
    HVP_TRY(encode(m, p, x, NULL, &tok));
    int B = x->shape[0], D = m->cfg.dim, T = m->in_tokens;
    HVP_TRY(hvp_act(ctx, "vit class tokens", &m->cls_rows, 2, (int[]){B, D}));
    HVP_TRY(hvp_vit_cls_fwd(ctx, B, T, D, &tok, &m->cls_rows));
    return layernorm(ctx, &m->cls_rows, &m->norm_w, &m->norm_b, features, &m->norm_mean,
                     &m->norm_rstd);
}

hvp_status hvp_vit_forward_tokens(hvp_vit *m, const hvp_pass *p, const hvp_tensor *x,
                                  const hvp_tensor *mask, hvp_tensor *tokens)
{
    HVP_TRY(encode(m, p, x, mask, &m->cls_rows));
    return layernorm(p->ctx, &m->cls_rows, &m->norm_w, &m->norm_b, tokens, &m->norm_mean,
                     &m->norm_rstd);
}

/* dx of the block's input from dout, the gradient of its output. */
static hvp_status block_backward(hvp_vit *m, int index, hvp_ctx *ctx, const hvp_tensor *dout,
                                 hvp_tensor *dx)
{
    hvp_vit_block *b = &m->blocks[index];
    int B = b->x.shape[0], T = b->x.shape[1], D = m->cfg.dim, H = m->cfg.heads;
    uint32_t layer = 2u * (uint32_t)index;

    /* MLP branch: out = mid + dp(fc2(gelu(fc1(norm2(mid))))) */
    hvp_tensor df = *dout, dg, dh, dmid;
    if (b->dropped) {
        HVP_TRY(hvp_act_like(ctx, "vit drop path gradient", dout, &df));
        HVP_TRY(hvp_drop_path_bwd(ctx, dout, b->drop_rate, m->seed, b->step, layer + 1, &df));
    }
    HVP_TRY(hvp_linear_backward(&b->fc2, ctx, &df, &dg));
    HVP_TRY(hvp_gelu_bwd(ctx, &b->fc1_out, &dg, &dg));
    HVP_TRY(hvp_linear_backward(&b->fc1, ctx, &dg, &dh));
    HVP_TRY(hvp_act_like(ctx, "vit block middle gradient", dout, &dmid));
    HVP_TRY(hvp_layernorm_bwd(ctx, &b->mid, &b->norm2_w.value, &b->ln2_mean, &b->ln2_rstd, &dh,
                              &dmid, &b->norm2_w.grad, &b->norm2_b.grad));
    HVP_TRY(hvp_add_acc(ctx, &dmid, dout));

    /* Attention branch: mid = x + dp(proj(attn(qkv(norm1(x))))) */
    hvp_tensor da = dmid, datt, dqkv, dn;
    if (b->dropped) {
        HVP_TRY(hvp_act_like(ctx, "vit drop path gradient", &dmid, &da));
        HVP_TRY(hvp_drop_path_bwd(ctx, &dmid, b->drop_rate, m->seed, b->step, layer, &da));
    }
    HVP_TRY(hvp_linear_backward(&b->proj, ctx, &da, &datt));
    HVP_TRY(hvp_act(ctx, "vit qkv gradient", &dqkv, 3, (int[]){B, T, 3 * D}));
    hvp_attn_shape as = {B, T, H, D / H};
    HVP_TRY(hvp_attention_bwd(ctx, &as, &b->attn_saved, &datt, &dqkv));
    HVP_TRY(hvp_linear_backward(&b->qkv, ctx, &dqkv, &dn));
    HVP_TRY(hvp_act_like(ctx, "vit block input gradient", dout, dx));
    HVP_TRY(hvp_layernorm_bwd(ctx, &b->x, &b->norm1_w.value, &b->ln1_mean, &b->ln1_rstd, &dn, dx,
                              &b->norm1_w.grad, &b->norm1_b.grad));
    return hvp_add_acc(ctx, dx, &dmid);
}

/* From g, the gradient of the tokens after the last block [B, T, D]. */
static hvp_status decode_backward(hvp_vit *m, hvp_ctx *ctx, int B, hvp_tensor g)
{
    const hvp_vit_config *c = &m->cfg;
    int D = c->dim, T = m->in_tokens, L = T - 1, grid = m->in_grid;
    for (int i = c->depth - 1; i >= 0; i--) {
        hvp_tensor d;
        HVP_TRY(block_backward(m, i, ctx, &g, &d));
        g = d;
    }
    hvp_tensor dconv, dpos = m->pos_embed.grad;
    HVP_TRY(hvp_act(ctx, "vit patch gradient", &dconv, 4, (int[]){B, D, grid, grid}));
    if (grid != m->grid) { /* the interpolated embedding's gradient, then back through it */
        HVP_TRY(hvp_act(ctx, "vit interpolated pos_embed gradient", &dpos, 2, (int[]){T, D}));
        HVP_TRY(hvp_tensor_zero(ctx, &dpos));
    }
    HVP_TRY(hvp_vit_embed_bwd(ctx, B, D, L, &g, &dconv, &m->cls_token.grad, &dpos));
    if (grid != m->grid)
        HVP_TRY(hvp_vit_pos_interp_bwd(ctx, D, m->grid, grid,
                                       hvp_vit_pos_interp_scale(m->grid, grid), &dpos,
                                       &m->pos_embed.grad));
    if (m->masked)
        HVP_TRY(hvp_vit_mask_bwd(ctx, B, D, L, &dconv, &m->mask, &dconv,
                                 &m->masked_embed.grad));
    return hvp_conv_backward(&m->patch_embed, ctx, &dconv, NULL);
}

hvp_status hvp_vit_backward(hvp_vit *m, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    const hvp_vit_config *c = &m->cfg;
    int B = m->cls_rows.shape[0], D = c->dim, T = m->in_tokens;
    hvp_tensor dcls, g;
    HVP_TRY(hvp_act_like(ctx, "vit class token gradient", &m->cls_rows, &dcls));
    HVP_TRY(hvp_layernorm_bwd(ctx, &m->cls_rows, &m->norm_w.value, &m->norm_mean, &m->norm_rstd,
                              dfeatures, &dcls, &m->norm_w.grad, &m->norm_b.grad));
    HVP_TRY(hvp_act(ctx, "vit token gradient", &g, 3, (int[]){B, T, D}));
    HVP_TRY(hvp_vit_cls_bwd(ctx, B, T, D, &dcls, &g));
    return decode_backward(m, ctx, B, g);
}

hvp_status hvp_vit_backward_tokens(hvp_vit *m, hvp_ctx *ctx, const hvp_tensor *dtokens)
{
    int B = m->cls_rows.shape[0];
    hvp_tensor g;
    HVP_TRY(hvp_act_like(ctx, "vit token gradient", &m->cls_rows, &g));
    HVP_TRY(hvp_layernorm_bwd(ctx, &m->cls_rows, &m->norm_w.value, &m->norm_mean, &m->norm_rstd,
                              dtokens, &g, &m->norm_w.grad, &m->norm_b.grad));
    return decode_backward(m, ctx, B, g);
}

/* ---- the ViT family behind hvp_backbone_ops ---------------------------------------- */

hvp_backbone_config hvp_vit_backbone_config(const hvp_vit_config *cfg)
{
    hvp_backbone_config b;
    memset(&b, 0, sizeof b);
    b.ops = &hvp_vit_backbone_ops;
    b.family.vit = *cfg;
    return b;
}

/* variant: the preset; data.image_size, model.patch_size and model.drop_path. */
static hvp_status backbone_from_config(const char *variant, const hvp_config *c, int channels,
                                       hvp_backbone_config *out)
{
    if (c->data.image_size % c->model.patch_size != 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "data.image_size = %d is not a multiple of model.patch_size = %d "
                        "(ViT patches must tile the image)",
                        c->data.image_size, c->model.patch_size);
    hvp_vit_config v;
    HVP_TRY(hvp_vit_preset(variant, c->data.image_size, c->model.patch_size, channels,
                           (float)c->model.drop_path, &v));
    *out = hvp_vit_backbone_config(&v);
    return HVP_OK;
}

static void backbone_describe(const hvp_backbone_config *cfg, char *buf, size_t size)
{
    const hvp_vit_config *v = &cfg->family.vit;
    snprintf(buf, size, "ViT (dim %d, depth %d, heads %d, patch %d, %d px)", v->dim, v->depth,
             v->heads, v->patch, v->img_size);
}

static void backbone_set_drop_path(hvp_backbone_config *cfg, float rate)
{
    cfg->family.vit.drop_path = rate;
}

static void backbone_set_masked_tokens(hvp_backbone_config *cfg, int on)
{
    cfg->family.vit.masked_im_modeling = on;
}

static hvp_status backbone_init(void *impl, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                                const hvp_backbone_config *cfg)
{
    return hvp_vit_init(impl, s, ctx, prefix, &cfg->family.vit);
}

static void backbone_free(void *impl)
{
    hvp_vit_free(impl);
}

static int backbone_feature_dim(const void *impl)
{
    return ((const hvp_vit *)impl)->feature_dim;
}

/* Patches per side for images of side px (0: the side of pos_embed); 0 unless they tile. */
static int backbone_token_grid(const void *impl, int side)
{
    const hvp_vit *m = impl;
    if (side == 0)
        return m->grid;
    return side > 0 && side % m->cfg.patch == 0 ? side / m->cfg.patch : 0;
}

static void backbone_set_step(void *impl, uint32_t step)
{
    ((hvp_vit *)impl)->step = step;
}

static void backbone_invert_seed(void *impl)
{
    hvp_vit *m = impl;
    m->seed = ~m->seed;
}

static hvp_status backbone_forward(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                   hvp_tensor *features)
{
    return hvp_vit_forward(impl, p, x, features);
}

static hvp_status backbone_backward(void *impl, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    return hvp_vit_backward(impl, ctx, dfeatures);
}

static hvp_status backbone_forward_last_blocks(void *impl, const hvp_pass *p,
                                               const hvp_tensor *x, int n,
                                               hvp_tensor *features)
{
    return hvp_vit_forward_last_blocks(impl, p, x, n, features);
}

static hvp_status backbone_forward_tokens(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                          const hvp_tensor *mask, hvp_tensor *tokens)
{
    return hvp_vit_forward_tokens(impl, p, x, mask, tokens);
}

static hvp_status backbone_backward_tokens(void *impl, hvp_ctx *ctx, const hvp_tensor *dtokens)
{
    return hvp_vit_backward_tokens(impl, ctx, dtokens);
}

const hvp_backbone_ops hvp_vit_backbone_ops = {
    .name = "ViT",
    .weight_names = "timm",
    .patch_tiled = 1,
    .from_config = backbone_from_config,
    .describe = backbone_describe,
    .set_drop_path = backbone_set_drop_path,
    .set_masked_tokens = backbone_set_masked_tokens,
    .module_size = sizeof(hvp_vit),
    .init = backbone_init,
    .free = backbone_free,
    .feature_dim = backbone_feature_dim,
    .token_grid = backbone_token_grid,
    .set_step = backbone_set_step,
    .invert_seed = backbone_invert_seed,
    .forward = backbone_forward,
    .backward = backbone_backward,
    .forward_last_blocks = backbone_forward_last_blocks,
    .forward_tokens = backbone_forward_tokens,
    .backward_tokens = backbone_backward_tokens,
};
