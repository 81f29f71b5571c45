/* SGD with momentum and weight decay (torch.optim.SGD, dampening 0, no nesterov), and LARS
 * as solo-learn implements it. The momentum buffer starts at zero, so the first step's
 * buf = momentum * 0 + d = d exactly as PyTorch's clone. */

kernel void optim_sgd(int n, global float *p, int p_off, global const float *g, int g_off,
                      int has_buf, global float *buf, int buf_off, float lr, float wd,
                      float momentum)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float pv = p[p_off + i], d = g[g_off + i];
    if (wd != 0.0f)
        d = d + wd * pv;
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}

/* d = g; where adapt and both norms > 0: d = (g + wd p) * eta ||p|| / (||g|| + wd ||p|| + eps)
 * (the ratio divided by lr and capped at 1 when clip_lr); then momentum SGD. The norms are
 * norms[norm_off] = ||p||, norms[norm_off + 1] = ||g||, reduced on the device before. */
kernel void optim_lars(int n, global float *p, int p_off, global const float *g, int g_off,
                       int has_buf, global float *buf, int buf_off, float lr, float wd,
                       float momentum, int adapt, global const float *norms, int norm_off,
                       float eta, float eps, int clip_lr)
{
    int i = get_global_id(0);
    if (i >= n)
        return;
    float pv = p[p_off + i], d = g[g_off + i];
    if (adapt) {
        float pn = norms[norm_off], gn = norms[norm_off + 1];
        if (pn != 0.0f && gn != 0.0f) {
            float ratio = pn / (gn + pn * wd + eps) * eta;
            if (clip_lr)
                ratio = fmin(ratio / lr, 1.0f);
            d = (d + wd * pv) * ratio;
        }
    }
    if (has_buf) {
        d = momentum * buf[buf_off + i] + d;
        buf[buf_off + i] = d;
    }
    p[p_off + i] = pv - lr * d;
}
