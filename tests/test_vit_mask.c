#include <string.h>

#include "harness.h"
#include "ref/ref.h"

static hvp_tensor mask_tensor(int B, int L, const int *host)
{
    hvp_tensor t;
    memset(&t, 0, sizeof t);
    if (hvp_tensor_alloc(test_ctx()->acts, HVP_I32, 2, (int[]){B, L}, "test mask", &t) != HVP_OK ||
        hvp_tensor_upload(test_ctx(), &t, host) != HVP_OK)
        TEST_FAIL("mask tensor: %s", hvp_last_error());
    return t;
}

/* About a third of the patches masked, some rows all or none. */
static int *make_mask(int B, int L)
{
    int *m = (int *)test_floats((size_t)B * L); /* same size as int */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++)
            m[b * L + t] = b == 1 ? 1 : b == 2 ? 0 : ((t * 7 + b * 3) % 3 == 0);
    return m;
}

/* {B, D, L} */
static const int shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {3, 7, 16}, {5, 33, 9}, {4, 192, 64}};

HVP_TEST(vit_mask_fwd)
{
    for (int s = 0; s < (test_tiny() ? 2 : 5); s++) {
        int B = shapes[s][0], D = shapes[s][1], L = shapes[s][2];
        size_t n = (size_t)B * D * L;
        float *c = test_floats(n), *e = test_floats((size_t)D);
        test_fill_uniform(c, n, -1, 1);
        test_fill_uniform(e, (size_t)D, -1, 1);
        int *mask = make_mask(B, L);
        hvp_tensor tc = test_tensor(4, (int[]){B, D, 1, L}, c), te = test_tensor(1, &D, e),
                   tm = mask_tensor(B, L, mask), ty = test_tensor(3, (int[]){B, D, L}, NULL);
        REQUIRE_OK(hvp_vit_mask_fwd(test_ctx(), B, D, L, &tc, &tm, &te, &ty));
        double *want = test_doubles(n);
        ref_vit_mask_fwd(test_to_double(c, n), mask, test_to_double(e, (size_t)D), want, B, D, L);
        EXPECT_CLOSE("vit_mask y", test_read(&ty), want, n, 0.0);
        /* in place */
        REQUIRE_OK(hvp_vit_mask_fwd(test_ctx(), B, D, L, &tc, &tm, &te, &tc));
        EXPECT_CLOSE("vit_mask y in place", test_read(&tc), want, n, 0.0);
    }
    int D = 4, L = 3;
    hvp_tensor tc = test_tensor(3, (int[]){2, D, L}, NULL), te = test_tensor(1, &D, NULL),
               tm = test_tensor(2, (int[]){2, L}, NULL), ty = test_tensor(3, (int[]){2, D, L}, NULL);
    EXPECT(hvp_vit_mask_fwd(test_ctx(), 2, D, L, &tc, &tm, &te, &ty) != HVP_OK,
           "an F32 mask must be refused");
}

typedef struct {
    double *c, *e, *w, *y;
    const int *mask;
    int B, D, L;
} mask_loss;

static double mask_loss_fn(void *u)
{
    mask_loss *l = u;
    ref_vit_mask_fwd(l->c, l->mask, l->e, l->y, l->B, l->D, l->L);
    return test_dot(l->w, l->y, (size_t)l->B * l->D * l->L);
}

static void check_bwd(int B, int D, int L)
{
    size_t n = (size_t)B * D * L;
    float *c = test_floats(n), *e = test_floats((size_t)D), *dy = test_floats(n);
    test_fill_uniform(c, n, -1, 1);
    test_fill_uniform(e, (size_t)D, -1, 1);
    test_fill_uniform(dy, n, -1, 1);
    int *mask = make_mask(B, L);
    hvp_tensor tdy = test_tensor(3, (int[]){B, D, L}, dy), tm = mask_tensor(B, L, mask),
               tdc = test_tensor(3, (int[]){B, D, L}, NULL), tde = test_tensor(1, &D, NULL);
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tdc, 123.0f)); /* overwritten */
    REQUIRE_OK(hvp_tensor_fill_f32(test_ctx(), &tde, 0.5f));   /* accumulated onto */
    REQUIRE_OK(hvp_vit_mask_bwd(test_ctx(), B, D, L, &tdy, &tm, &tdc, &tde));
    mask_loss l = {test_to_double(c, n), test_to_double(e, (size_t)D), test_to_double(dy, n),
                   test_doubles(n), mask, B, D, L};
    double *want = test_doubles(n);
    test_fd_grad(l.c, n, mask_loss_fn, &l, 1e-6, want);
    EXPECT_CLOSE("vit_mask dc", test_read(&tdc), want, n, GRAD_TOL);
    double *dwe = test_doubles((size_t)D);
    test_fd_grad(l.e, (size_t)D, mask_loss_fn, &l, 1e-6, dwe);
    for (int d = 0; d < D; d++)
        dwe[d] += 0.5;
    EXPECT_CLOSE("vit_mask dmasked_embed", test_read(&tde), dwe, (size_t)D, GRAD_TOL);
    /* in place: dc = dy */
    REQUIRE_OK(hvp_vit_mask_bwd(test_ctx(), B, D, L, &tdy, &tm, &tdy, &tde));
    EXPECT_CLOSE("vit_mask dc in place", test_read(&tdy), want, n, GRAD_TOL);
}

HVP_TEST(vit_mask_bwd)
{
    check_bwd(3, 3, 4);
    if (!test_tiny()) {
        check_bwd(1, 1, 1);
        check_bwd(4, 7, 9);
    }
}
