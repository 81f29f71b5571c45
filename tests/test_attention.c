#include "harness.h"
#include "ref/ref.h"

static void check_attention_fwd(int B, int T, int H, int Dh)
{
    hvp_attn_shape s = {B, T, H, Dh};
    int D = H * Dh;
    size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D;
    float *qkv = test_floats(nq);
    test_fill_uniform(qkv, nq, -1.5f, 1.5f);
    int ns = (int)hvp_attention_saved_numel(&s);
    hvp_tensor tq = test_tensor(3, (int[]){B, T, 3 * D}, qkv), tsaved = test_tensor(1, &ns, NULL),
               to = test_tensor(3, (int[]){B, T, D}, NULL);
    REQUIRE_OK(hvp_attention_fwd(test_ctx(), &s, &tq, &tsaved, &to));
    double *want = test_doubles(no);
    ref_attention_fwd(test_to_double(qkv, nq), want, B, T, H, Dh);
    char what[96];
    snprintf(what, sizeof what, "attention out B=%d T=%d H=%d Dh=%d row_per_item %d", B, T, H,
             Dh, test_ctx()->row_per_item);
    EXPECT_CLOSE(what, test_read(&to), want, no, FWD_TOL);
}

/* Heads of a few elements, and of whole vectors with a tail (Dh 20, 64); the layout
 * kernels an element per work-item and a head row per work-item (ctx->row_per_item). */
HVP_TEST(attention_fwd)
{
    static const int shapes[][4] = {{1, 2, 1, 2}, {2, 3, 2, 3}, {2, 5, 1, 4}, {1, 17, 3, 8},
                                    {3, 7, 6, 5}, {2, 4, 2, 20}, {1, 197, 6, 64}};
    int ns = test_tiny() ? 2 : 7;
    for (int item = 0; item < 2; item++)
        for (int i = 0; i < ns; i++) {
            test_ctx()->row_per_item = item;
            check_attention_fwd(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
        }
}

typedef struct {
    double *qkv, *dout, *out;
    int B, T, H, Dh;
} attn_loss;

static double attn_loss_fn(void *u)
{
    attn_loss *l = u;
    ref_attention_fwd(l->qkv, l->out, l->B, l->T, l->H, l->Dh);
    return test_dot(l->dout, l->out, (size_t)l->B * l->T * l->H * l->Dh);
}

static void check_attention_bwd(int B, int T, int H, int Dh)
{
    hvp_attn_shape s = {B, T, H, Dh};
    int D = H * Dh;
    size_t nq = (size_t)B * T * 3 * D, no = (size_t)B * T * D;
    float *qkv = test_floats(nq), *dout = test_floats(no);
    test_fill_uniform(qkv, nq, -1.5f, 1.5f);
    test_fill_uniform(dout, no, -1, 1);
    int ns = (int)hvp_attention_saved_numel(&s);
    hvp_tensor tq = test_tensor(3, (int[]){B, T, 3 * D}, qkv), tsaved = test_tensor(1, &ns, NULL),
               to = test_tensor(3, (int[]){B, T, D}, NULL),
               tdo = test_tensor(3, (int[]){B, T, D}, dout),
               tdq = test_tensor(3, (int[]){B, T, 3 * D}, NULL);
    REQUIRE_OK(hvp_attention_fwd(test_ctx(), &s, &tq, &tsaved, &to));
    REQUIRE_OK(hvp_attention_bwd(test_ctx(), &s, &tsaved, &tdo, &tdq));
    attn_loss l = {test_to_double(qkv, nq), test_to_double(dout, no), test_doubles(no),
                   B, T, H, Dh};
    double *want = test_doubles(nq);
    test_fd_grad(l.qkv, nq, attn_loss_fn, &l, 1e-6, want);
    char what[96];
    snprintf(what, sizeof what, "attention dqkv B=%d T=%d H=%d Dh=%d row_per_item %d", B, T, H,
             Dh, test_ctx()->row_per_item);
    EXPECT_CLOSE(what, test_read(&tdq), want, nq, GRAD_TOL);
}

HVP_TEST(attention_bwd)
{
    for (int item = 0; item < 2; item++) {
        test_ctx()->row_per_item = item;
        if (test_tiny()) {
            check_attention_bwd(2, 3, 2, 2);
            continue;
        }
        check_attention_bwd(1, 1, 1, 3);
        check_attention_bwd(2, 5, 3, 4);
        check_attention_bwd(1, 17, 1, 8);
        check_attention_bwd(2, 7, 6, 2);
        check_attention_bwd(1, 3, 2, 20);
    }
}
