/* 2-d convolution (cl/conv2d.cl): forward by an implicit GEMM (no column matrix) or
 * im2col + GEMM; weight gradient by an implicit GEMM or im2col + GEMM; input gradient by
 * the implicit GEMM (stride 1, or phase by phase for strided convolutions) or GEMM + col2im
 * (a gather); 1x1 stride-1 convolutions straight on the input. Which way each of the three
 * runs (hvp_conv2d_implicit): as forced, else as the device's tune table says (measured by
 * `hvp tune`, src/ops/conv2d_tune.c), else by a heuristic measured on PoCL.
 * Scratch comes from ctx->acts and is rewound before returning; the batch is processed in
 * chunks so that the column matrix stays under a bound (hvp_conv2d_scratch_limit). */
#include "hvp/ops.h"
#include "ops/conv2d_tune.h"
#include "ops/op_util.h"

#include <stdlib.h>

/* Scratch bound per call, in floats, when the context sets none (64 MiB). */
#define DEFAULT_SCRATCH_FLOATS ((size_t)16 << 20)

static size_t scratch_floats(const hvp_ctx *ctx)
{
    return ctx->ops.conv_scratch_floats ? ctx->ops.conv_scratch_floats : DEFAULT_SCRATCH_FLOATS;
}

size_t hvp_conv2d_scratch_limit(hvp_ctx *ctx, size_t floats)
{
    size_t old = scratch_floats(ctx);
    if (floats)
        ctx->ops.conv_scratch_floats = floats;
    return old;
}

int hvp_conv2d_out_h(const hvp_conv2d_desc *d)
{
    return (d->h + 2 * d->pad - d->kh) / d->stride + 1;
}

int hvp_conv2d_out_w(const hvp_conv2d_desc *d)
{
    return (d->w + 2 * d->pad - d->kw) / d->stride + 1;
}

static hvp_status check_desc(const hvp_conv2d_desc *d, const char *op)
{
    if (d->n < 1 || d->c_in < 1 || d->h < 1 || d->w < 1 || d->c_out < 1 || d->kh < 1 ||
        d->kw < 1 || d->stride < 1 || d->pad < 0)
        return HVP_FAIL(HVP_ERR_ARG,
                        "%s: bad descriptor (n=%d c_in=%d h=%d w=%d c_out=%d k=%dx%d stride=%d "
                        "pad=%d)",
                        op, d->n, d->c_in, d->h, d->w, d->c_out, d->kh, d->kw, d->stride, d->pad);
    if (d->h + 2 * d->pad < d->kh || d->w + 2 * d->pad < d->kw)
        return HVP_FAIL(HVP_ERR_ARG, "%s: kernel %dx%d larger than the padded input %dx%d", op,
                        d->kh, d->kw, d->h + 2 * d->pad, d->w + 2 * d->pad);
    return HVP_OK;
}

static int is_pointwise(const hvp_conv2d_desc *d)
{
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad == 0;
}

/* Images per chunk so that per_image floats of scratch per image stay under the bound. */
static int chunk_images(const hvp_ctx *ctx, const hvp_conv2d_desc *d, size_t per_image)
{
    size_t nb = per_image ? scratch_floats(ctx) / per_image : (size_t)d->n;
    if (nb < 1)
        nb = 1;
    if (nb > (size_t)d->n)
        nb = (size_t)d->n;
    return (int)nb;
}

static hvp_status check_tensors(const hvp_conv2d_desc *d, const char *op, const hvp_tensor *x,
                                const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y)
{
    size_t ho = (size_t)hvp_conv2d_out_h(d), wo = (size_t)hvp_conv2d_out_w(d);
    size_t K = (size_t)d->c_in * (size_t)d->kh * (size_t)d->kw;
    if (x)
        HVP_TRY(hvp_expect_numel(x, (size_t)d->n * d->c_in * d->h * d->w, op, "x"));
    HVP_TRY(hvp_expect_numel(w, (size_t)d->c_out * K, op, "w"));
    if (b)
        HVP_TRY(hvp_expect_numel(b, (size_t)d->c_out, op, "b"));
    HVP_TRY(hvp_expect_numel(y, (size_t)d->n * d->c_out * ho * wo, op, "y"));
    /* Kernels index with int: one column chunk of one image must fit. */
    if (K * ho * wo > INT_MAX / 2)
        return HVP_FAIL(HVP_ERR_ARG, "%s: one image's column matrix is too large", op);
    return HVP_OK;
}

