/* Top-k per row for kNN: one work-item scans its row once, keeping a sorted list of the k
 * best in private memory (k is small: 20 in DINO's evaluation). */

#define KNN_MAX_K 128

kernel void topk_rows(int rows, int cols, int k, global const float *x, int x_off,
                      global float *vals, int vals_off, global int *idx, int idx_off)
{
    int r = get_global_id(0);
    if (r >= rows)
        return;
    float best[KNN_MAX_K];
    int where[KNN_MAX_K];
    int have = 0;
    global const float *row = x + x_off + (size_t)r * cols;
    for (int c = 0; c < cols; c++) {
        float v = row[c];
        if (have == k && !(v > best[k - 1]))
            continue; /* not better than the worst kept (ties keep the earlier column) */
        int pos = have < k ? have++ : k - 1;
        while (pos > 0 && v > best[pos - 1]) {
            best[pos] = best[pos - 1];
            where[pos] = where[pos - 1];
            pos--;
        }
        best[pos] = v;
        where[pos] = c;
    }
    for (int i = 0; i < k; i++) {
        vals[vals_off + r * k + i] = i < have ? best[i] : -INFINITY;
        idx[idx_off + r * k + i] = i < have ? where[i] : -1;
    }
}
