/* GaussianBlur two ways (cl/blur.cl): separable passes, or clFFT: each view's channels are
 * reflect-padded into a P x P plane (P >= S + 2 (kmax/2), a product of 2, 3, 5, 7), a batched
 * real-to-complex 2-D FFT, a multiply by the view's own transfer function (the DFT of its
 * truncated torchvision kernel, so the result is the same discrete convolution), and the
 * complex-to-real inverse; the window [pad, pad + S) of the circular result never wraps, so
 * it equals the reflect-padded linear convolution. AUTO times both once per (S, kmax) on the
 * first batch that needs it and keeps the faster. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clFFT.h>

#include "data/augment_internal.h"
#include "ops/op_util.h"

#define FFT_CHUNK 16 /* views per batched FFT (planes = views x channels) */
#define MAX_PLANS 16
#define MAX_CHOICES 32

typedef struct fft_plan {
    int P, planes;
    clfftPlanHandle fwd, bwd;
    cl_mem plane, spec, H;
} fft_plan;

struct hvp_blur {
    hvp_ctx *ctx;
    int clfft_held; /* this object counts as a clFFT user */
    fft_plan plans[MAX_PLANS];
    int nplans;
    struct {
        int S, kmax;
        hvp_blur_mode mode;
    } choices[MAX_CHOICES];
    int nchoices;
};

/* clFFT's library state (clfftSetup) is process-wide by nature, so its count of users is
 * the one thing here shared by all contexts: it lives while any hvp_blur holds plans or
 * hvp_augment_fft_keep holds it, and is torn down with the last of them: clfftTeardown
 * releases programs that belong to the OpenCL contexts, so it must run before they go (an
 * atexit teardown after hvp_ctx_destroy corrupted the heap under Oclgrind). A run keeps
 * one augment object, so this is one setup and one teardown per process. */
static struct {
    pthread_mutex_t lock;
    int users; /* hvp_blur objects holding plans, and one while kept */
    int kept;  /* hvp_augment_fft_keep(1) holds a use */
} clfft = {PTHREAD_MUTEX_INITIALIZER, 0, 0};

/* Adds one user (delta 1), setting clFFT up for the first, or takes one away (delta -1),
 * tearing it down after the last. The caller holds clfft.lock. */
static clfftStatus clfft_count(int delta)
{
    clfftStatus st = CLFFT_SUCCESS;
    if (delta > 0 && clfft.users == 0) {
        clfftSetupData d;
        clfftInitSetupData(&d);
        st = clfftSetup(&d);
    }
    if (st != CLFFT_SUCCESS)
        return st;
    clfft.users += delta;
    if (clfft.users == 0)
        clfftTeardown();
    return st;
}

static clfftStatus clfft_use(int delta)
{
    pthread_mutex_lock(&clfft.lock);
    clfftStatus st = clfft_count(delta);
    pthread_mutex_unlock(&clfft.lock);
    return st;
}

#define FFT_CHECK(call)                                                                  \
    do {                                                                                 \
        clfftStatus fft_e_ = (call);                                                     \
        if (fft_e_ != CLFFT_SUCCESS)                                                     \
            return HVP_FAIL(HVP_ERR_CL, "%s failed: clFFT status %d (%s)", #call,        \
                            (int)fft_e_, hvp_cl_error_name((cl_int)fft_e_));             \
    } while (0)

hvp_status hvp_augment_fft_keep(int keep)
{
    keep = keep != 0;
    pthread_mutex_lock(&clfft.lock);
    clfftStatus st = keep == clfft.kept ? CLFFT_SUCCESS : clfft_count(keep ? 1 : -1);
    if (st == CLFFT_SUCCESS)
        clfft.kept = keep;
    pthread_mutex_unlock(&clfft.lock);
    if (st != CLFFT_SUCCESS)
        return HVP_FAIL(HVP_ERR_CL, "clfftSetup failed: status %d", (int)st);
    return HVP_OK;
}

hvp_status hvp_blur_create(hvp_ctx *ctx, hvp_blur **out)
{
    hvp_blur *b = calloc(1, sizeof *b);
    if (!b)
        return HVP_FAIL(HVP_ERR_NOMEM, "blur: out of host memory");
    b->ctx = ctx;
    *out = b;
    return HVP_OK;
}

void hvp_blur_destroy(hvp_blur *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->nplans; i++) {
        fft_plan *p = &b->plans[i];
        clfftDestroyPlan(&p->fwd);
        clfftDestroyPlan(&p->bwd);
        clReleaseMemObject(p->plane);
        clReleaseMemObject(p->spec);
        clReleaseMemObject(p->H);
    }
    if (b->clfft_held)
        clfft_use(-1);
    free(b);
}

