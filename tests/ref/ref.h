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

#endif
