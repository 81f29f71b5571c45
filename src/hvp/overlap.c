/* Hard view selection without a forward (ours): the pair of candidate views whose crops
 * overlap least in the source image, a proxy for the pair the method finds hardest that
 * costs no FLOPs. */
#include "hvp/augment.h"
#include "hvp/select.h"

/* Intersection over union of two crop boxes (top, left, height, width in source pixels). */
static double crop_iou(const hvp_view_params *a, const hvp_view_params *b)
{
    int top = a->crop_top > b->crop_top ? a->crop_top : b->crop_top;
    int left = a->crop_left > b->crop_left ? a->crop_left : b->crop_left;
    int bottom_a = a->crop_top + a->crop_h, bottom_b = b->crop_top + b->crop_h;
    int right_a = a->crop_left + a->crop_w, right_b = b->crop_left + b->crop_w;
    int h = (bottom_a < bottom_b ? bottom_a : bottom_b) - top;
    int w = (right_a < right_b ? right_a : right_b) - left;
    double inter = h > 0 && w > 0 ? (double)h * w : 0;
    double uni = (double)a->crop_h * a->crop_w + (double)b->crop_h * b->crop_w - inter;
    return uni > 0 ? inter / uni : 1;
}

void hvp_overlap_scores(const hvp_selector *s, const hvp_view_config *vc,
                        const hvp_image_batch *b, uint64_t seed, int64_t epoch, float *scores)
{
    hvp_view_params p[HVP_MAX_VIEWS];
    for (int i = 0; i < b->count; i++) {
        for (int v = 0; v < s->cfg.views; v++)
            hvp_view_sample(&vc->slot[v], seed, epoch, b->indices[i], v, b->heights[i],
                            b->widths[i], &p[v]);
        for (int k = 0; k < s->npairs; k++)
            scores[(size_t)k * b->count + i] =
                (float)(1.0 - crop_iou(&p[s->pairs[k][0]], &p[s->pairs[k][1]]));
    }
}