hvp_blur_mode hvp_blur_choice(const hvp_blur *b, int S, int kmax)
{
    for (int i = 0; i < b->nchoices; i++)
        if (b->choices[i].S == S && b->choices[i].kmax == kmax)
            return b->choices[i].mode;
    return HVP_BLUR_AUTO;
}

/* The smallest even length >= n whose only prime factors are 2, 3, 5 and 7 (clFFT's). */
static int fft_length(int n)
{
    for (int m = n + (n & 1);; m += 2) {
        int r = m;
        for (int f = 2; f <= 7; f++)
            while (r % f == 0)
                r /= f;
        if (r == 1)
            return m;
    }
}

static hvp_status make_plan(hvp_blur *b, int P, int planes, fft_plan **out)
{
    for (int i = 0; i < b->nplans; i++)
        if (b->plans[i].P == P && b->plans[i].planes == planes) {
            *out = &b->plans[i];
            return HVP_OK;
        }
    if (b->nplans == MAX_PLANS) { /* recycle the oldest */
            fft_plan *p = &b->plans[0];
            clfftDestroyPlan(&p->fwd);
            clfftDestroyPlan(&p->bwd);
            clReleaseMemObject(p->plane);
            clReleaseMemObject(p->spec);
            clReleaseMemObject(p->H);
            memmove(&b->plans[0], &b->plans[1], sizeof(fft_plan) * (MAX_PLANS - 1));
            b->nplans--;
        }
    if (!b->clfft_held) {
        clfftStatus st = clfft_use(1);
        if (st != CLFFT_SUCCESS)
            return HVP_FAIL(HVP_ERR_CL, "clfftSetup failed: status %d", (int)st);
        b->clfft_held = 1;
    }
    hvp_ctx *ctx = b->ctx;
    fft_plan p = {P, planes, 0, 0, NULL, NULL, NULL};
    size_t W = (size_t)P / 2 + 1;
    cl_int err;
    ctx->buffers_created += 3;
    p.plane = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, sizeof(float) * planes * P * P,
                             NULL, &err);
    CL_CHECK(err);
    p.spec = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, sizeof(float) * 2 * planes * P * W,
                            NULL, &err);
    CL_CHECK(err);
    p.H = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, sizeof(float) * planes * P, NULL, &err);
    CL_CHECK(err);
    size_t len[2] = {(size_t)P, (size_t)P};
    size_t rstr[2] = {1, (size_t)P}, cstr[2] = {1, W};
    clfftPlanHandle *hs[2] = {&p.fwd, &p.bwd};
    for (int d = 0; d < 2; d++) {
        clfftPlanHandle *h = hs[d];
        FFT_CHECK(clfftCreateDefaultPlan(h, ctx->context, CLFFT_2D, len));
        FFT_CHECK(clfftSetPlanPrecision(*h, CLFFT_SINGLE));
        FFT_CHECK(clfftSetResultLocation(*h, CLFFT_OUTOFPLACE));
        if (d == 0) {
            FFT_CHECK(clfftSetLayout(*h, CLFFT_REAL, CLFFT_HERMITIAN_INTERLEAVED));
            FFT_CHECK(clfftSetPlanInStride(*h, CLFFT_2D, rstr));
            FFT_CHECK(clfftSetPlanOutStride(*h, CLFFT_2D, cstr));
            FFT_CHECK(clfftSetPlanDistance(*h, (size_t)P * P, (size_t)P * W));
        } else {
            FFT_CHECK(clfftSetLayout(*h, CLFFT_HERMITIAN_INTERLEAVED, CLFFT_REAL));
            FFT_CHECK(clfftSetPlanInStride(*h, CLFFT_2D, cstr));
            FFT_CHECK(clfftSetPlanOutStride(*h, CLFFT_2D, rstr));
            FFT_CHECK(clfftSetPlanDistance(*h, (size_t)P * W, (size_t)P * P));
        }
        FFT_CHECK(clfftSetPlanBatchSize(*h, (size_t)planes));
        FFT_CHECK(clfftBakePlan(*h, 1, &ctx->queue, NULL, NULL));
    }
    b->plans[b->nplans] = p;
    *out = &b->plans[b->nplans++];
    return HVP_OK;
}

static hvp_status blur_weights(hvp_ctx *ctx, int nb, int kmax, cl_mem list, int list_off,
                               cl_mem vp, int vp_off, hvp_tensor *w)
{
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 1, (int[]){nb * kmax}, "blur weights", w));
    hvp_kernel *k;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_blur_weights, &k));
    hvp_args a = hvp_args_begin(k);
    hvp_arg_int(&a, nb);
    hvp_arg_int(&a, kmax);
    hvp_arg_mem(&a, list);
    hvp_arg_int(&a, list_off);
    hvp_arg_mem(&a, vp);
    hvp_arg_int(&a, vp_off);
    hvp_arg_tensor(&a, w);
    return hvp_launch_1d(ctx, &a, (size_t)nb);
}

