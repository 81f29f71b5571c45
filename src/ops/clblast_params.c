/* CLBlast's GEMM kernel parameters per device. CLBlast picks its parameters from its own
 * database by device name; a device it does not know gets generic values, often several
 * times slower, and runs every product below 896^3 multiply-adds through its untiled direct
 * kernel. `hvp tune` times CLBlast with the database's choice and with named parameter
 * sets for its tiled Xgemm kernel that CLBlast's database holds for other devices, each
 * used from 128^3 multiply-adds up, and the [clblast] section of the tune table names the
 * fastest ("xgemm = database" or a set's name). A named set is given to CLBlast through
 * CLBlastOverrideParameters when the context reads its tune table. */
#include "hvp/ops.h" /* first: sets CL_TARGET_OPENCL_VERSION before CLBlast includes CL/cl.h */

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NPARAMS 16

static const char *const PARAM_NAMES[NPARAMS] = {"GEMMK", "KREG", "KWG",  "KWI",
                                                 "MDIMA", "MDIMC", "MWG", "NDIMB",
                                                 "NDIMC", "NWG",  "SA",  "SB",
                                                 "STRM",  "STRN", "VWM", "VWN"};

typedef struct xgemm_set {
    const char *name;
    size_t values[NPARAMS]; /* in PARAM_NAMES' order */
} xgemm_set;

/* From CLBlast 1.5.3's database (src/database/kernels/xgemm/xgemm_32.hpp): the entries of
 * architectures and vendors that differ most in work-group shape, tile and vector width. */
static const xgemm_set SETS[] = {
    {"generic", {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2}},
    {"common", {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4}}, /* AMD, Intel GPUs */
    {"amd_hawaii", {0, 1, 16, 2, 16, 32, 128, 32, 8, 64, 1, 1, 1, 1, 4, 2}},
    {"amd_gfx1030", {0, 1, 16, 2, 8, 8, 128, 32, 8, 64, 1, 0, 1, 1, 4, 1}},
    {"nvidia_default", {0, 1, 32, 2, 16, 16, 64, 16, 16, 64, 1, 1, 0, 0, 4, 4}},
    {"intel_cpu", {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4}},
    {"nvidia_sm35", {0, 1, 16, 8, 32, 16, 64, 32, 16, 64, 1, 0, 1, 0, 2, 2}},
    {"nvidia_sm75", {0, 1, 16, 2, 16, 16, 128, 32, 16, 128, 1, 1, 1, 1, 1, 2}},
    {"nvidia_sm80", {0, 1, 32, 2, 8, 8, 32, 16, 16, 64, 1, 1, 0, 0, 4, 4}},
};
#define NSETS ((int)(sizeof SETS / sizeof SETS[0]))

static const xgemm_set *find_set(const char *name)
{
    for (int i = 0; i < NSETS; i++)
        if (strcmp(SETS[i].name, name) == 0)
            return &SETS[i];
    return NULL;
}

const char *hvp_clblast_xgemm_set_name(int i)
{
    return i == 0 ? "database" : i <= NSETS ? SETS[i - 1].name : NULL;
}

hvp_status hvp_clblast_xgemm_apply(const hvp_ctx *ctx, const char *name)
{
    if (strcmp(name, "database") == 0)
        return HVP_OK;
    const xgemm_set *s = find_set(name);
    if (!s)
        return HVP_FAIL(HVP_ERR_ARG, "CLBlast Xgemm parameters: no set named '%s'", name);
    CLBlastStatusCode st = CLBlastOverrideParameters(ctx->info.device, "Xgemm",
                                                     CLBlastPrecisionSingle, NPARAMS,
                                                     (const char **)PARAM_NAMES, s->values);
    /* The tiled kernel from 128^3 multiply-adds up (the direct one below). */
    const char *routine[] = {"XGEMM_MIN_INDIRECT_SIZE"};
    const size_t min_indirect[] = {128};
    if (st == CLBlastSuccess)
        st = CLBlastOverrideParameters(ctx->info.device, "GemmRoutine", CLBlastPrecisionSingle, 1,
                                       routine, min_indirect);
    if (st != CLBlastSuccess)
        return HVP_FAIL(HVP_ERR_CL, "CLBlast refused the Xgemm parameters '%s': %s", name,
                        hvp_clblast_error_name(st));
    return HVP_OK;
}

/* Products where a set runs the tiled kernel, from ViT-S/16 and ResNet-50 layers. */
static const int SHAPES[][3] = {{788, 1152, 384}, {512, 512, 512}, {256, 3136, 64}};
#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

hvp_status hvp_clblast_tune(hvp_ctx *ctx, int quick, FILE *out)
{
    int runs = quick ? 1 : 3;
    double t[NSETS + 1][NSHAPES], fastest[NSHAPES];
    for (int j = 0; j < NSHAPES; j++)
        fastest[j] = INFINITY;
    /* The database's choice first: an override cannot be taken back in this process. */
    for (int i = 0; i <= NSETS; i++) {
        const char *name = hvp_clblast_xgemm_set_name(i);
        hvp_status s = hvp_clblast_xgemm_apply(ctx, name);
        if (out)
            fprintf(out, "CLBlast Xgemm %-12s", name);
        for (int j = 0; j < NSHAPES; j++) {
            t[i][j] = INFINITY;
            if (s == HVP_OK)
                s = hvp_gemm_time(ctx, "clblast", 0, 0, SHAPES[j][0], SHAPES[j][1],
                                  SHAPES[j][2], 1, 0, runs, &t[i][j]);
            if (s != HVP_OK)
                t[i][j] = INFINITY; /* parameters this device cannot run */
            if (t[i][j] < fastest[j])
                fastest[j] = t[i][j];
            if (out && s == HVP_OK)
                fprintf(out, " %dx%dx%d:%.1f", SHAPES[j][0], SHAPES[j][1], SHAPES[j][2],
                        2.0 * SHAPES[j][0] * SHAPES[j][1] * SHAPES[j][2] / t[i][j] * 1e-9);
        }
        if (out && s == HVP_OK)
            fprintf(out, " GFLOP/s\n");
        else if (out)
            fprintf(out, " failed: %s\n", hvp_last_error());
        if (out)
            fflush(out);
    }
    /* The set with the smallest sum of log(time / fastest) over the shapes. */
    int best = 0;
    double best_score = INFINITY;
    for (int i = 0; i <= NSETS; i++) {
        double score = 0;
        for (int j = 0; j < NSHAPES; j++)
            score += log(t[i][j] / fastest[j]);
        if (score < best_score) {
            best_score = score;
            best = i;
        }
    }
    char body[64];
    snprintf(body, sizeof body, "xgemm = %s\n", hvp_clblast_xgemm_set_name(best));
    if (out)
        fprintf(out, "CLBlast Xgemm parameters chosen: %s", body);
    return hvp_tune_table_write(ctx, "clblast", body);
}