static hvp_status scratch(hvp_ctx *ctx, size_t n, const char *what, hvp_tensor *t)
{
    int len = (int)n;
    return hvp_alloc_f32(ctx->acts, what, t, 1, &len);
}

/* Column matrix of images [i0, i0+nb) into col (element (k,i,p) at k*ld + i*img_stride + p). */
static hvp_status im2col(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x, int i0,
                         int nb, const hvp_tensor *col, int ld, int img_stride)
{
    int ho = hvp_conv2d_out_h(d), wo = hvp_conv2d_out_w(d);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_fwd_im2col, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, nb);
    hvp_arg_int(&a, d->c_in);
    hvp_arg_int(&a, d->h);
    hvp_arg_int(&a, d->w);
    hvp_arg_int(&a, d->kh);
    hvp_arg_int(&a, d->kw);
    hvp_arg_int(&a, d->stride);
    hvp_arg_int(&a, d->pad);
    hvp_arg_int(&a, ho);
    hvp_arg_int(&a, wo);
    hvp_arg_mem(&a, x->buf);
    hvp_arg_int(&a, (int)(x->off + (size_t)i0 * d->c_in * d->h * d->w));
    hvp_arg_tensor(&a, col);
    hvp_arg_int(&a, ld);
    hvp_arg_int(&a, img_stride);
    size_t global[2] = {(size_t)ho, (size_t)d->c_in * d->kh * d->kw * nb};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* dst [d1, d0, P] = src [d0, d1, P] with src/dst given as (buffer, element offset). */
static hvp_status swap01(hvp_ctx *ctx, int d0, int d1, int P, cl_mem src, size_t src_off,
                         cl_mem dst, size_t dst_off)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_swap01, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d0);
    hvp_arg_int(&a, d1);
    hvp_arg_int(&a, P);
    hvp_arg_mem(&a, src);
    hvp_arg_int(&a, (int)src_off);
    hvp_arg_mem(&a, dst);
    hvp_arg_int(&a, (int)dst_off);
    size_t global[2] = {(size_t)P, (size_t)d0 * d1};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

static hvp_status add_bias(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *b,
                           const hvp_tensor *y)
{
    int P = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_fwd_bias, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, P);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, b);
    size_t global[2] = {(size_t)P, (size_t)d->n * d->c_out};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* Implicit GEMM (conv2d_fwd_igemm): a convolution of x by packed weights with no column
 * matrix. */
#define IG_CT 32 /* output channels of a work-item's tile, as in cl/conv2d.cl */
#define IG_PT 8  /* and its pixels */

static int ig_cpad(int c) { return (c + IG_CT - 1) / IG_CT * IG_CT; }

/* Where conv2d_fwd_igemm reads and writes beyond d: per-axis padding, the output grid and
 * its place in y (see the kernel). */
typedef struct ig_geom {
    int pad_h, pad_w, ho, wo, y_plane, y_base, y_row, y_col;
} ig_geom;

static ig_geom ig_forward(const hvp_conv2d_desc *d)
{
    int ho = hvp_conv2d_out_h(d), wo = hvp_conv2d_out_w(d);
    return (ig_geom){d->pad, d->pad, ho, wo, ho * wo, 0, wo, 1};
}

/* conv2d_w_pack into wt: the weights of a convolution with ci input and co output
 * channels and a skh x skw kernel (flip: a phase of an input gradient, see the kernel). */
