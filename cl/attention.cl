/* Layout kernels of multi-head attention (timm ViT). The qkv Linear's output [B, T, 3*H*Dh]
 * is read as (B, T, 3, H, Dh) and split into `parts` contiguous [B*H, T, Dh] blocks (q, k, v)
 * so that the products run as strided batched GEMMs over b*H + h; merge is the inverse. */

/* A 3-d range over (e, t, b), each work-item copying its parts * H elements: no integer
 * division (Oclgrind 21.10 cannot run the `freeze` that LLVM adds to a paired / and %). */

/* dst[p][b*H + h][t][e] = src[b][t][p][h][e] */
inline void split_heads(int parts, int B, int T, int H, int Dh, global const float *src,
                        int src_off, global float *dst, int dst_off)
{
    int e = get_global_id(0), t = get_global_id(1), b = get_global_id(2);
    if (e >= Dh || t >= T || b >= B)
        return;
    for (int p = 0; p < parts; p++)
        for (int h = 0; h < H; h++)
            dst[dst_off + (((p * B + b) * H + h) * T + t) * Dh + e] =
                src[src_off + (((b * T + t) * parts + p) * H + h) * Dh + e];
}

/* dst[b][t][p][h][e] = src[p][b*H + h][t][e] */
inline void merge_heads(int parts, int B, int T, int H, int Dh, global const float *src,
                        int src_off, global float *dst, int dst_off)
{
    int e = get_global_id(0), t = get_global_id(1), b = get_global_id(2);
    if (e >= Dh || t >= T || b >= B)
        return;
    for (int p = 0; p < parts; p++)
        for (int h = 0; h < H; h++)
            dst[dst_off + (((b * T + t) * parts + p) * H + h) * Dh + e] =
                src[src_off + (((p * B + b) * H + h) * T + t) * Dh + e];
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
