#include "harness.h"
#include "ref/ref.h"

/* {B, D, L} */
static const int shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {3, 7, 16}, {5, 33, 9}, {2, 192, 64}};

HVP_TEST(vit_embed_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 5); s++) {
        int B = shapes[s][0], D = shapes[s][1], L = shapes[s][2];
        size_t nc = (size_t)B * D * L, np = (size_t)(L + 1) * D, ny = (size_t)B * np;
        float *c = test_floats(nc), *cls = test_floats((size_t)D), *pos = test_floats(np);
        test_fill_uniform(c, nc, -1, 1);
        test_fill_uniform(cls, (size_t)D, -1, 1);
        test_fill_uniform(pos, np, -1, 1);
        /* c as the conv output [B, D, h, w] with h*w = L (h = 1) */
        hvp_tensor tc = test_tensor(4, (int[]){B, D, 1, L}, c), tcls = test_tensor(1, &D, cls),
                   tpos = test_tensor(2, (int[]){L + 1, D}, pos),
                   ty = test_tensor(3, (int[]){B, L + 1, D}, NULL);
        REQUIRE_OK(hvp_vit_embed_fwd(test_ctx(), B, D, L, &tc, &tcls, &tpos, &ty));
        double *want = test_doubles(ny);
        ref_vit_embed_fwd(test_to_double(c, nc), test_to_double(cls, (size_t)D),
                          test_to_double(pos, np), want, B, D, L);
        EXPECT_CLOSE("vit_embed y", test_read(&ty), want, ny, FWD_TOL);
    }
    /* Wrong sizes are refused with a message. */
    int D = 4, L = 3;
    hvp_tensor tc = test_tensor(3, (int[]){2, D, L}, NULL), tcls = test_tensor(1, &D, NULL),
               tpos = test_tensor(2, (int[]){L, D}, NULL),
               ty = test_tensor(3, (int[]){2, L + 1, D}, NULL);
    EXPECT(hvp_vit_embed_fwd(test_ctx(), 2, D, L, &tc, &tcls, &tpos, &ty) != HVP_OK,
           "a pos_embed of L rows instead of L+1 must be refused");
}

typedef struct {
    double *c, *cls, *pos, *w, *y;
    int B, D, L;
} embed_loss;

static double embed_loss_fn(void *u)
{
    embed_loss *l = u;
    ref_vit_embed_fwd(l->c, l->cls, l->pos, l->y, l->B, l->D, l->L);
    return test_dot(l->w, l->y, (size_t)l->B * (l->L + 1) * l->D);
}

static void check_bwd(int B, int D, int L)
{
    size_t nc = (size_t)B * D * L, np = (size_t)(L + 1) * D, ny = (size_t)B * np;
    float *c = test_floats(nc), *cls = test_floats((size_t)D), *pos = test_floats(np),
          *dy = test_floats(ny);
    test_fill_uniform(c, nc, -1, 1);
    test_fill_uniform(cls, (size_t)D, -1, 1);
    test_fill_uniform(pos, np, -1, 1);
    test_fill_uniform(dy, ny, -1, 1);
    hvp_tensor tdy = test_tensor(3, (int[]){B, L + 1, D}, dy),
               tdc = test_tensor(3, (int[]){B, D, L}, NULL), tdcls = test_tensor(1, &D, NULL),
               tdpos = test_tensor(2, (int[]){L + 1, D}, NULL);
    /* dc is overwritten; the parameter gradients accumulate onto what is there. */
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdc, 123.0f));
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdcls, 0.5f));
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdpos, -0.25f));
    REQUIRE_OK(hvp_vit_embed_bwd(test_ctx(), B, D, L, &tdy, &tdc, &tdcls, &tdpos));
    embed_loss l = {test_to_double(c, nc),  test_to_double(cls, (size_t)D),
                    test_to_double(pos, np), test_to_double(dy, ny),
                    test_doubles(ny),       B, D, L};
    double *want = test_doubles(nc);
    test_fd_grad(l.c, nc, embed_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("vit_embed dc", test_read(&tdc), want, nc, GRAD_TOL);
    want = test_doubles((size_t)D);
    test_fd_grad(l.cls, (size_t)D, embed_loss_fn, &l, 1e-6, want);
    for (int d = 0; d < D; d++)
        want[d] += 0.5;
    EXPECT_CLOSE("vit_embed dcls", test_read(&tdcls), want, (size_t)D, GRAD_TOL);
    want = test_doubles(np);
    test_fd_grad(l.pos, np, embed_loss_fn, &l, 1e-6, want);
    for (size_t i = 0; i < np; i++)
        want[i] -= 0.25;
    EXPECT_CLOSE("vit_embed dpos", test_read(&tdpos), want, np, GRAD_TOL);
}

HVP_TEST(vit_embed_bwd)
{
    check_bwd(2, 3, 4);
    if (!test_tiny()) {
        check_bwd(1, 1, 1);
        check_bwd(3, 7, 9);
    }
}

/* The class-token rows and their backward: exact copies, so compared with tolerance 0. */
HVP_TEST(vit_cls)
{
    static const int dims[][3] = {{1, 1, 1}, {3, 5, 7}, {4, 17, 33}};
    for (int s = 0; s < (test_tiny() ? 2 : 3); s++) {
        int B = dims[s][0], T = dims[s][1], D = dims[s][2];
        size_t n = (size_t)B * T * D, r = (size_t)B * D;
        float *x = test_floats(n), *dy = test_floats(r);
        test_fill_uniform(x, n, -1, 1);
        test_fill_uniform(dy, r, -1, 1);
        hvp_tensor tx = test_tensor(3, (int[]){B, T, D}, x), ty = test_tensor(2, (int[]){B, D}, NULL),
                   tdy = test_tensor(2, (int[]){B, D}, dy),
                   tdx = test_tensor(3, (int[]){B, T, D}, NULL);
        REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdx, 123.0f)); /* overwritten */
        REQUIRE_OK(hvp_vit_cls_fwd(test_ctx(), B, T, D, &tx, &ty));
        REQUIRE_OK(hvp_vit_cls_bwd(test_ctx(), B, T, D, &tdy, &tdx));
        double *want = test_doubles(r), *dwant = test_doubles(n);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++) {
                    size_t i = ((size_t)b * T + t) * D + d;
                    if (t == 0)
                        want[(size_t)b * D + d] = x[i];
                    dwant[i] = t == 0 ? dy[(size_t)b * D + d] : 0.0;
                }
        EXPECT_CLOSE("vit_cls y", test_read(&ty), want, r, 0.0);
        EXPECT_CLOSE("vit_cls dx", test_read(&tdx), dwant, n, 0.0);
    }
}
