/* Layout kernels of multi-head attention (timm ViT). The qkv Linear's output [B, T, 3*H*Dh]
 * is read as (B, T, 3, H, Dh) and split into `parts` contiguous [B*H, T, Dh] blocks (q, k, v)
 * so that the products run as strided batched GEMMs over b*H + h; merge is the inverse.
 * One work-item per element of the destination, so writes are contiguous. */

/* dst[p][b*H + h][t][e] = src[b][t][p][h][e] */
inline void split_heads(int parts, int B, int T, int H, int Dh, global const float *src,
                        int src_off, global float *dst, int dst_off)
{
    int i = get_global_id(0);
    if (i >= parts * B * H * T * Dh)
        return;
    int e = i % Dh, r = i / Dh;
    int t = r % T;
    r /= T;
    int h = r % H;
    r /= H;
    int b = r % B, p = r / B;
    dst[dst_off + i] = src[src_off + (((b * T + t) * parts + p) * H + h) * Dh + e];
}

/* dst[b][t][p][h][e] = src[p][b*H + h][t][e] */
inline void merge_heads(int parts, int B, int T, int H, int Dh, global const float *src,
                        int src_off, global float *dst, int dst_off)
{
    int i = get_global_id(0);
    if (i >= parts * B * H * T * Dh)
        return;
    int e = i % Dh, r = i / Dh;
    int h = r % H;
    r /= H;
    int p = r % parts;
    r /= parts;
    int t = r % T, b = r / T;
    dst[dst_off + i] = src[src_off + (((p * B + b) * H + h) * T + t) * Dh + e];
}

/* qkv -> q, k, v (parts = 3) */
kernel void attention_fwd_split(int parts, int B, int T, int H, int Dh, global const float *src,
                                int src_off, global float *dst, int dst_off)
{
    split_heads(parts, B, T, H, Dh, src, src_off, dst, dst_off);
}

/* per-head outputs -> [B, T, H*Dh] (parts = 1) */
kernel void attention_fwd_merge(int parts, int B, int T, int H, int Dh, global const float *src,
                                int src_off, global float *dst, int dst_off)
{
    merge_heads(parts, B, T, H, Dh, src, src_off, dst, dst_off);
}

/* dout [B, T, H*Dh] -> per head (parts = 1) */
kernel void attention_bwd_split(int parts, int B, int T, int H, int Dh, global const float *src,
                                int src_off, global float *dst, int dst_off)
{
    split_heads(parts, B, T, H, Dh, src, src_off, dst, dst_off);
}

/* dq, dk, dv -> dqkv [B, T, 3*H*Dh] (parts = 3) */
kernel void attention_bwd_merge(int parts, int B, int T, int H, int Dh, global const float *src,
                                int src_off, global float *dst, int dst_off)
{
    merge_heads(parts, B, T, H, Dh, src, src_off, dst, dst_off);
}
