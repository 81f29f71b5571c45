/* The ViT position-embedding interpolation: against the double reference, its backward by
 * finite differences, and both against PyTorch's F.interpolate as DINO calls it
 * (tools/make_pos_interp_golden.py). */
#include <math.h>
#include <stdio.h>

#include "harness.h"
#include "hvp/safetensors.h"
#include "ref/ref.h"

#ifndef HVP_TEST_DATA
#define HVP_TEST_DATA "tests/data"
#endif

/* {D, G, g}: down, up, odd sizes, and a grid of 1 */
static const int shapes[][3] = {{3, 4, 2}, {5, 4, 6}, {2, 3, 7}, {7, 14, 6}, {1, 2, 1}, {4, 5, 9}};

HVP_TEST(vit_pos_interp_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 6); s++) {
        int D = shapes[s][0], G = shapes[s][1], g = shapes[s][2];
        size_t np = (size_t)(1 + G * G) * D, no = (size_t)(1 + g * g) * D;
        float scale = hvp_vit_pos_interp_scale(G, g);
        float *pos = test_floats(np);
        test_fill_uniform(pos, np, -1, 1);
        hvp_tensor tp = test_tensor_at(3, 2, (int[]){1 + G * G, D}, pos),
                   to = test_tensor_at(5, 2, (int[]){1 + g * g, D}, NULL);
        REQUIRE_OK(hvp_vit_pos_interp_fwd(test_ctx(), D, G, g, scale, &tp, &to));
        double *want = test_doubles(no);
        ref_vit_pos_interp_fwd(test_to_double(pos, np), want, D, G, g, scale);
        EXPECT_CLOSE("vit_pos_interp out", test_read(&to), want, no, FWD_TOL);
    }
    hvp_tensor tp = test_tensor(2, (int[]){16, 3}, NULL), to = test_tensor(2, (int[]){5, 3}, NULL);
    EXPECT(hvp_vit_pos_interp_fwd(test_ctx(), 3, 4, 2, 1.9f, &tp, &to) != HVP_OK,
           "a pos_embed of 16 rows for a 4 x 4 grid (17 rows) must be refused");
}

typedef struct {
    double *pos, *w, *out;
    int D, G, g;
    double scale;
} interp_loss;

static double interp_loss_fn(void *u)
{
    interp_loss *l = u;
    ref_vit_pos_interp_fwd(l->pos, l->out, l->D, l->G, l->g, l->scale);
    return test_dot(l->w, l->out, (size_t)(1 + l->g * l->g) * l->D);
}

HVP_TEST(vit_pos_interp_bwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 6); s++) {
        int D = shapes[s][0], G = shapes[s][1], g = shapes[s][2];
        size_t np = (size_t)(1 + G * G) * D, no = (size_t)(1 + g * g) * D;
        float scale = hvp_vit_pos_interp_scale(G, g);
        float *pos = test_floats(np), *dout = test_floats(no);
        test_fill_uniform(pos, np, -1, 1);
        test_fill_uniform(dout, no, -1, 1);
        hvp_tensor tdo = test_tensor_at(1, 2, (int[]){1 + g * g, D}, dout),
                   tdp = test_tensor_at(7, 2, (int[]){1 + G * G, D}, NULL);
        REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdp, 0.5f)); /* accumulated onto */
        REQUIRE_OK(hvp_vit_pos_interp_bwd(test_ctx(), D, G, g, scale, &tdo, &tdp));
        interp_loss l = {test_to_double(pos, np), test_to_double(dout, no), test_doubles(no),
                         D, G, g, scale};
        double *want = test_doubles(np);
        test_fd_grad(l.pos, np, interp_loss_fn, &l, 1e-6, want);
        for (size_t i = 0; i < np; i++)
            want[i] += 0.5;
        EXPECT_CLOSE("vit_pos_interp dpos", test_read(&tdp), want, np, GRAD_TOL);
    }
}

/* DINO's F.interpolate(scale_factor=(g + 0.1) / G) and size=(g, g), forward and backward. */
HVP_TEST(vit_pos_interp_matches_pytorch)
{
    hvp_st_file *f = NULL;
    REQUIRE_OK(hvp_st_open(HVP_TEST_DATA "/vit_pos_interp_golden.safetensors", &f));
    int G = test_meta_int(f, "G"), D = test_meta_int(f, "D");
    size_t np = (size_t)(1 + G * G) * D;
    hvp_tensor tp = test_tensor(2, (int[]){1 + G * G, D}, hvp_st_find(f, "pos")->data);
    static const int grids[] = {2, 3, 6};
    double worst = 0;
    for (int i = 0; i < 3; i++)
        for (int by_size = 0; by_size < (test_tiny() ? 1 : 2); by_size++) {
            int g = grids[i];
            size_t no = (size_t)(1 + g * g) * D;
            const char *kind = by_size ? "size" : "out";
            float scale = by_size ? (float)G / (float)g : hvp_vit_pos_interp_scale(G, g);
            char name[64];
            snprintf(name, sizeof name, "%s_g%d", kind, g);
            const hvp_st_tensor *want = hvp_st_find(f, name);
            snprintf(name, sizeof name, "d%s_g%d", kind, g);
            const hvp_st_tensor *dout = hvp_st_find(f, name);
            snprintf(name, sizeof name, "dpos_%s_g%d", kind, g);
            const hvp_st_tensor *dpos = hvp_st_find(f, name);
            if (!want || !dout || !dpos) {
                TEST_FAIL("golden file lacks %s", name);
                break;
            }
            hvp_tensor to = test_tensor(2, (int[]){1 + g * g, D}, NULL),
                       tdo = test_tensor(2, (int[]){1 + g * g, D}, dout->data),
                       tdp = test_tensor(2, (int[]){1 + G * G, D}, NULL);
            REQUIRE_OK(hvp_tensor_zero(test_ctx(), &tdp));
            REQUIRE_OK(hvp_vit_pos_interp_fwd(test_ctx(), D, G, g, scale, &tp, &to));
            REQUIRE_OK(hvp_vit_pos_interp_bwd(test_ctx(), D, G, g, scale, &tdo, &tdp));
            const float *got = test_read(&to), *dgot = test_read(&tdp);
            const float *w = want->data, *dw = dpos->data;
            for (size_t j = 0; j < no; j++)
                worst = fmax(worst, fabs((double)got[j] - w[j]));
            for (size_t j = 0; j < np; j++)
                worst = fmax(worst, fabs((double)dgot[j] - dw[j]));
            snprintf(name, sizeof name, "%s 4x4 -> %dx%d", kind, g, g);
            EXPECT_CLOSE(name, got, test_to_double(w, no), no, 1e-5);
            snprintf(name, sizeof name, "%s 4x4 -> %dx%d backward", kind, g, g);
            EXPECT_CLOSE(name, dgot, test_to_double(dw, np), np, 1e-5);
        }
    printf("    largest difference against PyTorch: %.3g\n", worst);
    hvp_st_close(f);
}
