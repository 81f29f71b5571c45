/* 2-d convolution (cl/conv2d.cl): forward by an implicit GEMM (no column matrix) or
 * im2col + GEMM; weight gradient by im2col + GEMM; input gradient by the implicit GEMM
 * (stride 1) or GEMM + col2im (a gather); 1x1 stride-1 convolutions straight on the input.
 * Scratch comes from ctx->acts and is rewound before returning; the batch is processed in
 * chunks so that the column matrix stays under a bound (hvp_conv2d_scratch_limit). */
#include "hvp/ops.h"
#include "ops/op_util.h"

#include <stdlib.h>

/* Scratch bound per call, in floats (64 MiB by default). */
static size_t scratch_limit = (size_t)16 << 20;

size_t hvp_conv2d_scratch_limit(size_t floats)
{
    size_t old = scratch_limit;
    if (floats)
        scratch_limit = floats;
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
static int chunk_images(const hvp_conv2d_desc *d, size_t per_image)
{
    size_t nb = per_image ? scratch_limit / per_image : (size_t)d->n;
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_fwd_im2col", &k));
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_swap01", &k));
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_fwd_bias", &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->n);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, P);
    hvp_arg_tensor(&a, y);
    hvp_arg_tensor(&a, b);
    size_t global[2] = {(size_t)P, (size_t)d->n * d->c_out};
    return hvp_launch(ctx, &a, 2, global, NULL);
}

/* Implicit GEMM (conv2d_fwd_igemm): the convolution d of x by w into y with no column
 * matrix. flip = 0: w is d's own weight [c_out][c_in][kh][kw]. flip = 1: d is the input
 * gradient of a stride-1 convolution as a forward one (see dx_igemm), w that convolution's
 * weight [c_in][c_out][kh][kw] of d's channels. */
#define IG_CT 32 /* output channels of a work-item's tile, as in cl/conv2d.cl */
#define IG_PT 8  /* and its pixels */

static hvp_status igemm(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                        const hvp_tensor *w, int flip, const hvp_tensor *y)
{
    int ho = hvp_conv2d_out_h(d), wo = hvp_conv2d_out_w(d), kk = d->kh * d->kw;
    int cpad = (d->c_out + IG_CT - 1) / IG_CT * IG_CT, K = d->c_in * kk;
    hvp_tensor wt;
    HVP_TRY(scratch(ctx, (size_t)K * cpad, "conv2d transposed weights", &wt));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_w_pack", &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, d->c_in);
    hvp_arg_int(&a, d->c_out);
    hvp_arg_int(&a, kk);
    hvp_arg_int(&a, cpad);
    hvp_arg_int(&a, flip);
    hvp_arg_tensor(&a, w);
    hvp_arg_tensor(&a, &wt);
    size_t gp[2] = {(size_t)cpad, (size_t)K};
    HVP_TRY(hvp_launch(ctx, &a, 2, gp, NULL));

    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_fwd_igemm", &k));
    a = hvp_args_begin(k);
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
    hvp_arg_tensor(&a, x);
    hvp_arg_tensor(&a, &wt);
    hvp_arg_tensor(&a, y);
    size_t global[3] = {(size_t)cpad / IG_CT, ((size_t)ho * wo + IG_PT - 1) / IG_PT,
                        (size_t)d->n};
    /* Work-groups of one item on CPUs, as the register GEMM: each item is a whole tile. */
    size_t one[3] = {1, 1, 1};
    return hvp_launch(ctx, &a, 3, global, ctx->info.type & CL_DEVICE_TYPE_CPU ? one : NULL);
}

static int igemm_mode = -1;

int hvp_conv2d_igemm(int mode)
{
    int old = igemm_mode;
    igemm_mode = mode;
    return old;
}

/* The forced setting (hvp_conv2d_igemm, else HVP_CONV_IGEMM), or -1 for the default. */
static int igemm_setting(void)
{
    const char *e = getenv("HVP_CONV_IGEMM");
    if (igemm_mode < 0 && e && *e)
        return atoi(e) != 0;
    return igemm_mode;
}

/* Whether convolution d (not 1x1 stride 1) takes the implicit GEMM. By default when the
 * loop over input channels inside each tap is long enough to pay for the tile's set-up and
 * scattered stores, and either the rows are long (vector loads for most taps) or the
 * column matrix would outgrow the caches. On PoCL (ResNet-18 CIFAR layers, process CPU
 * time) it took 0.45-0.85x the time of im2col + GEMM at 32x32 and 16x16 and, at batch 128,
 * 0.6-0.9x at 8x8 and 4x4; at batch 32 those took 1.1-1.2x, the 3-channel stem 1-2.5x. */
static int use_igemm(const hvp_conv2d_desc *d)
{
    int mode = igemm_setting();
    if (mode >= 0)
        return mode;
    double P = (double)hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d);
    double col = (double)d->n * d->c_in * d->kh * d->kw * P;
    return d->kh * d->kw > 1 && d->c_in >= 16 && (P >= 128 || col >= (double)(4 << 20));
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
    } else if (use_igemm(d)) {
        HVP_TRY(igemm(ctx, d, x, w, 0, y));
    } else {
        int nb = chunk_images(d, (size_t)K * P);
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

hvp_status hvp_conv2d_fwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                          const hvp_tensor *w, const hvp_tensor *b, const hvp_tensor *y)
{
    HVP_TRY(check_desc(d, "conv2d_fwd"));
    HVP_TRY(check_tensors(d, "conv2d_fwd", x, w, b, y));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_status s = fwd_batched(ctx, d, x, w, b, y);
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_bwd_bias", &k));
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_bwd_col2im", &k));
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
    HVP_TRY(hvp_kernel_get(ctx, "conv2d", "conv2d_bwd_sum", &k));
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

/* The input gradient of a stride-1 convolution is a forward convolution of dy by the
 * rotated, transposed kernel with padding k - 1 - pad: the implicit GEMM then replaces the
 * dcol GEMM and col2im. (Strided convolutions would waste most of its taps.) By default
 * from 128 pixels: on PoCL it took 0.7-0.85x the time at 32x32 and 16x16 (ResNet-18 CIFAR,
 * batch 32) but 1.2x at 8x8 and 1.7x at 4x4, where dy's rows are short. */
static int dx_igemm(const hvp_conv2d_desc *d)
{
    if (is_pointwise(d) || !use_igemm(d) || d->stride != 1 || d->kh != d->kw ||
        d->pad > d->kh - 1)
        return 0;
    return igemm_setting() == 1 || hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d) >= 128;
}

