/* model.init from PyTorch's own models: torchvision's resnet18() and timm's
 * vit_tiny_patch16_224 with every tensor filled by a formula of its name, shape and index
 * (tools/make_init_reference.py computes the same, so the weight files need not be stored).
 * The test writes the formula weights under the backbone's own names, with the 1000-class
 * head a downloaded file has and num_batches_tracked as I64; checks they are exactly the
 * names, dtypes and shapes of PyTorch's state dict (tests/data/init_*_tensors.txt); starts a
 * SimSiam model from the file with model.init and compares its eval-mode features of two
 * stored images with PyTorch's (computed in double). A name mapped to the wrong tensor
 * changes the features, so the comparison checks the mapping as well as the layers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hvp/model_io.h"
#include "hvp/ssl.h"
#include "hvp/train.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 0x811C9DC5u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x01000193u;
    return h;
}

static uint32_t fmix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    return x ^ (x >> 16);
}

/* The formula of tools/make_init_reference.py (its docstring states it) for the n elements
 * of tensor `name` of ndim dimensions, rows the first; 0 when no rule fits the name. */
static int formula_fill(const char *name, int ndim, int64_t rows, size_t n, float *out)
{
    uint32_t h = fnv1a32(name);
    const char *dot = strrchr(name, '.');
    const char *leaf = dot ? dot + 1 : name;
    double scale, offset = 0;
    if (strcmp(leaf, "running_mean") == 0 || strcmp(leaf, "bias") == 0)
        scale = 1.0 / 8;
    else if (strcmp(leaf, "running_var") == 0)
        scale = 1.0 / 2, offset = 1;
    else if (strcmp(leaf, "weight") == 0 && ndim == 1)
        scale = 1.0 / 4, offset = 1;
    else if (strcmp(leaf, "weight") == 0)
        scale = sqrt(6.0 / (double)(n / (size_t)rows));
    else if (strcmp(name, "cls_token") == 0 || strcmp(name, "pos_embed") == 0)
        scale = 1.0 / 16;
    else
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t x = fmix32(h ^ (uint32_t)((uint64_t)i * 0x9E3779B1u));
        double v = 2.0 * ((double)(x >> 8) / 16777216.0) - 1.0;
        out[i] = (float)(offset != 0 ? offset + v * scale : v * scale);
    }
    return 1;
}

typedef struct init_case {
    const char *arch, *names_file, *head; /* head: the classifier's prefix in PyTorch */
} init_case;

/* Adds tensor `name` of shape (F32, or I64 for a count) with the formula's values. */
static hvp_status add_formula(hvp_st_writer *w, const char *name, int ndim, const int64_t *shape,
                              int is_count)
{
    if (is_count) {
        int64_t count = fnv1a32(name) % 1000;
        return hvp_st_add(w, name, HVP_ST_I64, 0, NULL, &count);
    }
    size_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= (size_t)shape[d];
    float *v = malloc(n * sizeof *v);
    if (!v)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for %s", name);
    hvp_status st = formula_fill(name, ndim, ndim ? shape[0] : 1, n, v)
                        ? hvp_st_add(w, name, HVP_ST_F32, ndim, shape, v)
                        : HVP_FAIL(HVP_ERR_ARG, "no formula for tensor %s", name);
    free(v);
    return st;
}

/* The formula weights of the backbone cfg builds (its own names) plus the PyTorch model's
 * 1000-class head on its features, written to path. */
