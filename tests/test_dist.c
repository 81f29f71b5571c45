/* The single-process side of include/hvp/dist.h: a process no MPI launcher started is rank
 * 0 of 1 and every collective leaves its data as it is (the MPI side is tested by the
 * whole runs of tests/test_train_mpi.c), and the choice of a rank's device. */
#include <stdio.h>
#include <stdlib.h>
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

/* Ranks of one machine take distinct devices: more ranks than matching devices is an error
 * naming them, unless they may share (then slot k takes matching device k mod count). */
HVP_TEST(dist_ranks_take_distinct_devices_or_share)
{
    hvp_device_info *list;
    int n;
    REQUIRE_OK(hvp_list_devices(&list, &n));
    int first = n > 0 ? list[0].index : -1;
    char name[300];
    snprintf(name, sizeof name, "%s", n > 0 ? list[0].device_name : "");
    free(list);
    if (n < 1) {
        test_skip("no OpenCL device");
        return;
    }
    hvp_device_info d;
    /* an index names exactly one device */
    hvp_status st = hvp_find_device_for("0", 0, 2, 0, &d);
    EXPECT(st == HVP_ERR_NOTFOUND && strstr(hvp_last_error(), "2 ranks on this machine") &&
               strstr(hvp_last_error(), name) && strstr(hvp_last_error(), "device.share"),
           "two ranks on one device without device.share: %s", hvp_last_error());
    REQUIRE_OK(hvp_find_device_for("0", 1, 2, 1, &d));
    EXPECT(d.index == first, "shared: slot 1 of 2 took device %d, expected %d", d.index, first);
    REQUIRE_OK(hvp_find_device_for("0", 0, 1, 0, &d));
    EXPECT(d.index == first, "slot 0 of 1 took device %d", d.index);
}
