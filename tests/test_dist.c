/* The single-process side of include/hvp/dist.h: a process no MPI launcher started is rank
 * 0 of 1 and every collective leaves its data as it is (the MPI side is tested by the
 * whole runs of tests/test_train_mpi.c). Host only. */
#include <string.h>

#include "harness.h"

HVP_TEST(dist_single_process_is_rank_0_of_1)
{
    EXPECT(hvp_dist_rank() == 0 && hvp_dist_world() == 1, "rank %d of %d", hvp_dist_rank(),
           hvp_dist_world());
    EXPECT(hvp_dist_local_rank() == 0 && hvp_dist_local_world() == 1, "local rank %d of %d",
           hvp_dist_local_rank(), hvp_dist_local_world());
    float g[5] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f}, g0[5];
    memcpy(g0, g, sizeof g);
    REQUIRE_OK(hvp_dist_allreduce_mean_f32(g, 5));
    EXPECT(memcmp(g, g0, sizeof g) == 0, "the mean over one rank changed the values");
    double d[2] = {0.1, -7.0};
    REQUIRE_OK(hvp_dist_allreduce_sum_f64(d, 2));
    EXPECT(d[0] == 0.1 && d[1] == -7.0, "the sum over one rank changed the values");
    int mine = 42, all = 0;
    REQUIRE_OK(hvp_dist_allgather(&mine, sizeof mine, &all));
    EXPECT(all == 42, "all-gather over one rank gave %d", all);
    REQUIRE_OK(hvp_dist_barrier());
    hvp_dist_abort(3, "not an error: alone, abort returns"); /* must return, not exit */
    EXPECT(hvp_dist_host()[0] != 0, "no host name");
}
