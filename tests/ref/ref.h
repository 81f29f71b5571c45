/* Plain-C references of the device ops, in double: the oracle of the op tests and the
 * function whose finite differences check each backward. Same conventions as hvp/ops.h
 * (row-major, NCHW), but every output is overwritten. */
#ifndef HVP_TEST_REF_H
#define HVP_TEST_REF_H

#include <stddef.h>

/* gemm: C = alpha op(A) op(B) + beta C, row-major with leading dimensions. */
void ref_gemm(int trans_a, int trans_b, int m, int n, int k, double alpha, const double *a,
              int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* relu */
void ref_relu_fwd(const double *x, double *y, size_t n);

/* augmentations (tests/ref/ref_augment.c): one view of an h x w x C uint8 image with the
 * slot's settings and the given drawn parameters, into out[out_c][S][S]; and the
 * torchvision Gaussian blur (kernel k, reflect padding) of im[C][S][S] in place. */
struct hvp_view_slot;
struct hvp_view_params;
void ref_augment_view(const unsigned char *img, int h, int w, int C,
                      const struct hvp_view_slot *slot, const struct hvp_view_params *p,
                      int out_c, double *out);
void ref_augment_blur(double *im, int C, int S, int k, double sigma);

#endif
