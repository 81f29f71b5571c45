/* GELU, exact erf form: y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */

kernel void gelu_fwd(int n, global const float *x, int x_off, global float *y, int y_off)
{
    int i = get_global_id(0);
    if (i < n) {
        float v = x[x_off + i];
        y[y_off + i] = 0.5f * v * (1.0f + erf(v * M_SQRT1_2_F));
    }
}

/* dx = dy * (Phi(x) + x * phi(x)), from the forward's input; dx may be dy. */
kernel void gelu_bwd(int n, global const float *x, int x_off, global const float *dy, int dy_off,
                     global float *dx, int dx_off)
{
    int i = get_global_id(0);
    if (i < n) {
        float v = x[x_off + i];
        float cdf = 0.5f * (1.0f + erf(v * M_SQRT1_2_F));
        float pdf = exp(-0.5f * v * v) * (0.5f * M_2_SQRTPI_F * M_SQRT1_2_F);
        dx[dx_off + i] = dy[dy_off + i] * (cdf + v * pdf);
    }
}