static hvp_status write_formula_file(hvp_ctx *ctx, const hvp_config *cfg, const init_case *k,
                                     const char *path)
{
    hvp_backbone_config bc;
    HVP_TRY(hvp_train_backbone_config(cfg, 3, &bc));
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_state s;
    hvp_backbone bb;
    memset(&bb, 0, sizeof bb);
    hvp_state_init(&s, 1);
    hvp_st_writer *w = NULL;
    hvp_status st = hvp_backbone_init(&bb, &s, ctx, "", &bc);
    if (st == HVP_OK)
        st = hvp_st_writer_new(&w);
    for (int i = 0; st == HVP_OK && i < s.nparams + s.nbuffers; i++) {
        const hvp_buffer *b = i < s.nparams ? NULL : &s.buffers[i - s.nparams];
        const hvp_tensor *t = b ? &b->value : &s.params[i].value;
        int64_t shape[HVP_ST_MAX_DIMS];
        int ndim = b && b->is_count ? 0 : t->ndim;
        for (int d = 0; d < ndim; d++)
            shape[d] = t->shape[d];
        st = add_formula(w, b ? b->name : s.params[i].name, ndim, shape, b && b->is_count);
    }
    char name[64];
    snprintf(name, sizeof name, "%s.weight", k->head);
    if (st == HVP_OK)
        st = add_formula(w, name, 2, (int64_t[]){1000, hvp_backbone_feature_dim(&bb)}, 0);
    snprintf(name, sizeof name, "%s.bias", k->head);
    if (st == HVP_OK)
        st = add_formula(w, name, 1, (int64_t[]){1000}, 0);
    if (st == HVP_OK)
        st = hvp_st_save(w, path);
    hvp_st_writer_free(w);
    hvp_backbone_free(&bb);
    hvp_state_free(&s);
    hvp_arena_rewind(ctx->params, mark);
    return st;
}

/* Every line "name DTYPE d0,d1,..." of PyTorch's state dict is a tensor of the file with that
 * dtype and shape, and the file holds no other. */
static void expect_pytorch_names(const char *list_path, const char *file)
{
    hvp_st_file *f = NULL;
    if (hvp_st_open(file, &f) != HVP_OK) {
        TEST_FAIL("%s: %s", file, hvp_last_error());
        return;
    }
    size_t n;
    char *text = (char *)test_read_file(list_path, &n);
    int lines = 0;
    for (char *save = NULL, *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save), lines++) {
        char name[128], dtype[8], dims[64];
        if (sscanf(line, "%127s %7s %63s", name, dtype, dims) != 3) {
            TEST_FAIL("%s: bad line '%s'", list_path, line);
            continue;
        }
        const hvp_st_tensor *t = hvp_st_find(f, name);
        char got[64] = "-";
        for (int d = 0, at = 0; t && d < t->ndim; d++)
            at += snprintf(got + at, sizeof got - (size_t)at, d ? ",%lld" : "%lld",
                           (long long)t->shape[d]);
        EXPECT(t && strcmp(hvp_st_dtype_name(t->dtype), dtype) == 0 && strcmp(got, dims) == 0,
               "PyTorch's %s %s [%s]: hvp wrote %s [%s]", name, dtype, dims,
               t ? hvp_st_dtype_name(t->dtype) : "nothing", t ? got : "");
    }
    EXPECT(lines > 0 && hvp_st_count(f) == lines, "hvp wrote %d tensors, PyTorch's state dict "
           "has %d (%s)", hvp_st_count(f), lines, list_path);
    hvp_st_close(f);
}

/* The stored images as the model's input: (pixel / 255 - mean) / std in double, as the
 * script, then float32. */
static float *normalised_images(const hvp_st_tensor *px, size_t n)
{
    static const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
    float *x = test_floats(n);
    size_t plane = (size_t)px->shape[2] * (size_t)px->shape[3];
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i / plane % 3);
        x[i] = (float)((((const unsigned char *)px->data)[i] / 255.0 - mean[c]) / std[c]);
    }
    return x;
}

