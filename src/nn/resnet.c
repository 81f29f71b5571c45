/* ResNet-18/34/50 as torchvision builds them (v1.5: the stride sits on the 3x3 conv of a
 * bottleneck), with the CIFAR stem option and a channel width multiplier. The classifier
 * (fc) is left out: self-supervised heads take the pooled features. */
#include <stdlib.h>
#include <string.h>

#include "hvp/config.h"
#include "hvp/nn.h"
#include "nn/module_util.h"

static int scaled(int channels, float width)
{
    int c = (int)(channels * width + 0.5f);
    return c < 1 ? 1 : c;
}

static hvp_status block_init(hvp_resnet_block *b, hvp_state *s, hvp_ctx *ctx, const char *name,
                             int in, int planes, int stride, int bottleneck, int zero_init)
{
    memset(b, 0, sizeof *b);
    b->bottleneck = bottleneck;
    int out = bottleneck ? planes * 4 : planes;
    char n[128]; /* name (< 96) + ".downsample.0" */
    /* torchvision registers conv1, bn1, conv2, bn2, [conv3, bn3], downsample. */
    int nconv = bottleneck ? 3 : 2;
    for (int i = 0; i < nconv; i++) {
        int cin = i == 0 ? in : planes, cout = i == nconv - 1 ? out : planes;
        int k = bottleneck && i != 1 ? 1 : 3;
        int st = (bottleneck ? i == 1 : i == 0) ? stride : 1;
        snprintf(n, sizeof n, "%s.conv%d", name, i + 1);
        HVP_TRY(hvp_conv_init(&b->conv[i], s, ctx, n, cin, cout, k, st, k / 2, 0));
        snprintf(n, sizeof n, "%s.bn%d", name, i + 1);
        /* A ReLU follows every batch norm but the last, whose ReLU comes after the add. */
        HVP_TRY(hvp_bn_init(&b->bn[i], s, ctx, n, cout, 1, i < nconv - 1));
    }
    if (zero_init)
        HVP_TRY(hvp_tensor_zero(ctx, &b->bn[nconv - 1].w.value));
    if (stride != 1 || in != out) {
        b->has_downsample = 1;
        snprintf(n, sizeof n, "%s.downsample.0", name);
        HVP_TRY(hvp_conv_init(&b->down_conv, s, ctx, n, in, out, 1, stride, 0, 0));
        snprintf(n, sizeof n, "%s.downsample.1", name);
        HVP_TRY(hvp_bn_init(&b->down_bn, s, ctx, n, out, 1, 0));
    }
    return HVP_OK;
}

hvp_status hvp_resnet_init(hvp_resnet *m, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                           const hvp_resnet_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    int counts[4], bottleneck;
    switch (cfg->depth) {
    case 18: memcpy(counts, (int[]){2, 2, 2, 2}, sizeof counts); bottleneck = 0; break;
    case 34: memcpy(counts, (int[]){3, 4, 6, 3}, sizeof counts); bottleneck = 0; break;
    case 50: memcpy(counts, (int[]){3, 4, 6, 3}, sizeof counts); bottleneck = 1; break;
    default:
        return HVP_FAIL(HVP_ERR_ARG, "ResNet depth %d: 18, 34 or 50", cfg->depth);
    }
    if (cfg->in_channels != 1 && cfg->in_channels != 3)
        return HVP_FAIL(HVP_ERR_ARG, "ResNet input channels %d: 1 or 3", cfg->in_channels);
    if (!(cfg->width > 0))
        return HVP_FAIL(HVP_ERR_ARG, "ResNet width multiplier must be positive");
    char n[96];
    const char *p = prefix && *prefix ? prefix : "";
    const char *dot = *p ? "." : "";
    int stem = scaled(64, cfg->width);
    snprintf(n, sizeof n, "%s%sconv1", p, dot);
    if (cfg->cifar_stem)
        HVP_TRY(hvp_conv_init(&m->conv1, s, ctx, n, cfg->in_channels, stem, 3, 1, 1, 0));
    else
        HVP_TRY(hvp_conv_init(&m->conv1, s, ctx, n, cfg->in_channels, stem, 7, 2, 3, 0));
    snprintf(n, sizeof n, "%s%sbn1", p, dot);
    HVP_TRY(hvp_bn_init(&m->bn1, s, ctx, n, stem, 1, 1));

    m->nblocks = counts[0] + counts[1] + counts[2] + counts[3];
    m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
    if (!m->blocks)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    int in = stem, k = 0;
    for (int layer = 0; layer < 4; layer++) {
        int planes = scaled(64 << layer, cfg->width);
        for (int i = 0; i < counts[layer]; i++, k++) {
            snprintf(n, sizeof n, "%s%slayer%d.%d", p, dot, layer + 1, i);
            int stride = layer > 0 && i == 0 ? 2 : 1;
            HVP_TRY(block_init(&m->blocks[k], s, ctx, n, in, planes, stride, bottleneck,
                               cfg->zero_init_residual));
            in = bottleneck ? planes * 4 : planes;
        }
    }
    m->feature_dim = in;
    return HVP_OK;
}

