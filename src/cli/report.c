/* `hvp report RUN_DIR`: the run's one-page HTML report (src/io/report.c) with the views
 * grid its config cuts, so the report shows what the model trained on. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "hvp/config.h"
#include "hvp/logs.h"

int hvp_cli_write_report(const char *run_dir)
{
    char cfg_path[1100], views[1200], html[1300];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.ini", run_dir);
    snprintf(views, sizeof views, "%s/report/views.jpg", run_dir);
    /* the report of the logs first (it makes the folder the grid goes into); a device or
     * dataset that cannot make the grid only leaves it out */
    if (hvp_report_write(run_dir, NULL, html, sizeof html) != HVP_OK)
        return hvp_cli_error("report");
    hvp_config cfg;
    if (hvp_config_load(cfg_path, &cfg) != HVP_OK || hvp_cli_views_grid(&cfg, views, 6, NULL) != HVP_OK)
        fprintf(stderr, "hvp report: without the views grid: %s\n", hvp_last_error());
    else if (hvp_report_write(run_dir, "views.jpg", html, sizeof html) != HVP_OK)
        return hvp_cli_error("report");
    printf("report: %s\n", html);
    return 0;
}

int hvp_cmd_report(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: hvp report RUN_DIR\n"
                        "  writes RUN_DIR/report/index.html: plots of the run's logs (loss, "
                        "learning rate, kNN, hard view statistics) and its views\n");
        return 2;
    }
    return hvp_cli_write_report(argv[1]);
}
