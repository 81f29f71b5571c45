/* `hvp devices`: every OpenCL platform and device, and which one hvp would pick; under
 * mpirun, which device each rank takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/hvp.h"

static const char *type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU)
        return "GPU";
    if (t & CL_DEVICE_TYPE_CPU)
        return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    return "other";
}

/* Under an MPI launcher: the device each rank takes (HVP_DEVICE, node-local rank order), as
 * training would with device.share = false, printed by rank 0. */
static int rank_devices(void)
{
    typedef struct {
        int index; /* -1: none */
        char host[64], device[700];
    } choice;
    int world = hvp_dist_world();
    choice mine, *all = calloc((size_t)world, sizeof *all);
    if (!all)
        return 1;
    memset(&mine, 0, sizeof mine);
    hvp_device_info d;
    mine.index = hvp_find_device_for(NULL, hvp_dist_local_rank(), hvp_dist_local_world(), 0,
                                     &d) == HVP_OK ? d.index : -1;
    snprintf(mine.host, sizeof mine.host, "%s", hvp_dist_host());
    if (mine.index >= 0)
        snprintf(mine.device, sizeof mine.device, "%s / %s", d.platform_name, d.device_name);
    else
        snprintf(mine.device, sizeof mine.device, "%s", hvp_last_error());
    int rc = hvp_dist_allgather(&mine, sizeof mine, all) == HVP_OK ? 0 : 1;
    for (int r = 0; rc == 0 && hvp_dist_rank() == 0 && r < world; r++) {
        if (all[r].index >= 0)
            printf("rank %d on %s: [%d] %s\n", r, all[r].host, all[r].index, all[r].device);
        else
            printf("rank %d on %s: no device of its own (%s)\n", r, all[r].host,
                   all[r].device);
    }
    free(all);
    return rc;
}

int hvp_cmd_devices(int argc, char **argv)
{
    if (hvp_dist_world() > 1 && rank_devices() != 0)
        return hvp_cli_error("gathering the ranks' devices");
    if (hvp_dist_rank() != 0) /* rank 0 lists the devices once */
        return 0;
    (void)argc;
    (void)argv;
    hvp_device_info *list;
    int n;
    if (hvp_list_devices(&list, &n) != HVP_OK)
        return hvp_cli_error("listing devices");
    if (n == 0) {
        fprintf(stderr, "hvp: no OpenCL device found; install an OpenCL implementation "
                        "(Debian: pocl-opencl-icd for the CPU, mesa-opencl-icd with "
                        "RUSTICL_ENABLE=llvmpipe, or your GPU vendor's driver)\n");
        return 1;
    }
    hvp_device_info chosen;
    int have_choice = hvp_find_device(NULL, &chosen) == HVP_OK;
    for (int i = 0; i < n; i++) {
        const hvp_device_info *d = &list[i];
        printf("%s[%d] %s / %s (%s)\n", have_choice && chosen.index == i ? "* " : "  ", i,
               d->platform_name, d->device_name, type_name(d->type));
        printf("      platform %s, device %s, driver %s, %s\n", d->platform_version,
               d->device_version, d->driver_version, d->opencl_c_version);
        printf("      %.1f GiB global memory (max buffer %.1f GiB), %u compute units, "
               "%zu max work-group, local %.0f KiB\n",
               (double)d->global_mem_bytes / 1073741824.0,
               (double)d->max_alloc_bytes / 1073741824.0, d->compute_units,
               d->max_work_group_size, (double)d->local_mem_bytes / 1024.0);
        printf("      fp16 %s, fp64 %s, subgroups %s, base alignment %u bits\n",
               d->has_fp16 ? "yes" : "no", d->has_fp64 ? "yes" : "no",
               d->has_subgroups ? "yes" : "no", d->base_align_bits);
    }
    if (have_choice)
        printf("* = the device hvp uses (set HVP_DEVICE to an index or part of a name)\n");
    else
        printf("HVP_DEVICE matches nothing: %s\n", hvp_last_error());
    free(list);
    return 0;
}
