/* Internal to src/data: the blur stage that augment.c calls (src/data/blur.c). */
#ifndef HVP_DATA_AUGMENT_INTERNAL_H
#define HVP_DATA_AUGMENT_INTERNAL_H

#include "hvp/augment.h"

/* The per-view parameter record on the device: ints, floats as their bits; the layout is
 * spelled out in cl/augment.cl (VP_*). */
#define HVP_VP_STRIDE 32
enum {
    HVP_VP_SRC_OFF = 0, HVP_VP_SRC_H = 1, HVP_VP_SRC_W = 2, HVP_VP_TOP = 3, HVP_VP_LEFT = 4,
    HVP_VP_CH = 5, HVP_VP_CW = 6, HVP_VP_FLIP = 7, HVP_VP_JITTER = 8, HVP_VP_ORDER = 9,
    HVP_VP_FACTORS = 13, HVP_VP_GRAY = 17, HVP_VP_BLUR = 18, HVP_VP_SIGMA = 19,
    HVP_VP_SOLARIZE = 20, HVP_VP_MEAN = 21, HVP_VP_STD = 24, HVP_VP_INTERP = 28,
    HVP_VP_KSIZE = 29
};

typedef struct hvp_blur hvp_blur;

hvp_status hvp_blur_create(hvp_ctx *ctx, hvp_blur **out);
void hvp_blur_destroy(hvp_blur *b);

/* Blurs views list[0..nb) of work (nv views of C x S x S floats at (work, work_off)) in
 * place; kmax is the largest kernel among them; list and vp are on the device. */
hvp_status hvp_blur_run(hvp_blur *b, hvp_blur_mode mode, int nb, int nv, int S, int C, int kmax,
                        cl_mem list, int list_off, cl_mem vp, int vp_off, cl_mem work,
                        int work_off);
/* What AUTO picked for (S, kmax): DIRECT, FFT, or AUTO when not yet measured. */
hvp_blur_mode hvp_blur_choice(const hvp_blur *b, int S, int kmax);

#endif
