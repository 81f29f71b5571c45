/* `hvp sweep SWEEP.ini`: the runs of a sweep file one after the other, then its table and
 * chart (src/train/sweep.c); run it again to resume after a stop. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "hvp/train.h"

int hvp_cmd_sweep(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: hvp sweep SWEEP.ini\n");
        return 2;
    }
    hvp_sweep *s = malloc(sizeof *s);
    if (!s)
        return hvp_cli_error("sweep");
    if (hvp_sweep_load(argv[1], s) != HVP_OK) {
        free(s);
        hvp_cli_error("sweep");
        return 2;
    }
    int stopped = 0;
    hvp_cli_catch_stop_signals();
    hvp_status st = hvp_sweep_run(s, stdout, &stopped);
    free(s);
    if (st != HVP_OK)
        return hvp_cli_error("sweep stopped");
    if (stopped) {
        printf("sweep interrupted: run the same command again to resume\n");
        return 128 + hvp_cli_stop_signal();
    }
    return 0;
}
