/* Internal to src/runtime: the per-context table of built programs and kernels. */
#ifndef HVP_RUNTIME_PROGRAMS_H
#define HVP_RUNTIME_PROGRAMS_H

#include "runtime/kernels.h"

#define HVP_MAX_PROGRAMS 128

struct hvp_programs {
    struct {
        char name[64];
        cl_program program;
    } programs[HVP_MAX_PROGRAMS];
    int nprograms;
    hvp_kernel *kernels[HVP_K_COUNT]; /* NULL until its program is built */
};

hvp_status hvp_programs_create(hvp_programs **out);
void hvp_programs_destroy(hvp_programs *ps);

hvp_status hvp_profile_create(hvp_profile **out);
/* Reads the times of finished events into the table and releases them. */
void hvp_profile_collect(hvp_profile *p);
void hvp_profile_destroy(hvp_profile *p);

#endif