static hvp_status w_pack(hvp_ctx *ctx, int ci, int co, int skh, int skw, const hvp_conv2d_desc *d,
                         int k0h, int k0w, int flip, const hvp_tensor *w, const hvp_tensor *wt)
{
    hvp_kernel *k;
    int panels = ctx->row_per_item; /* CPUs: an item per panel and input channel */
    HVP_TRY(hvp_kernel_get(ctx, panels ? HVP_K_conv2d_w_pack_panel : HVP_K_conv2d_w_pack, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, ci);
    hvp_arg_int(&a, co);
    hvp_arg_int(&a, skh);
    hvp_arg_int(&a, skw);
    hvp_arg_int(&a, d->kw);
    hvp_arg_int(&a, d->kh * d->kw);
    hvp_arg_int(&a, k0h);
    hvp_arg_int(&a, k0w);
    hvp_arg_int(&a, d->stride);
    hvp_arg_int(&a, ig_cpad(co));
    hvp_arg_int(&a, flip);
    hvp_arg_tensor(&a, w);
    hvp_arg_tensor(&a, wt);
    size_t gp[2] = {(size_t)ig_cpad(co), (size_t)ci * skh * skw};
    if (panels) {
        gp[0] = (size_t)ig_cpad(co) / IG_CT;
        gp[1] = (size_t)ci;
    }
    return hvp_launch(ctx, &a, 2, gp, NULL);
}

/* conv2d_fwd_igemm of d's channels, kernel size and stride (its padding and output from g). */
static hvp_status igemm_run(hvp_ctx *ctx, const hvp_conv2d_desc *d, const ig_geom *g,
                            const hvp_tensor *x, const hvp_tensor *wt, const hvp_tensor *y)
{
    /* At most 16 output channels: tiles of 16 pixels x 16 channels, whose FMAs all count
     * (a 32-channel tile would spend half of them on channels that do not exist). */
    int c16 = d->c_out <= 16, pt = c16 ? 16 : IG_PT;
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, c16 ? HVP_K_conv2d_fwd_igemm_c16 : HVP_K_conv2d_fwd_igemm, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c_in);
    hvp_arg_int(&a, d->h);
    hvp_arg_int(&a, d->w);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, d->kh);
    hvp_arg_int(&a, d->kw);
    hvp_arg_int(&a, d->stride);
    hvp_arg_int(&a, g->pad_h);
    hvp_arg_int(&a, g->pad_w);
    hvp_arg_int(&a, g->ho);
    hvp_arg_int(&a, g->wo);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, wt);
    hvp_arg_tensor(&a, y);
    hvp_arg_int(&a, g->y_plane);
    hvp_arg_int(&a, g->y_base);
    hvp_arg_int(&a, g->y_row);
    hvp_arg_int(&a, g->y_col);
    /* The pixels of all images in one space: a tile may span images (a 2x2 layer fills
     * 8-pixel tiles with two) */
    size_t global[2] = {(size_t)ig_cpad(d->c_out) / IG_CT,
                        ((size_t)d->n * g->ho * g->wo + pt - 1) / pt};
    /* Work-groups of one item on CPUs, as the register GEMM: each item is a whole tile. */
    size_t one[2] = {1, 1};
    return hvp_launch(ctx, &a, 2, global, ctx->info.type & CL_DEVICE_TYPE_CPU ? one : NULL);
}

/* x [planes][h][w] inside ph rows and pw columns of zeros on each side, into scratch
 * (conv2d_pad). */
static hvp_status pad_input(hvp_ctx *ctx, int planes, int h, int w, int ph, int pw,
                            const hvp_tensor *x, hvp_tensor *xp)
{
    HVP_TRY(scratch(ctx, (size_t)planes * (h + 2 * ph) * (w + 2 * pw), "conv2d padded input",
                    xp));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_pad, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, planes);
    hvp_arg_int(&a, h);
    hvp_arg_int(&a, w);
    hvp_arg_int(&a, ph);
    hvp_arg_int(&a, pw);
    int hp = h + 2 * ph, rows = ctx->row_per_item ? hp : 1; /* CPUs: a plane an item */
    hvp_arg_int(&a, rows);
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, xp);
    size_t global[2] = {(size_t)(hp + rows - 1) / rows, (size_t)planes};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* conv2d_fwd_igemm of x by packed weights wt, the convolution d with its padding made
 * zeros first (pad_input), so that no tap is masked. */
static hvp_status igemm_padded(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                               const hvp_tensor *wt, const hvp_tensor *y)
{
    hvp_conv2d_desc dp = *d;
    hvp_tensor xp = *x;
    if (d->pad > 0) {
        dp.h += 2 * d->pad;
        dp.w += 2 * d->pad;
        dp.pad = 0;
        HVP_TRY(pad_input(ctx, d->n * d->c_in, d->h, d->w, d->pad, d->pad, x, &xp));
    }
    ig_geom g = ig_forward(&dp);
    return igemm_run(ctx, &dp, &g, &xp, wt, y);
}

/* The convolution d of x by its weight w [c_out][c_in][kh][kw] into y. */
static hvp_status igemm(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                        const hvp_tensor *w, const hvp_tensor *y)
{
    hvp_tensor wt;
    HVP_TRY(scratch(ctx, (size_t)d->c_in * d->kh * d->kw * ig_cpad(d->c_out),
                    "conv2d transposed weights", &wt));
    HVP_TRY(w_pack(ctx, d->c_in, d->c_out, d->kh, d->kw, d, 0, 0, 0, w, &wt));
    return igemm_padded(ctx, d, x, &wt, y);
}

/* dx of convolution d as forward convolutions of dy by the rotated kernel, one per phase
 * of dx, in one launch (conv2d_dx_phases; for stride 1 the single convolution with padding
 * k - 1 - pad). The phases' packed sub-kernels follow each other in one buffer. */