static hvp_status blur_direct(hvp_blur *b, int nb, int S, int C, int kmax, cl_mem list,
                              int list_off, cl_mem vp, int vp_off, cl_mem work, int work_off)
{
    hvp_ctx *ctx = b->ctx;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor w, tmp;
    HVP_TRY(blur_weights(ctx, nb, kmax, list, list_off, vp, vp_off, &w));
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 1, (int[]){nb * C * S * S}, "blur scratch",
                             &tmp));
    size_t g[2] = {(size_t)S * S, (size_t)nb * C};
    const hvp_kernel_id passes[2] = {HVP_K_blur_h, HVP_K_blur_v};
    for (int pass = 0; pass < 2; pass++) {
        hvp_kernel *k;
        HVP_TRY(hvp_kernel_get(ctx, passes[pass], &k));
        hvp_args a = hvp_args_begin(k);
        hvp_arg_int(&a, nb);
        hvp_arg_int(&a, S);
        hvp_arg_int(&a, C);
        hvp_arg_int(&a, kmax);
        hvp_arg_mem(&a, list);
        hvp_arg_int(&a, list_off);
        hvp_arg_mem(&a, vp);
        hvp_arg_int(&a, vp_off);
        hvp_arg_tensor(&a, &w);
        if (pass == 0) {
            hvp_arg_mem(&a, work);
            hvp_arg_int(&a, work_off);
            hvp_arg_tensor(&a, &tmp);
        } else {
            hvp_arg_tensor(&a, &tmp);
            hvp_arg_mem(&a, work);
            hvp_arg_int(&a, work_off);
        }
        size_t local[2] = {64, 1};
        if (k->max_work_group_size < 64)
            local[0] = k->max_work_group_size;
        HVP_TRY(hvp_launch(ctx, &a, 2, g, local));
    }
    /* The scratch is only read by kernels already enqueued in order: safe to hand back. */
    hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

static hvp_status blur_fft(hvp_blur *b, int nb, int nv, int S, int C, int kmax, cl_mem list,
                           int list_off, cl_mem vp, int vp_off, cl_mem work, int work_off)
{
    hvp_ctx *ctx = b->ctx;
    int pad = kmax / 2;
    int P = fft_length(S + 2 * pad);
    int chunk = nv < FFT_CHUNK ? nv : FFT_CHUNK;
    fft_plan *p = NULL;
    HVP_TRY(make_plan(b, P, chunk * C, &p));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    hvp_tensor w;
    HVP_TRY(blur_weights(ctx, nb, kmax, list, list_off, vp, vp_off, &w));
    hvp_kernel *kpad, *ktr, *kmul, *kcrop;
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_blur_fft_pad, &kpad));
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_blur_fft_transfer, &ktr));
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_blur_fft_mul, &kmul));
    HVP_TRY(hvp_kernel_get(ctx, HVP_K_blur_fft_crop, &kcrop));
    int W = P / 2 + 1;
    for (int first = 0; first < nb; first += chunk) {
        hvp_args a = hvp_args_begin(kpad);
        hvp_arg_int(&a, nb);
        hvp_arg_int(&a, first);
        hvp_arg_int(&a, chunk);
        hvp_arg_int(&a, S);
        hvp_arg_int(&a, C);
        hvp_arg_int(&a, P);
        hvp_arg_int(&a, pad);
        hvp_arg_mem(&a, list);
        hvp_arg_int(&a, list_off);
        hvp_arg_mem(&a, work);
        hvp_arg_int(&a, work_off);
        hvp_arg_mem(&a, p->plane);
        hvp_arg_int(&a, 0);
        HVP_TRY(hvp_launch(ctx, &a, 2, (size_t[]){(size_t)P * P, (size_t)chunk * C}, NULL));

        a = hvp_args_begin(ktr);
        hvp_arg_int(&a, nb);
        hvp_arg_int(&a, first);
        hvp_arg_int(&a, chunk);
        hvp_arg_int(&a, kmax);
        hvp_arg_int(&a, P);
        hvp_arg_mem(&a, list);
        hvp_arg_int(&a, list_off);
        hvp_arg_mem(&a, vp);
        hvp_arg_int(&a, vp_off);
        hvp_arg_tensor(&a, &w);
        hvp_arg_mem(&a, p->H);
        hvp_arg_int(&a, 0);
        HVP_TRY(hvp_launch(ctx, &a, 2, (size_t[]){(size_t)P, (size_t)chunk}, NULL));

        FFT_CHECK(clfftEnqueueTransform(p->fwd, CLFFT_FORWARD, 1, &ctx->queue, 0, NULL,
                                        hvp_profile_event(ctx, "clfft_r2c"), &p->plane, &p->spec,
                                        NULL));
        a = hvp_args_begin(kmul);
        hvp_arg_int(&a, chunk);
        hvp_arg_int(&a, C);
        hvp_arg_int(&a, P);
        hvp_arg_mem(&a, p->H);
        hvp_arg_int(&a, 0);
        hvp_arg_mem(&a, p->spec);
        hvp_arg_int(&a, 0);
        HVP_TRY(hvp_launch(ctx, &a, 2, (size_t[]){(size_t)W * P, (size_t)chunk * C}, NULL));
        FFT_CHECK(clfftEnqueueTransform(p->bwd, CLFFT_BACKWARD, 1, &ctx->queue, 0, NULL,
                                        hvp_profile_event(ctx, "clfft_c2r"), &p->spec, &p->plane,
                                        NULL));
        a = hvp_args_begin(kcrop);
        hvp_arg_int(&a, nb);
        hvp_arg_int(&a, first);
        hvp_arg_int(&a, chunk);
        hvp_arg_int(&a, S);
        hvp_arg_int(&a, C);
        hvp_arg_int(&a, P);
        hvp_arg_int(&a, pad);
        hvp_arg_mem(&a, list);
        hvp_arg_int(&a, list_off);
        hvp_arg_mem(&a, p->plane);
        hvp_arg_int(&a, 0);
        hvp_arg_mem(&a, work);
        hvp_arg_int(&a, work_off);
        HVP_TRY(hvp_launch(ctx, &a, 2, (size_t[]){(size_t)S * S, (size_t)chunk * C}, NULL));
    }
    hvp_arena_rewind(ctx->acts, mark);
    return HVP_OK;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Times both paths on a copy of the views (best of two runs each, after a warm-up that
 * builds programs and bakes plans) and records the faster for (S, kmax). */
