/* Which way each pass of a convolution runs on a device, per shape class: the [conv2d]
 * section of the device's tune table (src/ops/tune_table.c), read once per context, and
 * `hvp tune`'s measurement that writes it (hvp_conv2d_tune). conv2d.c asks the forced
 * setting first, then this table, then its heuristic. */
#include "ops/conv2d_tune.h"
#include "ops/tune_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shape classes ------------------------------------------------------------------- */

enum {
    CLASS_STEM,
    CLASS_S1_LARGE,
    CLASS_S1_SMALL,
    CLASS_S2_LARGE,
    CLASS_S2_SMALL,
    CLASS_S2_1X1_LARGE,
    CLASS_S2_1X1_SMALL,
    NCLASSES
};
static const char *const CLASS_NAMES[NCLASSES] = {
    "stem", "s1_large", "s1_small", "s2_large", "s2_small", "s2_1x1_large", "s2_1x1_small"};
static const char *const PASS_NAMES[HVP_CONV2D_PASSES] = {"fwd", "dw", "dx"};

/* Output pixels per image from which a class is "large": the heuristic's threshold for
 * the forward and the stride-1 input gradient. */
#define LARGE_PIXELS 128

static int conv_class(const hvp_conv2d_desc *d)
{
    if (d->c_in < 16)
        return CLASS_STEM;
    int large = hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d) >= LARGE_PIXELS;
    if (d->stride == 1)
        return large ? CLASS_S1_LARGE : CLASS_S1_SMALL;
    if (d->kh == 1 && d->kw == 1)
        return large ? CLASS_S2_1X1_LARGE : CLASS_S2_1X1_SMALL;
    return large ? CLASS_S2_LARGE : CLASS_S2_SMALL;
}

/* ---- the table, per context ------------------------------------------------------------ */

/* An entry: not in the table (the heuristic decides), or one of the two ways. */
enum { UNSET, COLUMNS, IMPLICIT };
static const char *const WAY_NAMES[] = {"-", "columns", "implicit"};

typedef struct hvp_conv2d_table {
    unsigned char way[NCLASSES][HVP_CONV2D_PASSES];
    char source[3300]; /* the file it came from */
} hvp_conv2d_table;

static const hvp_conv2d_table NO_TABLE; /* every entry UNSET */

/* Entries the file lacks, or names no way for, stay UNSET: a table written before
 * convolutions were tuned leaves the heuristic in charge. */
static void load_table(const hvp_ctx *ctx, hvp_conv2d_table *t)
{
    *t = NO_TABLE;
    char path[3200];
    dictionary *d = hvp_tune_table_load(ctx, path, sizeof path);
    if (!d)
        return;
    for (int c = 0; c < NCLASSES; c++)
        for (int p = 0; p < HVP_CONV2D_PASSES; p++) {
            char key[64];
            snprintf(key, sizeof key, "conv2d:%s.%s", CLASS_NAMES[c], PASS_NAMES[p]);
            const char *v = iniparser_getstring(d, key, "");
            t->way[c][p] = strcmp(v, WAY_NAMES[IMPLICIT]) == 0  ? IMPLICIT
                           : strcmp(v, WAY_NAMES[COLUMNS]) == 0 ? COLUMNS
                                                                : UNSET;
        }
    iniparser_freedict(d);
    snprintf(t->source, sizeof t->source, "%s", path);
}

/* ctx's table, read at its first use; out of host memory for it, none. */
static const hvp_conv2d_table *table_of(hvp_ctx *ctx)
{
    if (!ctx->ops.conv_table) {
        hvp_conv2d_table *t = malloc(sizeof *t);
        if (!t)
            return &NO_TABLE;
        load_table(ctx, t);
        ctx->ops.conv_table = t;
    }
    return ctx->ops.conv_table;
}

void hvp_conv2d_reload_table(hvp_ctx *ctx)
{
    free(ctx->ops.conv_table);
    ctx->ops.conv_table = NULL;
    table_of(ctx);
}

int hvp_conv2d_tuned(hvp_ctx *ctx, const hvp_conv2d_desc *d, hvp_conv2d_pass pass)
{
    int w = table_of(ctx)->way[conv_class(d)][pass];
    return w == UNSET ? -1 : w == IMPLICIT;
}

void hvp_conv2d_describe(hvp_ctx *ctx, char *buf, size_t size)
{
    int forced = hvp_conv2d_forced(ctx);
    if (forced >= 0) {
        snprintf(buf, size, "%s everywhere (forced by %s)",
                 forced ? "implicit GEMM" : "column matrices",
                 ctx->ops.conv_igemm >= 0 ? "hvp_conv2d_igemm" : "HVP_CONV_IGEMM");
        return;
    }
    const hvp_conv2d_table *t = table_of(ctx);
    if (memcmp(t->way, NO_TABLE.way, sizeof t->way) == 0) {
        snprintf(buf, size, "default heuristic: implicit GEMM from 16 input channels (no "
                            "[conv2d] in a tune table; run hvp tune)");
        return;
    }
    size_t used = 0;
    for (int c = 0; c < NCLASSES && used < size; c++) {
        char ways[HVP_CONV2D_PASSES + 1];
        for (int p = 0; p < HVP_CONV2D_PASSES; p++)
            ways[p] = WAY_NAMES[t->way[c][p]][0];
        ways[HVP_CONV2D_PASSES] = 0;
        used += (size_t)snprintf(buf + used, size - used, "%s=%s ", CLASS_NAMES[c], ways);
    }
    if (used < size)
        snprintf(buf + used, size - used,
                 "(fwd dw dx: i implicit, c columns, - heuristic; measured, from %s)",
                 t->source);
}