static hvp_status dx_phases(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *w,
                            const hvp_tensor *dy, const hvp_tensor *dx)
{
    int s = d->stride, ho = hvp_conv2d_out_h(d), wo = hvp_conv2d_out_w(d);
    int cpad = ig_cpad(d->c_in);
    if (s == 1 && d->kh == d->kw && d->pad < d->kh) {
        /* One phase: the forward convolution of dy by the rotated kernel with padding
         * k - 1 - pad, unmasked on a padded copy of dy. */
        hvp_tensor wt;
        HVP_TRY(scratch(ctx, (size_t)d->kh * d->kw * d->c_out * cpad, "conv2d transposed weights",
                        &wt));
        HVP_TRY(w_pack(ctx, d->c_out, d->c_in, d->kh, d->kw, d, 0, 0, 1, w, &wt));
        hvp_conv2d_desc t = {d->n, d->c_out, ho, wo, d->c_in, d->kh, d->kw, 1,
                             d->kh - 1 - d->pad};
        return igemm_padded(ctx, &t, dy, &wt, dx);
    }
    size_t taps = 0;
    for (int ph = 0; ph < s * s; ph++) {
        int k0h = (ph / s + d->pad) % s, k0w = (ph % s + d->pad) % s;
        taps += (size_t)(k0h < d->kh ? (d->kh - k0h + s - 1) / s : 0) *
                (size_t)(k0w < d->kw ? (d->kw - k0w + s - 1) / s : 0);
    }
    hvp_tensor wt;
    HVP_TRY(scratch(ctx, (taps ? taps : 1) * d->c_out * cpad, "conv2d transposed weights", &wt));
    if (d->kh < s || d->kw < s) /* phases without taps */
        HVP_TRY(hvp_tensor_zero(ctx, dx));
    hvp_tensor sub = wt;
    for (int ph = 0; ph < s * s; ph++) {
        int k0h = (ph / s + d->pad) % s, k0w = (ph % s + d->pad) % s;
        int skh = k0h < d->kh ? (d->kh - k0h + s - 1) / s : 0;
        int skw = k0w < d->kw ? (d->kw - k0w + s - 1) / s : 0;
        if (!skh || !skw)
            continue;
        HVP_TRY(w_pack(ctx, d->c_out, d->c_in, skh, skw, d, k0h, k0w, 1, w, &sub));
        sub.off += (size_t)skh * skw * d->c_out * cpad;
    }
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_dx_phases, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, ho);
    hvp_arg_int(&a, wo);
    hvp_arg_int(&a, d->c_in);
    hvp_arg_int(&a, d->kh);
    hvp_arg_int(&a, d->kw);
    hvp_arg_int(&a, s);
    hvp_arg_int(&a, d->pad);
    hvp_arg_int(&a, d->h);
    hvp_arg_int(&a, d->w);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, &wt);
    hvp_arg_tensor(&a, dx);
    size_t hp = (size_t)(d->h + s - 1) / s, wp = (size_t)(d->w + s - 1) / s;
    size_t global[3] = {(size_t)s * s * cpad / IG_CT, (hp * wp + IG_PT - 1) / IG_PT,
                        (size_t)d->n};
    size_t one[3] = {1, 1, 1};
    return hvp_launch(ctx, &a, 3, global, ctx->info.type & CL_DEVICE_TYPE_CPU ? one : NULL);
}

int hvp_conv2d_igemm(hvp_ctx *ctx, int mode)
{
    int old = ctx->ops.conv_igemm;
    ctx->ops.conv_igemm = mode;
    return old;
}

int hvp_conv2d_forced(const hvp_ctx *ctx)
{
    const char *e = getenv("HVP_CONV_IGEMM");
    if (ctx->ops.conv_igemm < 0 && e && *e)
        return atoi(e) != 0;
    return ctx->ops.conv_igemm;
}

/* Without a tune table, the implicit GEMM from 16 input channels (the 3-channel stem
 * would fill 3 of a tile's 8), for every kernel size and stride, and the weight gradient
 * likewise. Since it reads a zero-padded input (no masked taps), it beat im2col + GEMM on
 * every ResNet-18 CIFAR layer on PoCL (bench ops, batch 32 and 128: 0.7-1.0x the time of
 * the forward at 8x8 and 4x4, 0.7x for the 1x1 stride-2 shortcut), where before it lost
 * at 8x8 and 4x4 at batch 32. */
