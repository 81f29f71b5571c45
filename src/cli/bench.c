/* `hvp bench ops`: time per call and GFLOP/s of each op case on the chosen device; for
 * GEMM-shaped cases, our own kernel and CLBlast side by side and, when built with OpenBLAS,
 * the ratio to the host's cblas_sgemm on the same shapes measured in the same run; for
 * elementwise and reduction cases, GB/s beside the GB/s of a plain copy kernel moving as
 * many bytes (the same cache levels), the two alternating in the same run, and the median
 * of their per-round ratios.
 *
 * Adding a case is one entry in CASES: {name, setup, run, flops, bytes, arg}. setup
 * allocates its tensors from ctx->acts (rewound after the case) and fills them; run
 * enqueues one call; flops gives the floating-point operations of one call at the batch
 * size, bytes (NULL or 0: not memory-bound) what it must read and write. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/bench_cases.h"
#include "cli/cli.h"
#include "config.h"
#include "hvp/hvp.h"
#include "hvp/ops.h"

#ifdef HVP_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* A GEMM shape; m or n may scale with the batch (rows of tokens), or the batch may be a
 * strided batch (heads, images). */
typedef struct bench_gemm {
    int ta, tb, m, n, k;
    int m_per_image; /* m is multiplied by the batch size (tokens of all images) */
    int k_per_image; /* k is multiplied by the batch size (weight gradients) */
    int batch_mult;  /* strided batch = batch_mult * batch size (0: no strided batch) */
    int share_a;     /* the batch shares A (convolution weights): stride_a = 0 */
} bench_gemm;

typedef struct bench_case {
    const char *name;
    /* Allocates and fills what run needs; *state is freed by the caller with free(). */
    hvp_status (*setup)(hvp_ctx *ctx, const void *arg, int batch, void **state);
    /* Enqueues one call; algo names a GEMM algorithm for GEMM cases (NULL: dispatcher). */
    hvp_status (*run)(hvp_ctx *ctx, void *state, const char *algo);
    double (*flops)(const void *arg, int batch);
    double (*bytes)(const void *arg, int batch);
    const void *arg;
    int is_gemm; /* arg is a bench_gemm: compare algorithms and OpenBLAS */
} bench_case;

/* ---- GEMM cases --------------------------------------------------------------------- */

typedef struct gemm_state {
    bench_gemm g;
    int m, k, batch;
    size_t sa, sb, sc;
    hvp_tensor a, b, c;
} gemm_state;

static void gemm_dims(const bench_gemm *g, int batch, int *m, int *k, int *nb)
{
    *m = g->m_per_image ? g->m * batch : g->m;
    *k = g->k_per_image ? g->k * batch : g->k;
    *nb = g->batch_mult ? g->batch_mult * batch : 1;
}

static double gemm_flops(const void *arg, int batch)
{
    const bench_gemm *g = arg;
    int m, k, nb;
    gemm_dims(g, batch, &m, &k, &nb);
    return 2.0 * m * (double)g->n * k * nb;
}

static hvp_status gemm_setup(hvp_ctx *ctx, const void *arg, int batch, void **state)
{
    gemm_state *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    *state = s;
    s->g = *(const bench_gemm *)arg;
    gemm_dims(&s->g, batch, &s->m, &s->k, &s->batch);
    const bench_gemm *g = &s->g;
    s->sa = g->share_a ? 0 : (size_t)s->m * s->k;
    s->sb = (size_t)s->k * g->n;
    s->sc = (size_t)s->m * g->n;
    size_t na = (size_t)s->m * s->k * (g->share_a ? 1 : (size_t)s->batch);
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench A", &s->a, 1, (int[]){(int)na}));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench B", &s->b, 1, (int[]){(int)(s->sb * s->batch)}));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench C", &s->c, 1, (int[]){(int)(s->sc * s->batch)}));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &s->a, 0.01f));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &s->b, 0.02f));
    return hvp_tensor_zero(ctx, &s->c);
}

static hvp_status gemm_run(hvp_ctx *ctx, void *state, const char *algo)
{
    gemm_state *s = state;
    const bench_gemm *g = &s->g;
    int lda = g->ta ? s->m : s->k, ldb = g->tb ? s->k : g->n;
    return hvp_gemm_strided_batched_with(ctx, algo, g->ta, g->tb, s->m, g->n, s->k, 1.0f,
                                         hvp_mat_of(&s->a, lda), s->sa, hvp_mat_of(&s->b, ldb),
                                         s->sb, 0.0f, hvp_mat_of(&s->c, g->n), s->sc, s->batch);
}

