/* EMA of parameters and gradient clipping by norms already reduced on the device. */

/* t = m t + (1 - m) s */
kernel void optim_ema(int n, global float *t, int t_off, global const float *s, int s_off,
                      float m, float one_minus_m)
{
    int i = get_global_id(0);
    if (i < n)
        t[t_off + i] = m * t[t_off + i] + one_minus_m * s[s_off + i];
}

/* g *= max_norm / (norm + 1e-6) when that is below 1; norm = norms[norm_off]. */
kernel void optim_clip(int n, global float *g, int g_off, global const float *norms,
                       int norm_off, float max_norm)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float c = max_norm / (norms[norm_off] + 1e-6f);
    if (c < 1.0f)
        g[g_off + i] *= c;
}
