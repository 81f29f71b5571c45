/* GELU, exact erf form: y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). VEC elements per
 * work-item (cl/common.cl); every item reads and writes only its own elements, so y may be
 * x and dx may be dy. */

/* Phi(v) with erf from Eigen's rational approximation (generic_fast_erf_float: odd degree 13
 * over even degree 8 on [-4, 4], beyond which erf is +-1 in float): absolute error under
 * 4e-7 everywhere (checked against the double erf), within the 16 ulp OpenCL allows its
 * erf builtin, and plain arithmetic: PoCL runs the builtin ~12x slower at ViT-S shapes. */
inline floatv gelu_cdf(floatv v)
{
    floatv x = clamp(v * M_SQRT1_2_F, -4.0f, 4.0f), x2 = x * x;
    floatv p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    floatv q = -1.45660718464996e-05f;
    q = q * x2 - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return 0.5f + 0.5f * (x * p / q);
}

inline floatv gelu(floatv v) { return v * gelu_cdf(v); }

/* dy * (Phi(x) + x * phi(x)) */
inline floatv gelu_grad(floatv v, floatv dy)
{
    floatv pdf = exp(-0.5f * v * v) * (0.5f * M_2_SQRTPI_F * M_SQRT1_2_F);
    return dy * (gelu_cdf(v) + v * pdf);
}

kernel void gelu_fwd(int n, global const float *x, int x_off, global float *y, int y_off)
{
    int i = get_global_id(0), al = vec_aligned(x_off | y_off);
    x += x_off;
    y += y_off;
    if (VEC * i + VEC <= n)
        storev(gelu(loadv(x, i, al)), y, i, al);
    else /* the tail */
        for (int j = VEC * i; j < n; j++)
            y[j] = gelu((floatv)x[j]).s0;
}

/* dx from the forward's input x. */
kernel void gelu_bwd(int n, global const float *x, int x_off, global const float *dy,
                     int dy_off, global float *dx, int dx_off)
{
    int i = get_global_id(0), al = vec_aligned(x_off | dy_off | dx_off);
    x += x_off;
    dy += dy_off;
    dx += dx_off;
    if (VEC * i + VEC <= n)
        storev(gelu_grad(loadv(x, i, al), loadv(dy, i, al)), dx, i, al);
    else
        for (int j = VEC * i; j < n; j++)
            dx[j] = gelu_grad((floatv)x[j], (floatv)dy[j]).s0;
}