static hvp_status measure(hvp_blur *b, int nb, int nv, int S, int C, int kmax, cl_mem list,
                          int list_off, cl_mem vp, int vp_off, cl_mem work, int work_off,
                          hvp_blur_mode *chosen)
{
    hvp_ctx *ctx = b->ctx;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    int n = nv * C * S * S;
    hvp_tensor src = {work, (size_t)work_off, 1, {n}, HVP_F32}, copy;
    HVP_TRY(hvp_tensor_alloc(ctx->acts, HVP_F32, 1, &n, "blur timing copy", &copy));
    double best[2] = {1e30, 1e30};
    for (int rep = 0; rep < 3; rep++)
        for (int m = 0; m < 2; m++) {
            HVP_TRY(hvp_tensor_copy(ctx, &copy, &src));
            HVP_TRY(hvp_ctx_finish(ctx));
            double t0 = now_s();
            if (m == 0)
                HVP_TRY(blur_direct(b, nb, S, C, kmax, list, list_off, vp, vp_off, copy.buf,
                                    (int)copy.off));
            else
                HVP_TRY(blur_fft(b, nb, nv, S, C, kmax, list, list_off, vp, vp_off, copy.buf,
                                 (int)copy.off));
            HVP_TRY(hvp_ctx_finish(ctx));
            double t = now_s() - t0;
            if (rep > 0 && t < best[m])
                best[m] = t;
        }
    hvp_arena_rewind(ctx->acts, mark);
    *chosen = best[1] < best[0] ? HVP_BLUR_FFT : HVP_BLUR_DIRECT;
    if (b->nchoices < MAX_CHOICES) {
        b->choices[b->nchoices].S = S;
        b->choices[b->nchoices].kmax = kmax;
        b->choices[b->nchoices].mode = *chosen;
        b->nchoices++;
    }
    return HVP_OK;
}

hvp_status hvp_blur_run(hvp_blur *b, hvp_blur_mode mode, int nb, int nv, int S, int C, int kmax,
                        cl_mem list, int list_off, cl_mem vp, int vp_off, cl_mem work,
                        int work_off)
{
    if (nb <= 0)
        return HVP_OK;
    if (mode == HVP_BLUR_AUTO) {
        mode = hvp_blur_choice(b, S, kmax);
        if (mode == HVP_BLUR_AUTO)
            HVP_TRY(measure(b, nb, nv, S, C, kmax, list, list_off, vp, vp_off, work, work_off,
                            &mode));
    }
    if (mode == HVP_BLUR_FFT)
        return blur_fft(b, nb, nv, S, C, kmax, list, list_off, vp, vp_off, work, work_off);
    return blur_direct(b, nb, S, C, kmax, list, list_off, vp, vp_off, work, work_off);
}