void hvp_resnet_free(hvp_resnet *m)
{
    free(m->blocks);
    m->blocks = NULL;
}

/* out = relu(main(x) + shortcut(x)), written over the main path's last batch-norm output,
 * which no backward reads (a batch norm's backward reads its input). */
static hvp_status block_forward(hvp_resnet_block *b, const hvp_pass *p, const hvp_tensor *x,
                                hvp_tensor *out)
{
    int nconv = b->bottleneck ? 3 : 2;
    hvp_tensor h = *x;
    b->x = *x;
    for (int i = 0; i < nconv; i++) {
        hvp_tensor c, n;
        HVP_TRY(hvp_conv_forward(&b->conv[i], p, &h, &c));
        HVP_TRY(hvp_bn_forward(&b->bn[i], p, &c, &n)); /* with the ReLU but for the last */
        h = n;
    }
    hvp_tensor shortcut = *x;
    if (b->has_downsample) {
        hvp_tensor c;
        HVP_TRY(hvp_conv_forward(&b->down_conv, p, x, &c));
        HVP_TRY(hvp_bn_forward(&b->down_bn, p, &c, &shortcut));
    }
    *out = h;
    HVP_TRY(hvp_add_relu_fwd(p->ctx, &h, &shortcut, out));
    b->out = *out;
    return HVP_OK;
}

static hvp_status block_backward(hvp_resnet_block *b, hvp_ctx *ctx, const hvp_tensor *dout,
                                 hvp_tensor *dx)
{
    int nconv = b->bottleneck ? 3 : 2;
    hvp_tensor g;
    HVP_TRY(hvp_act_like(ctx, "block gradient", dout, &g));
    HVP_TRY(hvp_relu_bwd(ctx, &b->out, dout, &g));
    hvp_tensor h = g;
    for (int i = nconv - 1; i >= 0; i--) {
        hvp_tensor dbn, dconv;
        HVP_TRY(hvp_bn_backward(&b->bn[i], ctx, &h, &dbn));
        HVP_TRY(hvp_conv_backward(&b->conv[i], ctx, &dbn, &dconv));
        h = dconv;
    }
    if (b->has_downsample) {
        hvp_tensor dbn, dconv;
        HVP_TRY(hvp_bn_backward(&b->down_bn, ctx, &g, &dbn));
        HVP_TRY(hvp_conv_backward(&b->down_conv, ctx, &dbn, &dconv));
        HVP_TRY(hvp_add_acc(ctx, &h, &dconv));
    } else {
        HVP_TRY(hvp_add_acc(ctx, &h, &g));
    }
    *dx = h;
    return HVP_OK;
}

/* Without a backward to feed, nothing but the current stage's input is needed: move it
 * down to `mark` and free everything above, unless the move would overlap itself (the
 * input is larger than the space below it), in which case everything stays. */
static hvp_status move_down(hvp_ctx *ctx, hvp_arena_mark mark, hvp_tensor *h)
{
    hvp_arena_mark top = hvp_arena_get_mark(ctx->acts);
    hvp_arena_rewind(ctx->acts, mark);
    hvp_tensor moved;
    HVP_TRY(hvp_act_like(ctx, "resnet stage input", h, &moved));
    if (moved.buf == h->buf && moved.off == h->off)
        return HVP_OK;
    if (moved.buf == h->buf && moved.off + hvp_numel(h) > h->off) {
        hvp_arena_rewind(ctx->acts, top);
        return HVP_OK;
    }
    HVP_TRY(hvp_tensor_copy(ctx, &moved, h));
    *h = moved;
    return HVP_OK;
}

