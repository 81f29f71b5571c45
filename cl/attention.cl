/* Layout kernels of multi-head attention (timm ViT). The qkv Linear's output [B, T, 3*H*Dh]
 * is read as (B, T, 3, H, Dh) and split into `parts` contiguous [B*H, T, Dh] blocks (q, k, v)
 * so that the products run as strided batched GEMMs over b*H + h; merge is the inverse. */

/* A 3-d range over (e-span, t, b): each work-item copies its `span` elements of e (from
 * span * get_global_id(0)) for each of the parts * H heads. GPUs take a span of 1 (the
 * items of a work-group read neighbouring elements); CPUs a whole head row (span = Dh), as
 * vectors (an item per element ran PoCL at a fifth of copy bandwidth). No integer division
 * (Oclgrind 21.10 cannot run the `freeze` that LLVM adds to a paired / and %). */

inline void copy_span(global float *d, global const float *s, int n)
{
    int i = 0;
    for (; i + 16 <= n; i += 16)
        vstore16(vload16(0, s + i), 0, d + i);
    for (; i < n; i++)
        d[i] = s[i];
}

/* dst[p][b*H + h][t][e] = src[b][t][p][h][e] when split, the inverse when not */
inline void split_or_merge(int split, int parts, int B, int T, int H, int Dh, int span,
                           global const float *src, int src_off, global float *dst, int dst_off)
{
    int e = get_global_id(0) * span, t = get_global_id(1), b = get_global_id(2);
    if (e >= Dh || t >= T || b >= B)
        return;
    int n = min(span, Dh - e);
    for (int p = 0; p < parts; p++)
        for (int h = 0; h < H; h++) {
            int heads = (((p * B + b) * H + h) * T + t) * Dh + e;
            int tokens = (((b * T + t) * parts + p) * H + h) * Dh + e;
            if (split)
                copy_span(dst + dst_off + heads, src + src_off + tokens, n);
            else
                copy_span(dst + dst_off + tokens, src + src_off + heads, n);
        }
}

/* qkv -> q, k, v (parts = 3) */
kernel void attention_fwd_split(int parts, int B, int T, int H, int Dh, int span,
                                global const float *src, int src_off, global float *dst,
                                int dst_off)
{
    split_or_merge(1, parts, B, T, H, Dh, span, src, src_off, dst, dst_off);
}

/* per-head outputs -> [B, T, H*Dh] (parts = 1) */
kernel void attention_fwd_merge(int parts, int B, int T, int H, int Dh, int span,
                                global const float *src, int src_off, global float *dst,
                                int dst_off)
{
    split_or_merge(0, parts, B, T, H, Dh, span, src, src_off, dst, dst_off);
}

/* dout [B, T, H*Dh] -> per head (parts = 1) */
kernel void attention_bwd_split(int parts, int B, int T, int H, int Dh, int span,
                                global const float *src, int src_off, global float *dst,
                                int dst_off)
{
    split_or_merge(1, parts, B, T, H, Dh, span, src, src_off, dst, dst_off);
}

/* dq, dk, dv -> dqkv [B, T, 3*H*Dh] (parts = 3) */
kernel void attention_bwd_merge(int parts, int B, int T, int H, int Dh, int span,
                                global const float *src, int src_off, global float *dst,
                                int dst_off)
{
    split_or_merge(0, parts, B, T, H, Dh, span, src, src_off, dst, dst_off);
}
