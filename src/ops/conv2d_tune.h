/* Between conv2d.c (the paths of a convolution) and conv2d_tune.c (the tune table's choice
 * among them). */
#ifndef HVP_CONV2D_TUNE_H
#define HVP_CONV2D_TUNE_H

#include "hvp/ops.h"

/* The tune table's choice for `pass` of d on ctx: 1 the implicit GEMM, 0 column matrices,
 * -1 none (the table is missing or lacks the entry). ctx reads the table at its first call. */
int hvp_conv2d_tuned(hvp_ctx *ctx, const hvp_conv2d_desc *d, hvp_conv2d_pass pass);
/* The forced choice on ctx (hvp_conv2d_igemm, else HVP_CONV_IGEMM): 1, 0, or -1 none. */
int hvp_conv2d_forced(const hvp_ctx *ctx);

#endif
