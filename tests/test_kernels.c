/* The kernel table (src/runtime/kernels.h) against the embedded programs: building a
 * program creates the kernels listed for it and fails unless it defines exactly those. */
#include <string.h>

#include "harness.h"
#include "runtime/kernels.h"

HVP_TEST(kernels_table_lists_exactly_the_programs_kernels)
{
    REQUIRE_OK(hvp_build_all_programs(test_ctx()));
    for (int id = 0; id < HVP_K_COUNT; id++) {
        hvp_kernel *k = NULL;
        REQUIRE_OK(hvp_kernel_get(test_ctx(), (hvp_kernel_id)id, &k));
        EXPECT(strcmp(k->name, hvp_kernel_name((hvp_kernel_id)id)) == 0,
               "kernel %d is %s, the table says %s", id, k->name,
               hvp_kernel_name((hvp_kernel_id)id));
    }
    hvp_kernel *k;
    EXPECT(hvp_kernel_get(test_ctx(), HVP_K_COUNT, &k) != HVP_OK, "an id past the table");
}