static void check_against_pytorch(const init_case *k)
{
    if (test_tiny()) {
        test_skip("whole 224 px models; their kernels are checked by the op tests");
        return;
    }
    hvp_ctx *ctx = test_ctx();
    hvp_st_file *ref = NULL;
    REQUIRE_OK(hvp_st_open(HVP_TEST_DATA "/init_reference.safetensors", &ref));
    char key[64];
    snprintf(key, sizeof key, "%s.features", k->arch);
    const hvp_st_tensor *px = hvp_st_find(ref, "images"), *want = hvp_st_find(ref, key);
    if (!px || px->dtype != HVP_ST_U8 || px->ndim != 4 || px->shape[1] != 3 || !want ||
        want->dtype != HVP_ST_F64 || want->ndim != 2 || want->shape[0] != px->shape[0]) {
        TEST_FAIL("init_reference.safetensors: expected images U8 [n, 3, s, s] and %s F64 "
                  "[n, d]", key);
        hvp_st_close(ref);
        return;
    }
    int B = (int)px->shape[0], S = (int)px->shape[2], D = (int)want->shape[1];

    char *dir = test_tmpdir(), path[1200], over[1300];
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, k->arch);
    hvp_config c;
    hvp_config_defaults(&c);
    snprintf(over, sizeof over, "model.arch=%s", k->arch);
    hvp_status st = hvp_config_override(&c, over);
    snprintf(over, sizeof over, "data.image_size=%d", S);
    if (st == HVP_OK)
        st = hvp_config_override(&c, over);
    if (st == HVP_OK)
        st = hvp_config_override(&c, "method.name=simsiam");
    if (st == HVP_OK)
        st = write_formula_file(ctx, &c, k, path);
    if (st == HVP_OK)
        expect_pytorch_names(k->names_file, path);
    snprintf(over, sizeof over, "model.init=%s", path);
    if (st == HVP_OK)
        st = hvp_config_override(&c, over);
    hvp_arena_mark mark = hvp_arena_get_mark(ctx->params);
    hvp_method *m = NULL;
    if (st == HVP_OK)
        st = hvp_train_make_method(ctx, &c, 3, &m);
    hvp_tensor feat;
    float *got = NULL;
    if (st == HVP_OK) {
        size_t n = (size_t)B * 3 * S * S;
        hvp_tensor x = test_tensor(4, (int[]){B, 3, S, S}, normalised_images(px, n));
        st = m->ops->features(m, ctx, &x, &feat);
    }
    if (st == HVP_OK && (feat.ndim != 2 || feat.shape[0] != B || feat.shape[1] != D))
        st = HVP_FAIL(HVP_ERR_ARG, "features [%d, %d], PyTorch's [%d, %d]", feat.shape[0],
                      feat.ndim == 2 ? feat.shape[1] : -1, B, D);
    if (st == HVP_OK)
        got = test_read(&feat);
    if (got) {
        size_t n = (size_t)B * D;
        double *w = test_doubles(n); /* a file's F64 data need not be 8-byte aligned */
        memcpy(w, want->data, n * sizeof *w);
        double worst = 0, top = 0;
        for (size_t i = 0; i < n; i++) {
            top = fmax(top, fabs(w[i]));
            worst = fmax(worst, fabs(got[i] - w[i]));
        }
        printf("    %s from model.init against PyTorch: largest difference %.3g, %.3g of the "
               "largest feature %.4g\n", k->arch, worst, worst / top, top);
        EXPECT_CLOSE(key, got, w, n, 1e-4);
    } else {
        TEST_FAIL("%s: %s", k->arch, hvp_last_error());
    }
    hvp_method_destroy(m);
    hvp_arena_rewind(ctx->params, mark);
    hvp_st_close(ref);
    test_rmdir(dir);
}

HVP_TEST(model_init_resnet18_matches_torchvision)
{
    check_against_pytorch(&(init_case){"resnet18", HVP_TEST_DATA "/init_resnet18_tensors.txt",
                                       "fc"});
}

HVP_TEST(model_init_vit_tiny_matches_timm)
{
    check_against_pytorch(&(init_case){"vit_tiny", HVP_TEST_DATA "/init_vit_tiny_tensors.txt",
                                       "head"});
}
