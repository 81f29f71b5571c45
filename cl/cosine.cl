/* Cosine similarity per row, s[i] = <a_i / max(||a_i||, eps), b_i / max(||b_i||, eps)>
 * (PyTorch F.cosine_similarity along dim 1), one work-group per row. */

kernel void cosine_fwd(int rows, int cols, global const float *a, int a_off,
                       global const float *b, int b_off, global float *s, int s_off, float eps,
                       local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *ar = a + a_off + (size_t)r * cols;
    const global float *br = b + b_off + (size_t)r * cols;
    float aa = 0.0f, bb = 0.0f, ab = 0.0f;
    for (int j = lid; j < cols; j += l) {
        aa += ar[j] * ar[j];
        bb += br[j] * br[j];
        ab += ar[j] * br[j];
    }
    float na = fmax(sqrt(group_sum(aa, scratch)), eps);
    float nb = fmax(sqrt(group_sum(bb, scratch)), eps);
    ab = group_sum(ab, scratch);
    if (lid == 0)
        s[s_off + r] = ab / na / nb;
}

/* ds/da = (b / nb - s a / na) / na where ||a|| > eps (else b / (na nb)), times ds[r];
 * likewise for b. A gradient whose flag is 0 is not written (its buffer is a stand-in). */
kernel void cosine_bwd(int rows, int cols, global const float *a, int a_off,
                       global const float *b, int b_off, global const float *ds, int ds_off,
                       int want_da, global float *da, int da_off, int want_db, global float *db,
                       int db_off, float eps, local float *scratch)
{
    int r = get_group_id(0), lid = get_local_id(0), l = get_local_size(0);
    if (r >= rows)
        return;
    const global float *ar = a + a_off + (size_t)r * cols;
    const global float *br = b + b_off + (size_t)r * cols;
    float aa = 0.0f, bb = 0.0f, ab = 0.0f;
    for (int j = lid; j < cols; j += l) {
        aa += ar[j] * ar[j];
        bb += br[j] * br[j];
        ab += ar[j] * br[j];
    }
    float la = sqrt(group_sum(aa, scratch)), lb = sqrt(group_sum(bb, scratch));
    ab = group_sum(ab, scratch);
    float na = fmax(la, eps), nb = fmax(lb, eps);
    float s = ab / na / nb, g = ds[ds_off + r];
    float ka = la > eps ? s / na : 0.0f, kb = lb > eps ? s / nb : 0.0f;
    for (int j = lid; j < cols; j += l) {
        float av = ar[j], bv = br[j];
        if (want_da)
            da[da_off + (size_t)r * cols + j] = g * (bv / nb - ka * av) / na;
        if (want_db)
            db[db_off + (size_t)r * cols + j] = g * (av / na - kb * bv) / nb;
    }
}