static int heuristic_fwd(const hvp_conv2d_desc *d) { return d->c_in >= 16; }

static int heuristic_dw(const hvp_conv2d_desc *d) { return d->c_in >= 16; }

/* The input gradient by phases. Stride 1 (one phase, a forward convolution of padded dy):
 * as the forward; at 8x8 it took 0.8x the time of GEMM + col2im, at 4x4 0.8-1.0x (batch
 * 128 and 32). Strided: with the implicit weight gradient (then no column matrix is built
 * at all); the whole backward of the 3x3 stride-2 layer took 0.88x (batch 128) and 0.96x
 * (batch 32) the time, of the 1x1 stride-2 shortcut 1.0x and 0.91x. */
static int heuristic_dx(const hvp_conv2d_desc *d)
{
    if (d->stride == 1)
        return heuristic_fwd(d);
    return d->c_out >= 16 && heuristic_dw(d);
}

int hvp_conv2d_implicit(hvp_ctx *ctx, const hvp_conv2d_desc *d, hvp_conv2d_pass pass)
{
    if (is_pointwise(d))
        return 0;
    int forced = hvp_conv2d_forced(ctx);
    if (forced >= 0)
        return forced;
    int tuned = hvp_conv2d_tuned(ctx, d, pass);
    if (tuned >= 0)
        return tuned;
    return pass == HVP_CONV2D_FWD ? heuristic_fwd(d)
           : pass == HVP_CONV2D_DW ? heuristic_dw(d)
                                   : heuristic_dx(d);
}

/* Forward with one [K, P] column matrix per image and a strided batched GEMM straight into
 * y, then the bias. (Measured on PoCL against one wide GEMM [c_out, K] x [K, nb*P] plus a
 * layout kernel: the wide form was ~10% faster at 56x56 but ~1.5x slower at 14x14 and 7x7,
 * and needs more scratch, so it was dropped.) */
static hvp_status fwd_batched(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                              const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y)
{
    int P = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d), K = d->c_in * d->kh * d->kw;
    size_t ystride = (size_t)d->c_out * P;
    if (is_pointwise(d)) {
        HVP_TRY(hvp_gemm_strided_batched(ctx, 0, 0, d->c_out, P, K, 1.0f, hvp_mat_of(w, K), 0,
                                         hvp_mat_of(x, P), (size_t)K * P, 0.0f,
                                         hvp_mat_of(y, P), ystride, d->n));
    } else if (hvp_conv2d_implicit(ctx, d, HVP_CONV2D_FWD)) {
        HVP_TRY(igemm(ctx, d, x, w, y));
    } else {
        int nb = chunk_images(ctx, d, (size_t)K * P);
        hvp_tensor col;
        HVP_TRY(scratch(ctx, (size_t)K * nb * P, "conv2d column matrix", &col));
        for (int i0 = 0; i0 < d->n; i0 += nb) {
            int cb = d->n - i0 < nb ? d->n - i0 : nb;
            HVP_TRY(im2col(ctx, d, x, i0, cb, &col, P, K * P));
            hvp_mat yc = {y->buf, y->off + (size_t)i0 * ystride, P};
            HVP_TRY(hvp_gemm_strided_batched(ctx, 0, 0, d->c_out, P, K, 1.0f, hvp_mat_of(w, K),
                                             0, hvp_mat_of(&col, P), (size_t)K * P, 0.0f, yc,
                                             ystride, cb));
        }
    }
    return b ? add_bias(ctx, d, b, y) : HVP_OK;
}

/* A convolution counts as its GEMMs, 2 n c_out ho wo c_in kh kw FLOPs per product (as
 * PyTorch counts conv and convolution_backward, bias not counted), whichever kernels
 * computed it: what its inner GEMMs (im2col path) added since `before` is replaced. */
static void counted_as(hvp_ctx *ctx, uint64_t before, int products, const hvp_conv2d_desc *d)
{
    double one = 2.0 * d->n * d->c_out * hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d) * d->c_in *
                 d->kh * d->kw;
    ctx->flops[HVP_FLOPS_MATMUL] = before;
    hvp_flops_add(ctx, HVP_FLOPS_MATMUL, products * one);
}