/* Backward, per chunk of nb images, in one of two layouts.
 * Per image (P >= DW_PER_IMAGE_MIN_P): col_i = im2col(x_i) as [K, P] (x_i itself for 1x1
 * stride 1: no copy); part_i = dy_i col_i^T (batched GEMM); dw += sum_i part_i;
 * dcol_i = w^T dy_i (batched GEMM, into col's memory, which the dw GEMM has read by then:
 * the queue is in order); dx = col2im(dcol).
 * Wide: dyT = dy as [c_out, nb*P]; col = im2col(x) as [K, nb*P]; dw += dyT col^T (one
 * GEMM); dcol = w^T dyT (into col's memory); dx = col2im(dcol).
 * 1x1 stride-1 convolutions take dx = w^T dy per image by one batched GEMM, no col2im;
 * dx_igemm ones take dx after the loop. */
static hvp_status bwd(hvp_ctx *ctx, const hvp_conv2d_desc *d, const hvp_tensor *x,
                      const hvp_tensor *w, const hvp_tensor *dy, const hvp_tensor *dx,
                      const hvp_tensor *dw, const hvp_tensor *db)
{
    int P = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d), K = d->c_in * d->kh * d->kw;
    size_t ystride = (size_t)d->c_out * P, xstride = (size_t)d->c_in * d->h * d->w;
    size_t wlen = (size_t)d->c_out * K;
    int pointwise = is_pointwise(d), dx_direct = dx && dx_igemm(d);
    int per_image = P >= DW_PER_IMAGE_MIN_P, x_is_col = pointwise && per_image;
    size_t col_len = x_is_col ? 0 : (size_t)K * P;
    int nb = chunk_images(d, col_len + (per_image ? wlen : (size_t)d->c_out * P));
    if (!per_image && nb * P > WIDE_MAX_COLS)
        nb = WIDE_MAX_COLS / P > 1 ? WIDE_MAX_COLS / P : 1;
    hvp_tensor col, other; /* other: the dw parts (per image) or dyT (wide) */
    if (!x_is_col)
        HVP_TRY(scratch(ctx, col_len * nb, "conv2d column matrix", &col));
    HVP_TRY(scratch(ctx, (per_image ? wlen : (size_t)d->c_out * P) * nb,
                    per_image ? "conv2d weight-gradient parts" : "conv2d transposed dy", &other));
    for (int i0 = 0; i0 < d->n; i0 += nb) {
        int cb = d->n - i0 < nb ? d->n - i0 : nb;
        int cols = cb * P;
        hvp_mat dyc = {dy->buf, dy->off + (size_t)i0 * ystride, P};
        int ld = per_image ? P : cols, img_stride = per_image ? K * P : P;
        hvp_mat colc = {x->buf, x->off + (size_t)i0 * xstride, P};
        if (!x_is_col) {
            HVP_TRY(im2col(ctx, d, x, i0, cb, &col, ld, img_stride));
            colc = hvp_mat_of(&col, ld);
        }
        if (per_image) {
            HVP_TRY(hvp_gemm_strided_batched(ctx, 0, 1, d->c_out, K, P, 1.0f, dyc, ystride,
                                             colc, (size_t)K * P, 0.0f, hvp_mat_of(&other, K),
                                             wlen, cb));
            HVP_TRY(sum_partials(ctx, &other, cb, (int)wlen, dw));
        } else {
            HVP_TRY(swap01(ctx, cb, d->c_out, P, dyc.buf, dyc.off, other.buf, other.off));
            HVP_TRY(hvp_gemm(ctx, 0, 1, d->c_out, K, cols, 1.0f, hvp_mat_of(&other, cols), colc,
                             1.0f, hvp_mat_of(dw, K)));
        }
        if (!dx || dx_direct)
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
    if (dx_direct) {
        hvp_conv2d_desc t = {d->n,  d->c_out, hvp_conv2d_out_h(d), hvp_conv2d_out_w(d),
                             d->c_in, d->kh,  d->kw,              1,
                             d->kh - 1 - d->pad};
        HVP_TRY(igemm(ctx, &t, dy, w, 1, dx));
    }
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
    HVP_TRY(hvp_expect_numel(dw, hvp_numel(w), "conv2d_bwd", "dw"));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_status s = bwd(ctx, d, x, w, dy, dx, dw, db);
    /* In-order queue: later users of this scratch run after the kernels above. */
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}