/* ---- tuning ---------------------------------------------------------------------------- */

typedef struct tune_shape {
    int cls, quick; /* quick: in the --quick set */
    const char *net;
    hvp_conv2d_desc d;
} tune_shape;

/* Per class a ResNet-18 CIFAR layer at batch 32 (the quick set) and 128, and a ResNet-50
 * layer at 224 px, batch 16 (n, c_in, h, w, c_out, kh, kw, stride, pad). */
#define R18C(cls, c_in, hw, c_out, k, s)                                                   \
    {cls, 1, "r18c", {32, c_in, hw, hw, c_out, k, k, s, k / 2}},                           \
        {cls, 0, "r18c", {128, c_in, hw, hw, c_out, k, k, s, k / 2}}
static const tune_shape TUNE_SHAPES[] = {
    R18C(CLASS_STEM, 3, 32, 64, 3, 1),
    R18C(CLASS_S1_LARGE, 128, 16, 128, 3, 1),
    R18C(CLASS_S1_SMALL, 256, 8, 256, 3, 1),
    R18C(CLASS_S2_LARGE, 64, 32, 128, 3, 2),
    R18C(CLASS_S2_SMALL, 128, 16, 256, 3, 2),
    R18C(CLASS_S2_1X1_LARGE, 64, 32, 128, 1, 2),
    R18C(CLASS_S2_1X1_SMALL, 128, 16, 256, 1, 2),
    {CLASS_STEM, 0, "r50", {16, 3, 224, 224, 64, 7, 7, 2, 3}},
    {CLASS_S1_LARGE, 0, "r50", {16, 128, 28, 28, 128, 3, 3, 1, 1}},
    {CLASS_S1_SMALL, 0, "r50", {16, 512, 7, 7, 512, 3, 3, 1, 1}},
    {CLASS_S2_LARGE, 0, "r50", {16, 256, 28, 28, 256, 3, 3, 2, 1}},
    {CLASS_S2_SMALL, 0, "r50", {16, 512, 14, 14, 512, 3, 3, 2, 1}},
    {CLASS_S2_1X1_LARGE, 0, "r50", {16, 512, 28, 28, 1024, 1, 1, 2, 0}},
    {CLASS_S2_1X1_SMALL, 0, "r50", {16, 1024, 14, 14, 2048, 1, 1, 2, 0}},
};
#undef R18C
#define NTUNE ((int)(sizeof TUNE_SHAPES / sizeof TUNE_SHAPES[0]))

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A convolution's tensors: y doubles as dy. */
typedef struct conv_tensors {
    hvp_tensor x, w, y, dx, dw;
} conv_tensors;

static hvp_status alloc_tensors(hvp_ctx *ctx, const hvp_conv2d_desc *d, conv_tensors *t)
{
    int nx = d->n * d->c_in * d->h * d->w, nw = d->c_out * d->c_in * d->kh * d->kw,
        ny = d->n * d->c_out * hvp_conv2d_out_h(d) * hvp_conv2d_out_w(d);
    HVP_TRY(hvp_alloc_f32(ctx->acts, "conv2d tune x", &t->x, 1, &nx));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "conv2d tune w", &t->w, 1, &nw));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "conv2d tune y", &t->y, 1, &ny));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "conv2d tune dx", &t->dx, 1, &nx));
    HVP_TRY(hvp_alloc_f32(ctx->acts, "conv2d tune dw", &t->dw, 1, &nw));
    /* Values that stay far from denormals (which slow some CPUs down). */
    HVP_TRY(hvp_tensor_fill_f32(ctx, &t->x, 0.01f));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &t->w, 0.02f));
    HVP_TRY(hvp_tensor_fill_f32(ctx, &t->y, 0.03f));
    return hvp_tensor_zero(ctx, &t->dw);
}

/* Seconds of one pass of d computed the given way, bounded by clFinish; the weight
 * gradient and the input gradient are each timed alone. */
