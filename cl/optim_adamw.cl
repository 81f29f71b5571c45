/* torch.optim.AdamW (not amsgrad): p *= 1 - lr wd; m = b1 m + (1 - b1) g;
 * v = b2 v + (1 - b2) g^2; p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), with the
 * bias corrections bc = 1 - beta^step computed on the host. */

kernel void optim_adamw(int n, global float *p, int p_off, global const float *g, int g_off,
                        global float *m, int m_off, global float *v, int v_off, float decay,
                        float beta1, float beta2, float step_size, float bc2_sqrt, float eps)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float gv = g[g_off + i];
    float pv = p[p_off + i] * decay;
    float mv = beta1 * m[m_off + i] + (1.0f - beta1) * gv;
    float vv = beta2 * v[v_off + i] + (1.0f - beta2) * gv * gv;
    m[m_off + i] = mv;
    v[v_off + i] = vv;
    p[p_off + i] = pv - step_size * (mv / (sqrt(vv) / bc2_sqrt + eps));
}
