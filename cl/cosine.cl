/* Cosine similarity per row, s = a.b / (max(||a||, eps) max(||b||, eps)) (PyTorch
 * F.cosine_similarity along dim 1). Laid out as cl/l2norm.cl: row get_global_id(1) belongs to
 * the work-group's items of that local row, which stride over it by VEC-element vectors (one
 * of them also over its tail) and sum in their share of local memory (row_sum, a fixed
 * order); each *_item twin takes a whole row per item and has no barriers (CPUs).
 * (It was a work-group of 256 scalar items per row, with barriers: SimSiam's pair scores,
 * [128, 2048], twelve calls a selection step.) */

/* The row's three sums a.a, b.b and a.b. */
inline float3 cosine_sums(int cols, global const float *a, global const float *b, int al,
                          local float *buf, int grouped)
{
    int lid = get_local_id(0), lsz = get_local_size(0), nv = cols / VEC;
    floatv aa = 0.0f, bb = 0.0f, ab = 0.0f;
    for (int v = lid; v < nv; v += lsz) {
        floatv x = loadv(a, v, al), y = loadv(b, v, al);
        aa += x * x;
        bb += y * y;
        ab += x * y;
    }
    if (cols % VEC > 0 && lid == tail_item(cols, lsz)) {
        floatv x = select(0.0f, load_tail(a, cols), tail_lanes(cols));
        floatv y = select(0.0f, load_tail(b, cols), tail_lanes(cols));
        aa += x * x;
        bb += y * y;
        ab += x * y;
    }
    float saa = row_sum(hsum(aa), buf, grouped), sbb = row_sum(hsum(bb), buf, grouped);
    return (float3)(saa, sbb, row_sum(hsum(ab), buf, grouped));
}

inline void cosine_fwd_row(int rows, int cols, global const float *a, int a_off,
                           global const float *b, int b_off, global float *s, int s_off,
                           float eps, local float *buf, int grouped)
{
    int row = get_global_id(1);
    buf += get_local_id(1) * get_local_size(0);
    int n = row < rows ? cols : 0; /* no early return before a barrier: an empty row */
    int ao = a_off + row * n, bo = b_off + row * n;
    float3 t = cosine_sums(n, a + ao, b + bo, vec_aligned(ao | bo), buf, grouped);
    if (row < rows && get_local_id(0) == 0)
        s[s_off + row] = t.z / fmax(sqrt(t.x), eps) / fmax(sqrt(t.y), eps);
}

kernel void cosine_fwd(int rows, int cols, global const float *a, int a_off,
                       global const float *b, int b_off, global float *s, int s_off, float eps,
                       local float *buf)
{
    cosine_fwd_row(rows, cols, a, a_off, b, b_off, s, s_off, eps, buf, 1);
}

kernel void cosine_fwd_item(int rows, int cols, global const float *a, int a_off,
                            global const float *b, int b_off, global float *s, int s_off,
                            float eps, local float *buf)
{
    cosine_fwd_row(rows, cols, a, a_off, b, b_off, s, s_off, eps, buf, 0);
}

/* ds/da = (b / nb - s a / na) / na where ||a|| > eps (else b / (na nb)), times ds[r];
 * likewise for b. A gradient whose flag is 0 is not written (its buffer is a stand-in). */
inline void cosine_bwd_row(int rows, int cols, global const float *a, int a_off,
                           global const float *b, int b_off, global const float *ds, int ds_off,
                           int want_da, global float *da, int da_off, int want_db,
                           global float *db, int db_off, float eps, local float *buf,
                           int grouped)
{
    int row = get_global_id(1), lid = get_local_id(0), lsz = get_local_size(0);
    buf += get_local_id(1) * lsz;
    int n = row < rows ? cols : 0;
    int ao = a_off + row * n, bo = b_off + row * n, dao = da_off + row * n, dbo = db_off + row * n;
    int al = vec_aligned(ao | bo | dao | dbo), nv = n / VEC;
    a += ao;
    b += bo;
    da += dao;
    db += dbo;
    float3 t = cosine_sums(n, a, b, al, buf, grouped);
    if (row >= rows)
        return; /* after the last barrier */
    float la = sqrt(t.x), lb = sqrt(t.y), na = fmax(la, eps), nb = fmax(lb, eps);
    float s = t.z / na / nb, g = ds[ds_off + row];
    float ka = la > eps ? s / na : 0.0f, kb = lb > eps ? s / nb : 0.0f;
    /* g (b / nb - ka a) / na and g (a / na - kb b) / nb, as products */
    float ga = g / na, gb = g / nb, ib = 1.0f / nb, ia = 1.0f / na;
    for (int v = lid; v < nv; v += lsz) {
        floatv x = loadv(a, v, al), y = loadv(b, v, al);
        if (want_da)
            storev(ga * (y * ib - ka * x), da, v, al);
        if (want_db)
            storev(gb * (x * ia - kb * y), db, v, al);
    }
    if (n % VEC > 0 && lid == tail_item(n, lsz)) {
        floatv x = load_tail(a, n), y = load_tail(b, n);
        if (want_da)
            store_tail(ga * (y * ib - ka * x), da, n);
        if (want_db)
            store_tail(gb * (x * ia - kb * y), db, n);
    }
}

kernel void cosine_bwd(int rows, int cols, global const float *a, int a_off,
                       global const float *b, int b_off, global const float *ds, int ds_off,
                       int want_da, global float *da, int da_off, int want_db, global float *db,
                       int db_off, float eps, local float *buf)
{
    cosine_bwd_row(rows, cols, a, a_off, b, b_off, ds, ds_off, want_da, da, da_off, want_db, db,
                   db_off, eps, buf, 1);
}

kernel void cosine_bwd_item(int rows, int cols, global const float *a, int a_off,
                            global const float *b, int b_off, global const float *ds,
                            int ds_off, int want_da, global float *da, int da_off, int want_db,
                            global float *db, int db_off, float eps, local float *buf)
{
    cosine_bwd_row(rows, cols, a, a_off, b, b_off, ds, ds_off, want_da, da, da_off, want_db, db,
                   db_off, eps, buf, 0);
}