hvp_status hvp_resnet_forward(hvp_resnet *m, const hvp_pass *p, const hvp_tensor *x,
                              hvp_tensor *features)
{
    hvp_ctx *ctx = p->ctx;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor h, c, n;
    HVP_TRY(hvp_conv_forward(&m->conv1, p, x, &c));
    HVP_TRY(hvp_bn_forward(&m->bn1, p, &c, &n)); /* with the ReLU */
    m->stem_out = n;
    if (m->cfg.cifar_stem) {
        h = n;
    } else {
        m->pool = (hvp_maxpool_desc){n.shape[0], n.shape[1], n.shape[2], n.shape[3], 3, 2, 1};
        int shape[4] = {n.shape[0], n.shape[1], hvp_maxpool_out(n.shape[2], 3, 2, 1),
                        hvp_maxpool_out(n.shape[3], 3, 2, 1)};
        HVP_TRY(hvp_act(ctx, "max pool output", &h, 4, shape));
        HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_I32, 4, shape, "max pool indices", &m->pool_idx));
        HVP_TRY(hvp_maxpool_fwd(ctx, &m->pool, &n, &h, &m->pool_idx));
    }
    for (int i = 0; i < m->nblocks; i++) {
        if (!p->keep)
            HVP_TRY(move_down(ctx, mark, &h));
        hvp_tensor out;
        HVP_TRY(block_forward(&m->blocks[i], p, &h, &out));
        h = out;
    }
    m->last = h;
    HVP_TRY(hvp_act(ctx, "resnet features", features, 2, (int[]){h.shape[0], h.shape[1]}));
    return hvp_avgpool_fwd(ctx, h.shape[0], h.shape[1], h.shape[2] * h.shape[3], &h, features);
}

hvp_status hvp_resnet_backward(hvp_resnet *m, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    hvp_tensor g;
    HVP_TRY(hvp_act_like(ctx, "resnet last gradient", &m->last, &g));
    HVP_TRY(hvp_avgpool_bwd(ctx, g.shape[0], g.shape[1], g.shape[2] * g.shape[3], dfeatures, &g));
    for (int i = m->nblocks - 1; i >= 0; i--) {
        hvp_tensor d;
        HVP_TRY(block_backward(&m->blocks[i], ctx, &g, &d));
        g = d;
    }
    hvp_tensor dstem;
    if (m->cfg.cifar_stem) {
        dstem = g;
    } else {
        HVP_TRY(hvp_act_like(ctx, "max pool input gradient", &m->stem_out, &dstem));
        HVP_TRY(hvp_maxpool_bwd(ctx, &m->pool, &g, &m->pool_idx, &dstem));
    }
    hvp_tensor dbn;
    HVP_TRY(hvp_bn_backward(&m->bn1, ctx, &dstem, &dbn));
    return hvp_conv_backward(&m->conv1, ctx, &dbn, NULL);
}

/* ---- the ResNet family behind hvp_backbone_ops ------------------------------------- */

hvp_backbone_config hvp_resnet_backbone_config(const hvp_resnet_config *cfg)
{
    hvp_backbone_config b;
    memset(&b, 0, sizeof b);
    b.ops = &hvp_resnet_backbone_ops;
    b.family.resnet = *cfg;
    return b;
}

/* variant: the depth; model.cifar_stem, model.width and model.zero_init_residual. */
static hvp_status backbone_from_config(const char *variant, const hvp_config *c, int channels,
                                       hvp_backbone_config *out)
{
    hvp_resnet_config r = {atoi(variant), channels, c->model.cifar_stem, (float)c->model.width,
                           c->model.zero_init_residual};
    *out = hvp_resnet_backbone_config(&r);
    return HVP_OK;
}

static void backbone_describe(const hvp_backbone_config *cfg, char *buf, size_t size)
{
    snprintf(buf, size, "ResNet-%d", cfg->family.resnet.depth);
}

static hvp_status backbone_init(void *impl, hvp_state *s, hvp_ctx *ctx, const char *prefix,
                                const hvp_backbone_config *cfg)
{
    return hvp_resnet_init(impl, s, ctx, prefix, &cfg->family.resnet);
}

static void backbone_free(void *impl)
{
    hvp_resnet_free(impl);
}

static int backbone_feature_dim(const void *impl)
{
    return ((const hvp_resnet *)impl)->feature_dim;
}

static hvp_status backbone_forward(void *impl, const hvp_pass *p, const hvp_tensor *x,
                                   hvp_tensor *features)
{
    return hvp_resnet_forward(impl, p, x, features);
}

static hvp_status backbone_backward(void *impl, hvp_ctx *ctx, const hvp_tensor *dfeatures)
{
    return hvp_resnet_backward(impl, ctx, dfeatures);
}

/* No drop path, no tokens, features of the last stage only. */
const hvp_backbone_ops hvp_resnet_backbone_ops = {.name = "ResNet",
                                                  .weight_names = "torchvision",
                                                  .from_config = backbone_from_config,
                                                  .describe = backbone_describe,
                                                  .module_size = sizeof(hvp_resnet),
                                                  .init = backbone_init,
                                                  .free = backbone_free,
                                                  .feature_dim = backbone_feature_dim,
                                                  .forward = backbone_forward,
                                                  .backward = backbone_backward};