hvp_status hvp_conv2d_fwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y)
{
    HVP_TRY(check_desc(d, "conv2d_fwd"));
    HVP_TRY(check_tensors(d, "conv2d_fwd", x, w, b, y));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    uint64_t before = ctx->flops[HVP_FLOPS_MATMUL];
    hvp_status s = fwd_batched(ctx, d, x, w, b, y);
    counted_as(ctx, before, 1, d);
    /* Safe to rewind with work still queued: the queue is in order, so anything that later
     * reuses this scratch runs after the kernels above have finished with it. */
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

static hvp_status bias_grad(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *dy,
                            const hvp_tensor *db)
{
    int P = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d);
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_bwd_bias, &k));
    size_t local = k->max_work_group_size < 256 ? k->max_work_group_size : 256;
    size_t global = (size_t)d->c_out * local;
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, P);
    hvp_arg_tensor(&a, dy);
    hvp_arg_tensor(&a, db);
    hvp_arg_local(&a, local * sizeof(float));
    return hvp_launch(ctx, &a, 1, &global, &local);
}

static hvp_status col2im(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *col, int ld,
                         int img_stride, int i0, int nb, const hvp_tensor *dx)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_bwd_col2im, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, nb);
    hvp_arg_int(&a, d->c_in);
    hvp_arg_int(&a, d->h);
    hvp_arg_int(&a, d->w);
    hvp_arg_int(&a, d->kh);
    hvp_arg_int(&a, d->kw);
    hvp_arg_int(&a, d->stride);
    hvp_arg_int(&a, d->pad);
    hvp_arg_int(&a, hvp_conv2d_out_h(d));
    hvp_arg_int(&a, hvp_conv2d_out_w(d));
    hvp_arg_tensor(&a, col);
    hvp_arg_int(&a, ld);
    hvp_arg_int(&a, img_stride);
    hvp_arg_mem(&a, dx->buf);
    hvp_arg_int(&a, (int)(dx->off + (size_t)i0 * d->c_in * d->h * d->w));
    size_t global[2] = {(size_t)d->h, (size_t)nb * d->c_in};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* dw += sum over i < nb of part[i] (each [c_out * K]), in a fixed order. */
static hvp_status sum_partials(hvp_ctx *ctx, const hvp_tensor *part, int nb, int len,
                               const hvp_tensor *dw)
{
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_bwd_sum, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, nb);
    hvp_arg_int(&a, len);
    hvp_arg_tensor(&a, part);
    hvp_arg_tensor(&a, dw);
    return hvp_launch_1d(ctx, &a, (size_t)len);
}

/* Output pixels per image from which the weight gradient is taken image by image (a
 * batched GEMM with k = P, then a sum of the per-image parts) rather than by one GEMM with
 * k = nb*P: CLBlast runs its k loop serially, and on PoCL the single GEMM was 1.5x slower
 * at 28x28 and 3.6x (56x56) to 6x (stem, 112x112) slower, but 1.35x faster at 14x14. */
#define DW_PER_IMAGE_MIN_P 512

/* Most columns (images x pixels) of one wide chunk. The dw GEMM packs col^T whole, so a
 * chunk under the scratch bound alone grew with the batch past the caches (150 MB of
 * panels for a 16x16 layer at batch 128): the weight gradient took 1.4x the time per image
 * at batch 128 as at 32. Capped, both run 1.3-1.8x faster (PoCL, ResNet-18 CIFAR layers,
 * CPU time; 1024 and 2048 alike, 4096 slower). */
#define WIDE_MAX_COLS 1024

/* Bytes of x and dy panels per chunk of the implicit-GEMM weight gradient: the items of
 * a launch walk the chunk's x (each 8 channels) and its dy panels (each 32 channels) over
 * and over, so the chunk should stay in the L2 cache (2 MiB a core here). On PoCL the
 * ResNet-18 CIFAR layers' backward took 1.0-1.08x the time with 1 MiB, 1.1-1.4x with
 * 4-8 MiB at 32x32 and 16x16 (batch 128, process CPU time). */
#define DW_CHUNK_BYTES ((size_t)2 << 20)

/* Weight gradient by conv2d_bwd_dw_igemm, chunk by chunk of images: dyT = dy of the chunk
 * channels-last, then dw += the chunk's sum (launches in queue order: deterministic). */