static hvp_status time_pass(hvp_ctx *ctx, const hvp_conv2d_desc *d, const conv_tensors *t,
                            int pass, int implicit, double *seconds)
{
    int old = hvp_conv2d_igemm(ctx, implicit);
    hvp_status s = hvp_ctx_finish(ctx);
    double t0 = now_s();
    if (s == HVP_OK && pass == HVP_CONV2D_FWD)
        s = hvp_conv2d_fwd(ctx, d, &t->x, &t->w, NULL, &t->y);
    else if (s == HVP_OK)
        s = hvp_conv2d_bwd(ctx, d, &t->x, &t->w, &t->y, pass == HVP_CONV2D_DX ? &t->dx : NULL,
                           pass == HVP_CONV2D_DW ? &t->dw : NULL, NULL);
    if (s == HVP_OK)
        s = hvp_ctx_finish(ctx);
    *seconds = now_s() - t0;
    hvp_conv2d_igemm(ctx, old);
    return s;
}

/* The fastest of `rounds` runs of each pass each way (best[pass][implicit]; infinity where
 * it failed), the ways interleaved so that load from other processes spreads evenly, each
 * first run after a warm-up (and kernel build). */
static hvp_status time_shape(hvp_ctx *ctx, const hvp_conv2d_desc *d, int rounds,
                             double best[HVP_CONV2D_PASSES][2])
{
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->acts);
    conv_tensors t;
    hvp_status s = alloc_tensors(ctx, d, &t);
    for (int p = 0; p < HVP_CONV2D_PASSES; p++)
        best[p][0] = best[p][1] = INFINITY;
    for (int r = 0; r < rounds && s == HVP_OK; r++)
        for (int p = 0; p < HVP_CONV2D_PASSES; p++)
            for (int way = 0; way < 2; way++) {
                if (r > 0 && isinf(best[p][way]))
                    continue; /* failed in the first round */
                double sec;
                int warm = r > 0 || time_pass(ctx, d, &t, p, way, &sec) == HVP_OK;
                if (warm && time_pass(ctx, d, &t, p, way, &sec) == HVP_OK && sec < best[p][way])
                    best[p][way] = sec;
            }
    hvp_arena_rewind(ctx->acts, mark);
    return s;
}

hvp_status hvp_conv2d_tune(hvp_ctx *ctx, int quick, FILE *out)
{
    /* A class's way per pass has the smaller sum over the class's shapes of log(time /
     * the faster way's time), as the GEMM tune scores: each shape weighs the same. */
    int rounds = quick ? 2 : 3;
    double score[NCLASSES][HVP_CONV2D_PASSES][2];
    memset(score, 0, sizeof score);
    int timed[NCLASSES] = {0};
    for (int i = 0; i < NTUNE; i++) {
        const tune_shape *sh = &TUNE_SHAPES[i];
        const hvp_conv2d_desc *d = &sh->d;
        if (quick && !sh->quick)
            continue;
        if (out)
            fprintf(out, "%-12s %-4s n=%-3d %4d->%-4d %3dx%-3d %dx%d/%d", CLASS_NAMES[sh->cls],
                    sh->net, d->n, d->c_in, d->c_out, d->h, d->w, d->kh, d->kw, d->stride);
        double best[HVP_CONV2D_PASSES][2];
        if (time_shape(ctx, d, rounds, best) != HVP_OK) {
            if (out)
                fprintf(out, " skipped: %s\n", hvp_last_error());
            continue;
        }
        for (int p = 0; p < HVP_CONV2D_PASSES; p++) {
            double fastest = fmin(best[p][0], best[p][1]);
            for (int way = 0; way < 2 && !isinf(fastest); way++)
                score[sh->cls][p][way] += log(best[p][way] / fastest);
            if (out)
                fprintf(out, "  %s", PASS_NAMES[p]);
            for (int way = 0; way < 2 && out; way++) {
                const char *sep = way ? "/" : " ";
                if (isinf(best[p][way]))
                    fprintf(out, "%sfailed", sep);
                else
                    fprintf(out, "%s%.2f", sep, 1e3 * best[p][way]);
            }
        }
        timed[sh->cls] = 1;
        if (out) {
            fprintf(out, " ms\n");
            fflush(out);
        }
    }
    hvp_conv2d_table *t = malloc(sizeof *t);
    if (!t)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for the convolution tune table");
    *t = NO_TABLE;
    char body[2048] = "";
    size_t used = 0;
    for (int c = 0; c < NCLASSES; c++)
        for (int p = 0; p < HVP_CONV2D_PASSES && timed[c]; p++) {
            const double *sc = score[c][p];
            if (isinf(sc[0]) && isinf(sc[1]))
                continue; /* both ways failed somewhere: the heuristic stays */
            t->way[c][p] = sc[1] < sc[0] ? IMPLICIT : COLUMNS;
            used += (size_t)snprintf(body + used, sizeof body - used, "%s.%s = %s\n",
                                     CLASS_NAMES[c], PASS_NAMES[p], WAY_NAMES[t->way[c][p]]);
        }
    hvp_status s = hvp_tune_table_write(ctx, "conv2d", body);
    if (s == HVP_OK)
        s = hvp_tune_table_path(ctx, t->source, sizeof t->source);
    if (s != HVP_OK) {
        free(t);
        return s;
    }
    free(ctx->ops.conv_table);
    ctx->ops.conv_table = t;
    return HVP_OK;
}
