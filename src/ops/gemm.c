/* GEMM, row-major, on (buffer, offset, ld) matrices, through one of several algorithms:
 * CLBlast, or our own kernels from cl/gemm.cl (register-tiled gemm_reg_*, local-memory
 * tiled gemm_lds). Which one runs is decided per device and shape class by measurement
 * (`hvp tune` writes the [gemm] section of the device's tune table, src/ops/tune_table.c),
 * or, without one, from the device's queried type. CLBlast gets the queue and no event in
 * the hot path (one is made only when profiling). */
#include "hvp/ops.h" /* first: sets CL_TARGET_OPENCL_VERSION before CLBlast includes CL/cl.h */
#include "ops/tune_table.h"
#include "runtime/kernels.h"

#include <clblast_c.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- algorithms ---------------------------------------------------------------------- */

enum { ALGO_CLBLAST, ALGO_REG, ALGO_LDS };

typedef struct gemm_algo {
    const char *name;
    int kind;
    hvp_kernel_id kernel;
    int tm, tn; /* tile of C per work-item (register kernels) */
    int local;  /* register kernels: 1 = work-groups of one item, 0 = launcher's choice;
                   local-memory kernel: side of the square work-group */
} gemm_algo;

static const gemm_algo ALGOS[] = {
    {"clblast", ALGO_CLBLAST, HVP_K_COUNT /* none of ours */, 0, 0, 0},
    {"reg4x32", ALGO_REG, HVP_K_gemm_reg_4x32, 4, 32, 1},
    {"reg6x32", ALGO_REG, HVP_K_gemm_reg_6x32, 6, 32, 1},
    {"reg8x32", ALGO_REG, HVP_K_gemm_reg_8x32, 8, 32, 1},
    {"reg12x32", ALGO_REG, HVP_K_gemm_reg_12x32, 12, 32, 1},
    {"reg14x32", ALGO_REG, HVP_K_gemm_reg_14x32, 14, 32, 1},
    {"reg8x16", ALGO_REG, HVP_K_gemm_reg_8x16, 8, 16, 1},
    {"reg4x16", ALGO_REG, HVP_K_gemm_reg_4x16, 4, 16, 1},
    {"reg4x8g", ALGO_REG, HVP_K_gemm_reg_4x8, 4, 8, 0},
    {"reg4x16g", ALGO_REG, HVP_K_gemm_reg_4x16, 4, 16, 0},
    {"dot4x4", ALGO_REG, HVP_K_gemm_dot_4x4, 4, 4, 1},
    {"lds16", ALGO_LDS, HVP_K_gemm_lds, 4, 4, 16},
    {"lds8", ALGO_LDS, HVP_K_gemm_lds, 4, 4, 8},
};
#define NALGOS ((int)(sizeof ALGOS / sizeof ALGOS[0]))
#define LDS_R 4   /* as in cl/gemm.cl */
#define LDS_KT 16 /* as in cl/gemm.cl */

static const char *const ALGO_NAMES[] = {"clblast", "reg4x32", "reg6x32", "reg8x32", "reg12x32",
                                         "reg14x32", "reg8x16",
                                         "reg4x16", "reg4x8g", "reg4x16g", "dot4x4", "lds16", "lds8",
                                         NULL};

const char *const *hvp_gemm_algo_names(void) { return ALGO_NAMES; }