static hvp_status dw_igemm(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                           const hvp_tensor *dy, const hvp_tensor *dw)
{
    int ho = hvp_conv2d_out_h(d), wo = hvp_conv2d_out_w(d), P = ho * wo;
    int cpad = ig_cpad(d->c_out), kk = d->kh * d->kw;
    size_t per_image = sizeof(float) * ((size_t)d->c_in * d->h * d->w + (size_t)cpad * P);
    int nb = (int)(DW_CHUNK_BYTES / per_image);
    int nb_scratch = chunk_images(ctx, d, (size_t)cpad * P);
    nb = nb < 1 ? 1 : nb > nb_scratch ? nb_scratch : nb;
    size_t ystride = (size_t)d->c_out * P, xstride = (size_t)d->c_in * d->h * d->w;
    hvp_tensor dyt;
    HVP_TRY(scratch(ctx, (size_t)nb * P * cpad, "conv2d dy panels", &dyt));
    hvp_kernel *kt, *kw;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_conv2d_dy_panels, &kt));
    int c16 = d->c_out <= 16; /* 8 x 16 channel tiles, as conv2d_fwd_igemm_c16 */
    HVP_TRY(hvp_kernel_get(ctx, c16 ? HVP_K_conv2d_bwd_dw_igemm_c16 : HVP_K_conv2d_bwd_dw_igemm,
                           &kw));
    size_t one[2] = {1, 1};
    for (int i0 = 0; i0 < d->n; i0 += nb) {
        int cb = d->n - i0 < nb ? d->n - i0 : nb;
        hvp_args a = hvp_args_begin(kt);
        hvp_arg_int(&a, cb);
        hvp_arg_int(&a, d->c_out);
        hvp_arg_int(&a, P);
        hvp_arg_mem(&a, dy->buf);
        hvp_arg_int(&a, (int)(dy->off + (size_t)i0 * ystride));
        hvp_arg_tensor(&a, &dyt);
        size_t gt[2] = {(size_t)cb * P, (size_t)cpad / IG_CT};
        HVP_TRY(hvp_launch(ctx, &a, 2, gt, NULL));

        a = hvp_args_begin(kw);
        hvp_arg_int(&a, cb);
        hvp_arg_int(&a, d->c_in);
        hvp_arg_int(&a, d->h);
        hvp_arg_int(&a, d->w);
        hvp_arg_int(&a, d->c_out);
        hvp_arg_int(&a, d->kh);
        hvp_arg_int(&a, d->kw);
        hvp_arg_int(&a, d->stride);
        hvp_arg_int(&a, d->pad);
        hvp_arg_int(&a, ho);
        hvp_arg_int(&a, wo);
        hvp_arg_mem(&a, x->buf);
        hvp_arg_int(&a, (int)(x->off + (size_t)i0 * xstride));
        hvp_arg_tensor(&a, &dyt);
        hvp_arg_tensor(&a, dw);
        size_t gw[2] = {(size_t)(d->c_in + 7) / 8 * kk, (size_t)cpad / IG_CT};
        HVP_TRY(hvp_launch(ctx, &a, 2, gw, ctx->info.type & CL_DEVICE_TYPE_CPU ? one : NULL));
    }
    return HVP_OK;
}

/* Backward by column matrices, per chunk of nb images, in one of two layouts; dx and dw
 * may each be NULL (taken elsewhere).
 * Per image (P >= DW_PER_IMAGE_MIN_P): col_i = im2col(x_i) as [K, P] (x_i itself for 1x1
 * stride 1: no copy); part_i = dy_i col_i^T (batched GEMM); dw += sum_i part_i;
 * dcol_i = w^T dy_i (batched GEMM, into col's memory, which the dw GEMM has read by then:
 * the queue is in order); dx = col2im(dcol).
 * Wide: dyT = dy as [c_out, nb*P]; col = im2col(x) as [K, nb*P]; dw += dyT col^T (one
 * GEMM); dcol = w^T dyT (into col's memory); dx = col2im(dcol).
 * 1x1 stride-1 convolutions take dx = w^T dy per image by one batched GEMM, no col2im. */