/* m_per_image / k_per_image: m or k is multiplied by the batch size; batch_mult: a strided
 * batch of batch_mult * batch size; share_a: the batch shares A. */
#define GEMM_EX(name, ta, tb, m, n, k, m_per_image, k_per_image, batch_mult, share_a)          \
    {name, gemm_setup, gemm_run, gemm_flops, NULL,                                          \
     &(const bench_gemm){ta, tb, m, n, k, m_per_image, k_per_image, batch_mult, share_a}, 1}
#define GEMM(name, ta, tb, m, n, k, m_per_image, batch_mult, share_a)                       \
    GEMM_EX(name, ta, tb, m, n, k, m_per_image, 0, batch_mult, share_a)

/* ---- the table --------------------------------------------------------------------------- */

/* Batch B (default 32). ResNet-50 at 224 px: convolutions as their im2col GEMMs, per image
 * W[OC, IC*KH*KW] x col[IC*KH*KW, OH*OW] as a strided batch of B sharing W. ViT-S/16:
 * T = 197 tokens, D = 384, 6 heads of 64; linear layers x[B*T, in] x W^T; attention as
 * strided batches of B*6 heads. */
static const bench_case CASES[] = {
    GEMM("gemm 1024^3", 0, 0, 1024, 1024, 1024, 0, 0, 0),
    GEMM("resnet50 conv1 7x7/2", 0, 0, 64, 12544, 147, 0, 1, 1),
    GEMM("resnet50 layer1 1x1 64>256", 0, 0, 256, 3136, 64, 0, 1, 1),
    GEMM("resnet50 layer1 3x3 64", 0, 0, 64, 3136, 576, 0, 1, 1),
    GEMM("resnet50 layer4 3x3 512", 0, 0, 512, 49, 4608, 0, 1, 1),
    GEMM("resnet50 layer1 3x3 dcol", 1, 0, 576, 3136, 64, 0, 1, 1), /* W^T dY */
    GEMM("resnet50 fc 2048>1000", 0, 1, 1, 1000, 2048, 1, 0, 0),
    GEMM("vit-s16 qkv", 0, 1, 197, 1152, 384, 1, 0, 0),
    GEMM("vit-s16 proj", 0, 1, 197, 384, 384, 1, 0, 0),
    GEMM("vit-s16 mlp fc1", 0, 1, 197, 1536, 384, 1, 0, 0),
    GEMM("vit-s16 mlp fc2", 0, 1, 197, 384, 1536, 1, 0, 0),
    GEMM("vit-s16 mlp fc2 dx", 0, 0, 197, 1536, 384, 1, 0, 0),          /* dY W */
    GEMM_EX("vit-s16 mlp fc2 dw", 1, 0, 384, 1536, 197, 0, 1, 0, 0),    /* dY^T X */
    GEMM("vit-s16 attn q.k^T", 0, 1, 197, 197, 64, 0, 6, 0),
    GEMM("vit-s16 attn p.v", 0, 0, 197, 64, 197, 0, 6, 0),
#define OP(id, name)                                                                     \
    {name, hvp_bench_op_setup, hvp_bench_op_run, hvp_bench_op_flops, hvp_bench_op_bytes,  \
     &hvp_bench_op_ids[HVP_BENCH_##id], 0},
    HVP_BENCH_OPS(OP)
#undef OP
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ---- timing ------------------------------------------------------------------------------ */

/* --cpu-time: process CPU seconds instead of wall seconds, for CPU devices on a shared
 * machine (other processes then do not count; idle spinning threads do). */
static int use_cpu_time;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(use_cpu_time ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Median seconds per call after a warm-up call; fewer runs when one call is slow. */
static hvp_status time_device(hvp_ctx *ctx, const bench_case *bc, void *state, const char *algo,
                              int runs, double *sec)
{
    double t[64];
    HVP_TRY(hvp_ctx_finish(ctx));
    double t0 = now_s();
    HVP_TRY(bc->run(ctx, state, algo));
    HVP_TRY(hvp_ctx_finish(ctx));
    if (now_s() - t0 > 1.0 && runs > 3)
        runs = 3;
    for (int r = 0; r < runs; r++) {
        t0 = now_s();
        HVP_TRY(bc->run(ctx, state, algo));
        HVP_TRY(hvp_ctx_finish(ctx));
        t[r] = now_s() - t0;
    }
    *sec = median(t, runs);
    return HVP_OK;
}

#ifdef HVP_HAVE_OPENBLAS
/* The same GEMM with the host's OpenBLAS (strided batches as a loop of calls). */
static int time_openblas(const bench_gemm *g, int batch, int runs, double *sec)
{
    int m, k, nb;
    gemm_dims(g, batch, &m, &k, &nb);
    size_t sa = g->share_a ? 0 : (size_t)m * k, sb = (size_t)k * g->n,
           sc = (size_t)m * g->n;
    size_t na = (size_t)m * k * (g->share_a ? 1 : (size_t)nb);
    float *a = malloc(na * sizeof *a), *b = malloc(sb * nb * sizeof *b),
          *c = malloc(sc * nb * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < na; i++)
        a[i] = 0.01f;
    for (size_t i = 0; i < sb * nb; i++)
        b[i] = 0.02f;
    int lda = g->ta ? m : k, ldb = g->tb ? k : g->n;
    double t[64];
    for (int r = -1; r < runs; r++) {
        double t0 = now_s();
        for (int i = 0; i < nb; i++)
            cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                        g->tb ? CblasTrans : CblasNoTrans, m, g->n, k, 1.0f, a + i * sa, lda,
                        b + i * sb, ldb, 0.0f, c + i * sc, g->n);
        double dt = now_s() - t0;
        if (r < 0 && dt > 1.0 && runs > 3)
            runs = 3;
        if (r >= 0)
            t[r] = dt;
    }
    *sec = median(t, runs);
    free(a);
    free(b);
    free(c);
    return 1;
}
#endif

/* The yardstick of memory-bound cases: hvp_tensor_copy of *(const size_t *)arg floats. */
typedef struct copy_state {
    hvp_tensor src, dst;
} copy_state;

static hvp_status copy_setup(hvp_ctx *ctx, const void *arg, int batch, void **state)
{
    (void)batch;
    int n = (int)*(const size_t *)arg;
    copy_state *s = calloc(1, sizeof *s);
    if (!s)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory");
    *state = s;
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench copy source", &s->src, 1, &n));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "bench copy destination", &s->dst, 1, &n));
    return hvp_tensor_fill_f32(ctx, &s->src, 1.0f);
}

static hvp_status copy_run(hvp_ctx *ctx, void *state, const char *algo)
{
    (void)algo;
    copy_state *s = state;
    return hvp_tensor_copy(ctx, &s->dst, &s->src);
}

/* Median seconds per call of a case, from its own setup to the rewind of its tensors. */
static hvp_status time_case(hvp_ctx *ctx, const bench_case *bc, int batch, int runs,
                            double *sec)
{
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    void *state = NULL;
    hvp_status s = bc->setup(ctx, bc->arg, batch, &state);
    if (s == HVP_OK)
        s = time_device(ctx, bc, state, NULL, runs, sec);
    free(state);
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

/* A memory-bound case beside the copy kernel moving as many bytes: rounds alternate the two
 * (each timed call after a warm-up call of its own, so both run from warm caches), and
 * *ratio is the median of the rounds' copy time / op time, so load that comes and goes
 * falls on both sides; *sec and *sec_copy are the medians of each side. */
static hvp_status time_against_copy(hvp_ctx *ctx, const bench_case *bc, double bytes, int batch,
                                    int runs, double *sec, double *sec_copy, double *ratio)
{
    size_t copy_n = (size_t)(bytes / (2 * sizeof(float)));
    bench_case copy = {"copy", copy_setup, copy_run, NULL, NULL, &copy_n, 0};
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    void *state = NULL, *copy_state = NULL;
    double t[64], tc[64], r[64];
    runs = runs < 64 ? runs : 64;
    hvp_status s = bc->setup(ctx, bc->arg, batch, &state);
    if (s == HVP_OK)
        s = copy.setup(ctx, copy.arg, batch, &copy_state);
    for (int i = 0; s == HVP_OK && i < runs; i++) {
        s = time_device(ctx, bc, state, NULL, 1, &t[i]);
        if (s == HVP_OK)
            s = time_device(ctx, &copy, copy_state, NULL, 1, &tc[i]);
        r[i] = tc[i] / t[i];
    }
    if (s == HVP_OK) {
        *ratio = median(r, runs);
        *sec = median(t, runs);
        *sec_copy = median(tc, runs);
    }
    free(state);
    free(copy_state);
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

/* Times one op case and prints its line: ms, GFLOP/s and, for memory-bound cases, GB/s,
 * a copy's GB/s for as many bytes and their ratio (*ratio; NAN when not memory-bound).
 * 0 on success. */
static int bench_op(hvp_ctx *ctx, const bench_case *bc, int batch, int runs, double *ratio)
{
    double sec = 0, sec_copy = 0, flops = bc->flops(bc->arg, batch);
    double bytes = bc->bytes ? bc->bytes(bc->arg, batch) : 0;
    *ratio = NAN;
    if (bytes > 0 ? time_against_copy(ctx, bc, bytes, batch, runs, &sec, &sec_copy, ratio)
                  : time_case(ctx, bc, batch, runs, &sec)) {
        printf("%-28s failed: %s\n", bc->name, hvp_last_error());
        return 1;
    }
    printf("%-57s %-8s %9.3f", bc->name, "", sec * 1e3);
    if (flops > 0)
        printf(" %8.2f", flops / sec * 1e-9);
    else
        printf(" %8s", "-");
    if (bytes > 0)
        printf(" %8.1f %8.1f %7.2f", bytes / sec * 1e-9, bytes / sec_copy * 1e-9, *ratio);
    printf("\n");
    fflush(stdout);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hvp bench ops [--quick] [--batch N] [--runs N] [--own ALGO] [FILTER]\n"
               "  times each op case (median of runs after a warm-up, clFinish-bounded);\n"
               "  GEMM cases: own kernel, CLBlast and the host's OpenBLAS side by side.\n"
               "  memory-bound cases: GB/s beside a copy kernel's moving as many bytes,\n"
               "  alternating with it; /copy is the median of the rounds' ratios.\n"
               "  --quick      batch 8 and 3 runs\n"
               "  --cpu-time   process CPU time instead of wall time (shared CPU machines)\n"
               "  --own ALGO   own GEMM algorithm to show (default: the dispatcher's own choice)\n"
               "  FILTER       only cases whose name contains it\n");
}

static int is_own(const char *algo) { return strcmp(algo, "clblast") != 0; }

int hvp_cmd_bench(int argc, char **argv)
{
    int batch = 32, runs = 5, quick = 0;
    const char *own_forced = NULL, *filter = NULL;
    if (argc < 2 || strcmp(argv[1], "ops") != 0) {
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--batch") == 0) {
            if (!hvp_cli_int("bench", "--batch", i + 1 < argc ? argv[++i] : NULL, 1, 65536, &batch))
                return 2;
        } else if (strcmp(argv[i], "--runs") == 0) {
            if (!hvp_cli_int("bench", "--runs", i + 1 < argc ? argv[++i] : NULL, 1, 64, &runs))
                return 2;
        }
        else if (strcmp(argv[i], "--cpu-time") == 0)
            use_cpu_time = 1;
        else if (strcmp(argv[i], "--own") == 0 && i + 1 < argc)
            own_forced = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-')
            filter = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    if (quick) {
        batch = 8;
        runs = 3;
    }
    hvp_ctx *ctx;
    if (hvp_ctx_create(NULL, &ctx) != HVP_OK)
        return hvp_cli_error("opening the device");
    char desc[4096];
    hvp_gemm_describe(ctx, desc, sizeof desc);
    printf("device: %s / %s\n", ctx->info.platform_name, ctx->info.device_name);
    printf("gemm path: %s\n", desc);
    hvp_conv2d_describe(ctx, desc, sizeof desc);
    printf("conv path: %s\n", desc);
    printf("batch %d, median of %d runs after a warm-up, each bounded by clFinish, %s\n", batch,
           runs, use_cpu_time ? "process CPU time (GFLOP/s = GFLOP per CPU second)" : "wall time");
#ifdef HVP_HAVE_OPENBLAS
    printf("host baseline: OpenBLAS cblas_sgemm (%s)\n", OPENBLAS_VERSION);
#else
    printf("host baseline: none (built without OpenBLAS)\n");
#endif
    double sum_flops = 0, sum_chosen = 0, sum_ob = 0, sum_own = 0, sum_clb = 0;
    int status = 0;
    int gemm_header = 0, op_header = 0, memory_bound = 0, below_half = 0;
    for (int i = 0; i < NCASES; i++) {
        const bench_case *bc = &CASES[i];
        if (filter && !strstr(bc->name, filter))
            continue;
        if (!bc->is_gemm) {
            if (!op_header++)
                printf("\n%-57s %-8s %9s %8s %8s %8s %7s\n", "op case", "", "ms/call",
                       "GFLOP/s", "GB/s", "copy", "/copy");
            double ratio;
            if (bench_op(ctx, bc, batch, runs, &ratio) != 0)
                status = 1;
            below_half += ratio < 0.5;
            memory_bound += !isnan(ratio);
            continue;
        }
        if (!gemm_header++) {
            printf("\n%-28s %-28s %-8s %9s %8s %8s %8s %8s %7s %7s\n", "case",
                   "shape m n k [xbatch]", "own", "ms/call", "own", "clblast", "openblas",
                   "chosen", "own/ob", "clb/ob");
            printf("%-28s %-28s %-8s %9s %8s %8s %8s %8s %7s %7s\n", "", "", "algo",
                   "(chosen)", "GFLOP/s", "GFLOP/s", "GFLOP/s", "path", "", "");
        }
        hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
        void *state = NULL;
        double flops = bc->flops(bc->arg, batch);
        hvp_status s = bc->setup(ctx, bc->arg, batch, &state);
        if (s != HVP_OK) {
            printf("%-28s setup failed: %s\n", bc->name, hvp_last_error());
            free(state);
            hvp_arena_rewind(ctx->acts, mark);
            status = 1;
            continue;
        }
        const bench_gemm *g = bc->arg;
        int m, k, nb;
        gemm_dims(g, batch, &m, &k, &nb);
        const char *chosen = hvp_gemm_chosen(ctx, g->ta, g->tb, m, g->n, k, nb);
        const char *own = own_forced ? own_forced
                          : is_own(chosen)
                              ? chosen
                              : ((ctx->info.type & CL_DEVICE_TYPE_CPU) ? "reg8x32" : "lds16");
        double t_own = NAN, t_clb = NAN, t_ob = NAN;
        if (time_device(ctx, bc, state, own, runs, &t_own) != HVP_OK) {
            printf("%-28s %s failed: %s\n", bc->name, own, hvp_last_error());
            status = 1;
        }
        if (time_device(ctx, bc, state, "clblast", runs, &t_clb) != HVP_OK) {
            printf("%-28s clblast failed: %s\n", bc->name, hvp_last_error());
            status = 1;
        }
#ifdef HVP_HAVE_OPENBLAS
        if (!time_openblas(g, batch, runs, &t_ob))
            t_ob = NAN;
#endif
        char shape[64];
        snprintf(shape, sizeof shape, "%c%c %d %d %d", g->ta ? 'T' : 'N', g->tb ? 'T' : 'N',
                 m, g->n, k);
        if (nb > 1)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), " x%d%s", nb,
                     g->share_a ? " sharedA" : "");
        double t_ch = is_own(chosen) && strcmp(chosen, own) == 0 ? t_own
                      : !is_own(chosen)                      ? t_clb
                                                             : NAN;
        if (isnan(t_ch) && time_device(ctx, bc, state, chosen, runs, &t_ch) != HVP_OK)
            t_ch = NAN;
        printf("%-28s %-28s %-8s %9.3f %8.1f %8.1f", bc->name, shape, own, t_ch * 1e3,
               flops / t_own * 1e-9, flops / t_clb * 1e-9);
#ifdef HVP_HAVE_OPENBLAS
        printf(" %8.1f %8s %7.2f %7.2f\n", flops / t_ob * 1e-9, chosen, t_ob / t_own,
               t_ob / t_clb);
#else
        printf(" %8s %8s %7s %7s\n", "-", chosen, "-", "-");
#endif
        if (strncmp(bc->name, "gemm ", 5) != 0) { /* model layers only */
            sum_flops += flops;
            sum_chosen += t_ch;
            sum_own += t_own;
            sum_clb += t_clb;
            sum_ob += t_ob;
        }
        fflush(stdout);
        free(state);
        hvp_arena_rewind(ctx->acts, mark);
    }
    if (memory_bound)
        printf("\nmemory-bound cases under half a copy's GB/s: %d of %d\n", below_half,
               memory_bound);
    if (sum_flops > 0) {
        printf("\nmodel GEMM layers together: %.1f GFLOP; chosen path %.1f ms (%.1f GFLOP/s), own "
               "%.1f GFLOP/s, CLBlast %.1f GFLOP/s",
               sum_flops * 1e-9, sum_chosen * 1e3, sum_flops / sum_chosen * 1e-9,
               sum_flops / sum_own * 1e-9, sum_flops / sum_clb * 1e-9);
#ifdef HVP_HAVE_OPENBLAS
        printf(", OpenBLAS %.1f GFLOP/s", sum_flops / sum_ob * 1e-9);
#endif
        printf("\n");
    }
    hvp_ctx_destroy(ctx);
    return status;
}
