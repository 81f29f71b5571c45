/* Whole-tensor fills and copies. Kernels rather than clEnqueueFill/Copy/WriteBuffer on
 * part of a buffer: after such a partial host-side write Oclgrind 21.10 reports every later
 * read of the buffer as uninitialised (checked with a 20-line program), while kernel
 * writes are tracked exactly. */

kernel void fill_u32(int n, global uint *x, int x_off, uint value)
{
    int i = get_global_id(0);
    if (i < n)
        x[x_off + i] = value;
}

kernel void copy_u32(int n, global const uint *src, int src_off, global uint *dst, int dst_off)
{
    int i = get_global_id(0);
    if (i < n)
        dst[dst_off + i] = src[src_off + i];
}

kernel void copy_u8(int n, global const uchar *src, int src_off, global uchar *dst, int dst_off)
{
    int i = get_global_id(0);
    if (i < n)
        dst[dst_off + i] = src[src_off + i];
}