static hvp_status bwd_col(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                          const hvp_tensor *dw)
{
    int P = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d), K = d->c_in * d->kh * d->kw;
    size_t ystride = (size_t)d->c_out * P, xstride = (size_t)d->c_in * d->h * d->w;
    size_t wlen = (size_t)d->c_out * K;
    int pointwise = is_pointwise(d);
    int per_image = P >= DW_PER_IMAGE_MIN_P, x_is_col = pointwise && per_image;
    size_t col_len = x_is_col ? 0 : (size_t)K * P;
    /* other: the dw parts (per image, with dw) or dyT (wide) */
    size_t other_len = per_image ? (dw ? wlen : 0) : (size_t)d->c_out * P;
    int nb = chunk_images(ctx, d, col_len + other_len);
    if (!per_image && nb * P > WIDE_MAX_COLS)
        nb = WIDE_MAX_COLS / P > 1 ? WIDE_MAX_COLS / P : 1;
    hvp_tensor col, other;
    if (col_len)
        HVP_TRY(scratch(ctx, col_len * nb, "conv2d column matrix", &col));
    if (other_len)
        HVP_TRY(scratch(ctx, other_len * nb,
                        per_image ? "conv2d weight-gradient parts" : "conv2d transposed dy",
                        &other));
    for (int i0 = 0; i0 < d->n; i0 += nb) {
        int cb = d->n - i0 < nb ? d->n - i0 : nb;
        int cols = cb * P;
        hvp_mat dyc = {dy->buf, dy->off + (size_t)i0 * ystride, P};
        int ld = per_image ? P : cols, img_stride = per_image ? K * P : P;
        hvp_mat colc = {x->buf, x->off + (size_t)i0 * xstride, P};
        if (!per_image)
            HVP_TRY(swap01(ctx, cb, d->c_out, P, dyc.buf, dyc.off, other.buf, other.off));
        if (dw && !x_is_col) {
            HVP_TRY(im2col(ctx, d, x, i0, cb, &col, ld, img_stride));
            colc = hvp_mat_of(&col, ld);
        }
        if (dw && per_image) {
            HVP_TRY(hvp_gemm_strided_batched(ctx, 0, 1, d->c_out, K, P, 1.0f, dyc, ystride,
                                             colc, (size_t)K * P, 0.0f, hvp_mat_of(&other, K),
                                             wlen, cb));
            HVP_TRY(sum_partials(ctx, &other, cb, (int)wlen, dw));
        } else if (dw) {
            HVP_TRY(hvp_gemm(ctx, 0, 1, d->c_out, K, cols, 1.0f, hvp_mat_of(&other, cols), colc,
                             1.0f, hvp_mat_of(dw, K)));
        }
        if (!dx)
            continue;
        if (pointwise) {
            hvp_mat dxc = {dx->buf, dx->off + (size_t)i0 * xstride, P};
            HVP_TRY(hvp_gemm_strided_batched(ctx, 1, 0, K, P, d->c_out, 1.0f, hvp_mat_of(w, K), 0,
                                             dyc, ystride, 0.0f, dxc, xstride, cb));
            continue;
        }
        if (per_image)
            HVP_TRY(hvp_gemm_strided_batched(ctx, 1, 0, K, P, d->c_out, 1.0f, hvp_mat_of(w, K), 0,
                                             dyc, ystride, 0.0f, hvp_mat_of(&col, P),
                                             (size_t)K * P, cb));
        else
            HVP_TRY(hvp_gemm(ctx, 1, 0, K, cols, d->c_out, 1.0f, hvp_mat_of(w, K),
                             hvp_mat_of(&other, cols), 0.0f, hvp_mat_of(&col, cols)));
        HVP_TRY(col2im(ctx, d, &col, ld, img_stride, i0, cb, dx));
    }
    return HVP_OK;
}

static hvp_status bwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                      const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                      const hvp_tensor *dw, const hvp_tensor *db)
{
    int dw_direct = dw && hvp_conv2d_implicit(ctx, d, HVP_CONV2D_DW);
    int dx_direct = dx && hvp_conv2d_implicit(ctx, d, HVP_CONV2D_DX);
    if (dw_direct)
        HVP_TRY(dw_igemm(ctx, d, x, dy, dw));
    const hvp_tensor *dx_col = dx_direct ? NULL : dx, *dw_col = dw_direct ? NULL : dw;
    if (dx_col || dw_col)
        HVP_TRY(bwd_col(ctx, d, x, w, dy, dx_col, dw_col));
    if (dx_direct)
        HVP_TRY(dx_phases(ctx, d, w, dy, dx));
    return db ? bias_grad(ctx, d, dy, db) : HVP_OK;
}

hvp_status hvp_conv2d_bwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                          const hvp_tensor *dw, const hvp_tensor *db)
{
    HVP_TRY(check_desc(d, "conv2d_bwd"));
    HVP_TRY(check_tensors(d, "conv2d_bwd", x, w, db, dy));
    if (dx)
        HVP_TRY(hvp_expect_numel(dx, hvp_numel(x), "conv2d_bwd", "dx"));
    if (dw)
        HVP_TRY(hvp_expect_numel(dw, hvp_numel(w), "conv2d_bwd", "dw"));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    uint64_t before = ctx->flops[HVP_FLOPS_MATMUL];
    hvp_status s = bwd(ctx, d, x, w, dy, dx, dw, db);
    counted_as(ctx, before, (dx != NULL) + (dw != NULL), d); /* the gradients computed */
    /* In-order queue: later users of this scratch run after the kernels above. */
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}