static int algo_index(const char *name)
{
    for (int i = 0; i < NALGOS; i++)
        if (name && strcmp(ALGOS[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- shape classes --------------------------------------------------------------------- */

enum { CLASS_SMALL, CLASS_SKINNY, CLASS_LARGE, CLASS_BATCHED, NCLASSES };
static const char *const CLASS_NAMES[] = {"small", "skinny", "large", "batched", NULL};

const char *const *hvp_gemm_class_names(void) { return CLASS_NAMES; }

static int shape_class(int m, int n, int k, int batch)
{
    double flops = 2.0 * m * n * (double)k * batch;
    if (flops < 16e6)
        return CLASS_SMALL;
    if (batch > 1)
        return CLASS_BATCHED;
    if (m < 64 || n < 64)
        return CLASS_SKINNY;
    return CLASS_LARGE;
}

/* ---- the table, per context ------------------------------------------------------------ */

/* The choice per shape class on a context's device (ctx->ops.gemm_table). */
typedef struct hvp_gemm_table {
    int algo[NCLASSES];
    char source[3600]; /* where the choice came from, for start-up messages */
} hvp_gemm_table;

/* Without a measured table: CPU devices take our register kernel with work-groups of one
 * item (vector code over an 8 x 32 tile; it won every class on PoCL/AVX-512, 2-20x ahead of
 * CLBlast); other devices take CLBlast, whose database covers most GPUs. */
static void default_choice(const hvp_ctx *ctx, hvp_gemm_table *t)
{
    int cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    for (int c = 0; c < NCLASSES; c++)
        t->algo[c] = algo_index(cpu ? "reg8x32" : "clblast");
    snprintf(t->source, sizeof t->source, "default for a %s device (no tune table; run hvp tune)",
             cpu ? "CPU" : "non-CPU");
}

static void load_table(const hvp_ctx *ctx, hvp_gemm_table *t)
{
    default_choice(ctx, t);
    char path[3200];
    dictionary *d = hvp_tune_table_load(ctx, path, sizeof path);
    if (!d)
        return;
    /* CLBlast's parameters (src/ops/clblast_params.c) before its first call. */
    const char *xgemm = iniparser_getstring(d, "clblast:xgemm", NULL);
    char clblast[300] = "";
    if (xgemm && strcmp(xgemm, "database") != 0)
        snprintf(clblast, sizeof clblast, "; CLBlast Xgemm parameters: %s", xgemm);
    if (xgemm && hvp_clblast_xgemm_apply(ctx, xgemm) != HVP_OK)
        snprintf(clblast, sizeof clblast, "; CLBlast Xgemm parameters ignored: %s",
                 hvp_last_error());
    int ok = 1, algo[NCLASSES];
    for (int c = 0; c < NCLASSES; c++) {
        char key[64];
        snprintf(key, sizeof key, "gemm:%s", CLASS_NAMES[c]);
        algo[c] = algo_index(iniparser_getstring(d, key, NULL));
        ok = ok && algo[c] >= 0;
    }
    iniparser_freedict(d);
    if (!ok) { /* stale or foreign table: keep the default */
        size_t used = strlen(t->source);
        snprintf(t->source + used, sizeof t->source - used, "%s", clblast);
        return;
    }
    memcpy(t->algo, algo, sizeof algo);
    snprintf(t->source, sizeof t->source, "measured, from %s%s", path, clblast);
}

/* ctx's table, read at its first use; out of host memory for it, `spare` takes the
 * default and is returned. */
static hvp_gemm_table *table_of(hvp_ctx *ctx, hvp_gemm_table *spare)
{
    if (!ctx->ops.gemm_table) {
        hvp_gemm_table *t = malloc(sizeof *t);
        if (!t) {
            default_choice(ctx, spare);
            return spare;
        }
        load_table(ctx, t);
        ctx->ops.gemm_table = t;
    }
    return ctx->ops.gemm_table;
}

void hvp_gemm_reload_table(hvp_ctx *ctx)
{
    free(ctx->ops.gemm_table);
    ctx->ops.gemm_table = NULL;
    hvp_gemm_table spare;
    table_of(ctx, &spare);
}

static int forced_algo(void)
{
    const char *env = getenv("HVP_GEMM");
    return env && *env ? algo_index(env) : -1;
}

const char *hvp_gemm_chosen(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k,
                            int batch)
{
    (void)trans_a;
    (void)trans_b;
    int f = forced_algo();
    if (f >= 0)
        return ALGOS[f].name;
    hvp_gemm_table spare;
    return ALGOS[table_of(ctx, &spare)->algo[shape_class(m, n, k, batch)]].name;
}

void hvp_gemm_describe(hvp_ctx *ctx, char *buf, size_t size)
{
    hvp_gemm_table spare;
    const hvp_gemm_table *t = table_of(ctx, &spare);
    size_t used = 0;
    buf[0] = 0;
    for (int c = 0; c < NCLASSES && used < size; c++)
        used += (size_t)snprintf(buf + used, size - used, "%s=%s ", CLASS_NAMES[c],
                                 ALGOS[t->algo[c]].name);
    if (used < size)
        snprintf(buf + used, size - used, "(%s)", t->source);
    const char *env = getenv("HVP_GEMM");
    if (env && *env && used < size)
        snprintf(buf, size, "HVP_GEMM=%s forces %s everywhere", env,
                 forced_algo() >= 0 ? "it" : "nothing (unknown name)");
}

/* ---- launching ------------------------------------------------------------------------- */

static CLBlastTranspose tr(int t) { return t ? CLBlastTransposeYes : CLBlastTransposeNo; }

static hvp_status run_clblast(hvp_ctx *ctx, int ta, int tb, int m, int n, int k, float alpha,
                              hvp_mat a, size_t sa, hvp_mat b, size_t sb, float beta, hvp_mat c,
                              size_t sc, int batch)
{
    if (ctx->count_only)
        return HVP_OK; /* counting a step's FLOPs: hvp_gemm added them */
    CLBlastStatusCode st;
    if (batch == 1)
        st = CLBlastSgemm(CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)m, (size_t)n, (size_t)k,
                          alpha, a.buf, a.off, (size_t)a.ld, b.buf, b.off, (size_t)b.ld, beta,
                          c.buf, c.off, (size_t)c.ld, &ctx->queue,
                          hvp_profile_event(ctx, "clblast_sgemm"));
    else
        st = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, tr(ta), tr(tb), (size_t)m, (size_t)n, (size_t)k, alpha, a.buf,
            a.off, (size_t)a.ld, sa, b.buf, b.off, (size_t)b.ld, sb, beta, c.buf, c.off,
            (size_t)c.ld, sc, (size_t)batch, &ctx->queue,
            hvp_profile_event(ctx, "clblast_sgemm_batched"));
    if (st != CLBlastSuccess)
        return HVP_FAIL(HVP_ERR_CL,
                        "CLBlast SGEMM (m=%d n=%d k=%d batch=%d, lda=%d ldb=%d ldc=%d) failed: %s",
                        m, n, k, batch, a.ld, b.ld, c.ld, hvp_clblast_error_name(st));
    return HVP_OK;
}

/* The common arguments of the cl/gemm.cl kernels. */
static void gemm_args(hvp_args *g, int m, int n, int k, float alpha, float beta, hvp_mat a,
                      int a_rs, int a_cs, size_t sa, hvp_mat b, int b_rs, int b_cs, size_t sb,
                      hvp_mat c, size_t sc)
{
    hvp_arg_int(g, m);
    hvp_arg_int(g, n);
    hvp_arg_int(g, k);
    hvp_arg_float(g, alpha);
    hvp_arg_float(g, beta);
    hvp_arg_mem(g, a.buf);
    hvp_arg_int(g, (int)a.off);
    hvp_arg_int(g, a_rs);
    hvp_arg_int(g, a_cs);
    hvp_arg_int(g, (int)sa);
    hvp_arg_mem(g, b.buf);
    hvp_arg_int(g, (int)b.off);
    hvp_arg_int(g, b_rs);
    hvp_arg_int(g, b_cs);
    hvp_arg_int(g, (int)sb);
    hvp_arg_mem(g, c.buf);
    hvp_arg_int(g, (int)c.off);
    hvp_arg_int(g, c.ld);
    hvp_arg_int(g, (int)sc);
}

static size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

/* Copies the k x n matrix X(p, j) = x[off + z * stride + p * rs + j * cs] into zero-padded
 * column panels [cdiv(n, tile)][k][tile] in scratch from ctx->acts, and points x at them
 * (rs = tile, cs = 1, stride between batch entries). *packed is cleared, and x left alone,
 * when the panels would not fit int indexing. */
static hvp_status pack(hvp_ctx *ctx, int k, int n, int tile, hvp_mat *x, int *rs, int *cs,
                       size_t *stride, int batch, int *packed)
{
    size_t npanels = cdiv((size_t)n, (size_t)tile);
    int pb = *stride == 0 ? 1 : batch;
    size_t per = (size_t)k * npanels * (size_t)tile, elems = per * (size_t)pb;
    if (elems > INT_MAX) {
        *packed = 0;
        return HVP_OK;
    }
    cl_mem pbuf;
    size_t pbytes;
    HVP_TRY(hvp_arena_alloc(ctx->acts, elems * sizeof(float), "gemm panels", &pbuf, &pbytes));
    hvp_kernel *kp;
    /* A source contiguous along p (a transposed operand) is read along p. */
    int along_p = *rs == 1 && *cs != 1;
    HVP_TRY(hvp_kernel_get(ctx, along_p ? HVP_K_gemm_pack_t : HVP_K_gemm_pack, &kp));
    hvp_args g = hvp_args_begin(kp);
    hvp_arg_int(&g, k);
    hvp_arg_int(&g, n);
    hvp_arg_int(&g, (int)npanels);
    hvp_arg_int(&g, tile);
    hvp_arg_mem(&g, x->buf);
    hvp_arg_int(&g, (int)x->off);
    if (!along_p)
        hvp_arg_int(&g, *rs);
    hvp_arg_int(&g, *cs);
    hvp_arg_int(&g, (int)*stride);
    hvp_arg_mem(&g, pbuf);
    hvp_arg_int(&g, (int)(pbytes / sizeof(float)));
    hvp_arg_int(&g, *stride == 0 ? 0 : (int)per);
    size_t gp[3] = {npanels, (size_t)k, (size_t)pb};
    if (along_p) {
        gp[0] = (size_t)tile;
        gp[1] = npanels;
    }
    HVP_TRY(hvp_launch(ctx, &g, 3, gp, NULL));
    x->buf = pbuf;
    x->off = pbytes / sizeof(float);
    *rs = tile;
    *cs = 1;
    *stride = *stride == 0 ? 0 : per;
    return HVP_OK;
}

static hvp_status run_lds(hvp_ctx *ctx, const gemm_algo *al, int ta, int tb, int m, int n, int k,
                          float alpha, hvp_mat a, size_t sa, hvp_mat b, size_t sb, float beta,
                          hvp_mat c, size_t sc, int batch);

static hvp_status run_reg(hvp_ctx *ctx, const gemm_algo *al, int ta, int tb, int m, int n, int k,
                          float alpha, hvp_mat a, size_t sa, hvp_mat b, size_t sb, float beta,
                          hvp_mat c, size_t sc, int batch)
{
    int a_rs = ta ? 1 : a.ld, a_cs = ta ? a.ld : 1;
    int b_rs = tb ? 1 : b.ld, b_cs = tb ? b.ld : 1;
    /* A few rows against a transposed B (a linear layer at a small batch): packing B costs
     * about as much as the product, so take dot products along k instead (measured on
     * PoCL: 2-3x faster up to m = 64 for the 1000 x 2048 classifier). */
    if (strncmp(al->name, "reg", 3) == 0 && !ta && tb && m <= 64)
        al = &ALGOS[algo_index("dot4x4")];
    int is_dot = al->kernel == HVP_K_gemm_dot_4x4;
    const hvp_mat a0 = a, b0 = b; /* before packing */
    const size_t sa0 = sa, sb0 = sb;
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    /* op(B) with strided rows, a ragged last column tile, or B reused by several row tiles:
     * copy op(B) into zero-padded column panels [n / tn][k][tn] that a work-group reads
     * front to back (once when the batch shares B); likewise a transposed op(A) reused by
     * several column tiles into row panels [m / tm][k][tm]. The arena is rewound at once:
     * the in-order queue runs the GEMM before any later user of that memory. */
    /* Packing only for reuse stays under 64 MiB of scratch (a batch of im2col matrices
     * would double its memory for a few percent). */
    size_t b_panels = (size_t)k * cdiv((size_t)n, (size_t)al->tn) * (size_t)al->tn *
                      (size_t)(sb == 0 ? 1 : batch);
    int pack_b = !is_dot && k > 0 &&
                 (b_cs != 1 || n % al->tn != 0 ||
                  (m > 2 * al->tm && b_panels * sizeof(float) <= ((size_t)64 << 20)));
    int pack_a = !is_dot && k > 0 && a_cs != 1 && n > 2 * al->tn;
    hvp_status s = HVP_OK;
    if (pack_b)
        s = pack(ctx, k, n, al->tn, &b, &b_rs, &b_cs, &sb, batch, &pack_b);
    if (s == HVP_OK && pack_a) {
        /* op(A)^T (k x m) is B-shaped: element (p, i) at i * a_rs + p * a_cs. */
        int rs = a_cs, cs = a_rs;
        s = pack(ctx, k, m, al->tm, &a, &rs, &cs, &sa, batch, &pack_a);
        if (pack_a)
            a_cs = al->tm;
    }
    /* The register kernels read op(B) as whole vectors: panels, or rows of whole tiles. */
    int b_ok = pack_b || is_dot || k == 0 || (b_cs == 1 && n % al->tn == 0);
    if (s == HVP_OK && !b_ok) {
        hvp_arena_rewind(ctx->acts, mark);
        return run_lds(ctx, &ALGOS[algo_index("lds8")], ta, tb, m, n, k, alpha, a0, sa0, b0,
                       sb0, beta, c, sc, batch);
    }
    if (s != HVP_OK) {
        hvp_arena_rewind(ctx->acts, mark);
        return s;
    }
    hvp_kernel *kr;
    s = hvp_kernel_get(ctx, al->kernel, &kr);
    if (s == HVP_OK) {
        hvp_args g = hvp_args_begin(kr);
        gemm_args(&g, m, n, k, alpha, beta, a, a_rs, a_cs, sa, b, b_rs, b_cs, sb, c, sc);
        hvp_arg_int(&g, pack_a);
        hvp_arg_int(&g, pack_b);
        /* Row tiles in dimension 0: consecutive work-groups share a panel of op(B). */
        size_t gl[3] = {cdiv((size_t)m, (size_t)al->tm), cdiv((size_t)n, (size_t)al->tn),
                        (size_t)batch};
        size_t one[3] = {1, 1, 1};
        s = hvp_launch(ctx, &g, 3, gl, al->local == 1 ? one : NULL);
    }
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

static hvp_status run_lds(hvp_ctx *ctx, const gemm_algo *al, int ta, int tb, int m, int n, int k,
                          float alpha, hvp_mat a, size_t sa, hvp_mat b, size_t sb, float beta,
                          hvp_mat c, size_t sc, int batch)
{
    hvp_kernel *kl;
    HVP_TRY(hvp_kernel_get(ctx, al->kernel, &kl));
    /* The largest square work-group up to al->local that the kernel and local memory allow. */
    size_t side = (size_t)al->local;
    while (side > 1 && (side * side > kl->max_work_group_size ||
                        (size_t)LDS_KT * 2 * side * LDS_R * sizeof(float) >
                            ctx->info.local_mem_bytes / 2))
        side /= 2;
    size_t tile = side * LDS_R;
    hvp_args g = hvp_args_begin(kl);
    gemm_args(&g, m, n, k, alpha, beta, a, ta ? 1 : a.ld, ta ? a.ld : 1, sa, b, tb ? 1 : b.ld,
              tb ? b.ld : 1, sb, c, sc);
    hvp_arg_local(&g, LDS_KT * tile * sizeof(float));
    hvp_arg_local(&g, LDS_KT * tile * sizeof(float));
    size_t gl[3] = {cdiv((size_t)n, tile) * side, cdiv((size_t)m, tile) * side, (size_t)batch};
    size_t loc[3] = {side, side, 1};
    return hvp_launch(ctx, &g, 3, gl, loc);
}

/* The largest element index a matrix reaches, for the int indexing of the kernels. */
static double reach(hvp_mat x, int rows, int cols, size_t stride, int batch)
{
    return (double)x.off + (double)stride * (batch - 1) + (double)x.ld * (rows - 1) + cols;
}

static hvp_status run_algo(hvp_ctx *ctx, int ai, int ta, int tb, int m, int n, int k,
                           float alpha, hvp_mat a, size_t sa, hvp_mat b, size_t sb, float beta,
                           hvp_mat c, size_t sc, int batch)
{
    const gemm_algo *al = &ALGOS[ai];
    /* k == 0 (C = beta * C), which CLBlast rejects, goes to our kernel. */
    if (al->kind == ALGO_CLBLAST && k > 0)
        return run_clblast(ctx, ta, tb, m, n, k, alpha, a, sa, b, sb, beta, c, sc, batch);
    if (al->kind == ALGO_CLBLAST)
        al = &ALGOS[algo_index("reg4x16g")];
    if (reach(a, ta ? k : m, ta ? m : k, sa, batch) > INT_MAX ||
        reach(b, tb ? n : k, tb ? k : n, sb, batch) > INT_MAX ||
        reach(c, m, n, sc, batch) > INT_MAX) {
        if (k > 0)
            return run_clblast(ctx, ta, tb, m, n, k, alpha, a, sa, b, sb, beta, c, sc, batch);
        return HVP_FAIL(HVP_ERR_ARG, "gemm: matrices reach past element 2^31 of their buffers");
    }
    if (al->kind == ALGO_LDS)
        return run_lds(ctx, al, ta, tb, m, n, k, alpha, a, sa, b, sb, beta, c, sc, batch);
    return run_reg(ctx, al, ta, tb, m, n, k, alpha, a, sa, b, sb, beta, c, sc, batch);
}

static hvp_status check_args(int ta, int tb, int m, int n, int k, hvp_mat a, hvp_mat b,
                             hvp_mat c, int batch)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0)
        return HVP_FAIL(HVP_ERR_ARG, "gemm: negative size (m=%d n=%d k=%d batch=%d)", m, n, k,
                        batch);
    int ca = ta ? m : k, cb = tb ? k : n;
    if ((ca > 0 && a.ld < ca) || (cb > 0 && b.ld < cb) || c.ld < n)
        return HVP_FAIL(HVP_ERR_ARG,
                        "gemm: leading dimension shorter than a row (lda=%d for %d columns, "
                        "ldb=%d for %d, ldc=%d for %d)",
                        a.ld, ca, b.ld, cb, c.ld, n);
    return HVP_OK;
}

hvp_status hvp_gemm_strided_batched_with(hvp_ctx *ctx, const char *algo, int trans_a,
                                         int trans_b, int m, int n, int k, float alpha,
                                         hvp_mat a, size_t stride_a, hvp_mat b, size_t stride_b,
                                         float beta, hvp_mat c, size_t stride_c, int batch)
{
    HVP_TRY(check_args(trans_a, trans_b, m, n, k, a, b, c, batch));
    if (m == 0 || n == 0 || batch == 0)
        return HVP_OK;
    int ai = algo ? algo_index(algo)
                  : algo_index(hvp_gemm_chosen(ctx, trans_a, trans_b, m, n, k, batch));
    if (ai < 0)
        return HVP_FAIL(HVP_ERR_ARG, "gemm: unknown algorithm '%s'", algo);
    hvp_flops_add(ctx, HVP_FLOPS_MATMUL, 2.0 * m * n * k * batch);
    return run_algo(ctx, ai, trans_a, trans_b, m, n, k, alpha, a, stride_a, b, stride_b, beta, c,
                    stride_c, batch);
}

hvp_status hvp_gemm(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                    hvp_mat a, hvp_mat b, float beta, hvp_mat c)
{
    return hvp_gemm_strided_batched_with(ctx, NULL, trans_a, trans_b, m, n, k, alpha, a, 0, b, 0,
                                         beta, c, 0, 1);
}

hvp_status hvp_gemm_strided_batched(hvp_ctx *ctx, int trans_a, int trans_b, int m, int n, int k,
                                    float alpha, hvp_mat a, size_t stride_a, hvp_mat b,
                                    size_t stride_b, float beta, hvp_mat c, size_t stride_c,
                                    int batch)
{
    return hvp_gemm_strided_batched_with(ctx, NULL, trans_a, trans_b, m, n, k, alpha, a,
                                         stride_a, b, stride_b, beta, c, stride_c, batch);
}

/* ---- tuning ---------------------------------------------------------------------------- */

typedef struct tune_shape {
    int cls, ta, tb, m, n, k, batch, sa0; /* sa0: batch shares A (convolution weights) */
} tune_shape;

/* Representative shapes per class, from ResNet-50 and ViT-S/16 at small batch. */
static const tune_shape TUNE_SHAPES[] = {
    {CLASS_SMALL, 0, 0, 96, 96, 96, 1, 0},
    {CLASS_SMALL, 0, 1, 64, 120, 200, 1, 0},
    {CLASS_SKINNY, 0, 1, 32, 1000, 2048, 1, 0}, /* fc */
    {CLASS_SKINNY, 1, 0, 384, 384, 32, 1, 0},   /* weight gradient at a small batch */
    {CLASS_LARGE, 0, 1, 788, 1152, 384, 1, 0},  /* ViT qkv, batch 4 */
    {CLASS_LARGE, 0, 0, 512, 512, 512, 1, 0},
    {CLASS_LARGE, 0, 0, 256, 3136, 64, 1, 0},   /* 1x1 conv of layer1, one image */
    {CLASS_BATCHED, 0, 1, 197, 197, 64, 24, 0}, /* attention Q K^T */
    {CLASS_BATCHED, 0, 0, 197, 64, 197, 24, 0}, /* attention P V */
    {CLASS_BATCHED, 0, 0, 64, 3136, 576, 2, 1}, /* 3x3 conv of layer1 as a batched GEMM */
};
#define NTUNE ((int)(sizeof TUNE_SHAPES / sizeof TUNE_SHAPES[0]))

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

hvp_status hvp_gemm_time(hvp_ctx *ctx, const char *algo, int trans_a, int trans_b, int m, int n,
                         int k, int batch, int share_a, int runs, double *seconds)
{
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    int ra = trans_a ? k : m, ca = trans_a ? m : k, rb = trans_b ? n : k, cb = trans_b ? k : n;
    size_t sa = share_a ? 0 : (size_t)ra * ca, sb = (size_t)rb * cb, sc = (size_t)m * n;
    hvp_tensor ta, tb, tc;
    hvp_status s = hvp_alloc_f32(ctx->acts, "tune A", &ta, 1,
                                 (int[]){(int)(share_a ? sa + (size_t)ra * ca : sa * batch)});
    if (s == HVP_OK)
        s = hvp_alloc_f32(ctx->acts, "tune B", &tb, 1, (int[]){(int)(sb * batch)});
    if (s == HVP_OK)
        s = hvp_alloc_f32(ctx->acts, "tune C", &tc, 1, (int[]){(int)(sc * batch)});
    if (s == HVP_OK)
        s = hvp_tensor_fill_f32(ctx, &ta, 0.01f);
    if (s == HVP_OK)
        s = hvp_tensor_fill_f32(ctx, &tb, 0.02f);
    if (s == HVP_OK)
        s = hvp_tensor_zero(ctx, &tc);
    double t[32];
    if (runs > 32)
        runs = 32;
    if (runs < 1)
        runs = 1;
    for (int r = -1; r < runs && s == HVP_OK; r++) { /* r = -1: warm-up (and kernel build) */
        if ((s = hvp_ctx_finish(ctx)) != HVP_OK)
            break;
        double t0 = now_s();
        s = hvp_gemm_strided_batched_with(ctx, algo, trans_a, trans_b, m, n, k, 1.0f,
                                          hvp_mat_of(&ta, ca), sa, hvp_mat_of(&tb, cb), sb, 0.0f,
                                          hvp_mat_of(&tc, n), sc, batch);
        if (s == HVP_OK)
            s = hvp_ctx_finish(ctx);
        if (r >= 0)
            t[r] = now_s() - t0;
    }
    hvp_arena_rewind(ctx->acts, mark);
    if (s != HVP_OK)
        return s;
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    *seconds = t[runs / 2];
    return HVP_OK;
}

/* The [gemm] section of the device's tune table. */
static hvp_status write_table(const hvp_ctx *ctx, const int *algo)
{
    char body[512];
    size_t used = 0;
    for (int c = 0; c < NCLASSES; c++)
        used += (size_t)snprintf(body + used, sizeof body - used, "%s = %s\n", CLASS_NAMES[c],
                                 ALGOS[algo[c]].name);
    return hvp_tune_table_write(ctx, "gemm", body);
}

hvp_status hvp_gemm_tune(hvp_ctx *ctx, int quick, FILE *out)
{
    /* Rounds interleave the algorithms so that load from other processes spreads evenly;
     * each algorithm keeps its fastest round. A class's winner has the smallest sum over the
     * class's shapes of log(time / fastest time on that shape): no algorithm wins a class
     * while being far off on one of its shapes. */
    int rounds = quick ? 2 : 5;
    double score[NCLASSES][NALGOS];
    memset(score, 0, sizeof score);
    for (int s = 0; s < NTUNE; s++) {
        const tune_shape *sh = &TUNE_SHAPES[s];
        double best[NALGOS];
        for (int a = 0; a < NALGOS; a++)
            best[a] = INFINITY;
        for (int r = 0; r < rounds; r++)
            for (int a = 0; a < NALGOS; a++) {
                double sec;
                if (!isinf(best[a]) || r == 0) {
                    /* 1 run after a warm-up; an algorithm that fails stays at infinity. */
                    if (hvp_gemm_time(ctx, ALGOS[a].name, sh->ta, sh->tb, sh->m, sh->n, sh->k,
                                      sh->batch, sh->sa0, 1, &sec) == HVP_OK &&
                        sec < best[a])
                        best[a] = sec;
                }
            }
        double fastest = INFINITY;
        for (int a = 0; a < NALGOS; a++)
            if (best[a] < fastest)
                fastest = best[a];
        double flops = 2.0 * sh->m * sh->n * (double)sh->k * sh->batch;
        if (out)
            fprintf(out, "%-8s %c%c m=%-5d n=%-5d k=%-5d batch=%-3d", CLASS_NAMES[sh->cls],
                    sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N', sh->m, sh->n, sh->k, sh->batch);
        for (int a = 0; a < NALGOS; a++) {
            score[sh->cls][a] += isinf(best[a]) ? INFINITY : log(best[a] / fastest);
            if (out && isinf(best[a]))
                fprintf(out, " %s:failed", ALGOS[a].name);
            else if (out)
                fprintf(out, " %s:%.1f", ALGOS[a].name, flops / best[a] * 1e-9);
        }
        if (out) {
            fprintf(out, " GFLOP/s\n");
            fflush(out);
        }
    }
    int best[NCLASSES];
    for (int c = 0; c < NCLASSES; c++) {
        best[c] = 0;
        for (int a = 1; a < NALGOS; a++)
            if (score[c][a] < score[c][best[c]])
                best[c] = a;
    }
    char path[3200];
    HVP_TRY(write_table(ctx, best));
    HVP_TRY(hvp_tune_table_path(ctx, path, sizeof path));
    hvp_gemm_table spare, *t = table_of(ctx, &spare);
    memcpy(t->algo, best, sizeof t->algo);
    snprintf(t->source, sizeof t->source, "measured, from %s", path);
    return HVP_OK;
}
