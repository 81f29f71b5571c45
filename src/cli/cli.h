/* Subcommands of the hvp program; each returns the process exit status. */
#ifndef HVP_CLI_H
#define HVP_CLI_H

int hvp_cmd_devices(int argc, char **argv);
int hvp_cmd_bench_data_decode(int argc, char **argv);
int hvp_cmd_train(int argc, char **argv);
int hvp_cmd_sweep(int argc, char **argv);
int hvp_cmd_knn(int argc, char **argv);
int hvp_cmd_linear(int argc, char **argv);
int hvp_cmd_views(int argc, char **argv);
int hvp_cmd_report(int argc, char **argv);
int hvp_cmd_export(int argc, char **argv);
int hvp_cmd_compare_devices(int argc, char **argv);
int hvp_cmd_bench_data(int argc, char **argv);
int hvp_cmd_bench_train(int argc, char **argv);

/* Loads argv[0] as a config file and applies the overrides argv[1..]; on failure prints
 * the error and returns 0. */
struct hvp_config;
int hvp_cli_load_config(int argc, char **argv, struct hvp_config *cfg);
/* The same for a config already loaded: applies the overrides argv[0..argc-1], checks. */
int hvp_cli_finish_config(int argc, char **argv, struct hvp_config *cfg);
int hvp_cmd_bench(int argc, char **argv);
int hvp_cmd_tune(int argc, char **argv);

/* A grid of `images` training images and the views cfg cuts from them, into out (JPEG or
 * PPM by extension); *views_per_image (NULL to skip) gets the views per row. */
#include "hvp/status.h"
hvp_status hvp_cli_views_grid(const struct hvp_config *cfg, const char *out, int images,
                              int *views_per_image);
/* The checkpoint directory behind PATH into ckpt ("" when PATH is a config file): PATH
 * itself, or the latest checkpoint of a run directory; else prints why for `hvp cmd` and
 * returns 0. */
int hvp_cli_locate(const char *cmd, const char *path, char *ckpt, size_t size);
/* RUN_DIR/report/index.html from the run's logs and config (the views grid included when
 * the device and data can make it); prints its path. 0 on success. */
int hvp_cli_write_report(const char *run_dir);

/* Prints "hvp: <message>" for the last library error and returns 1. */
int hvp_cli_error(const char *what);
/* value as a whole number in [lo, hi] (hi <= INT_MAX) into *out; otherwise prints what
 * `hvp cmd` expected for option and returns 0. */
int hvp_cli_int(const char *cmd, const char *option, const char *value, long lo, long hi,
                int *out);

/* From here on SIGINT and SIGTERM ask hvp_train to stop after its step (a second one exits
 * at once with 128 + the signal); hvp_cli_stop_signal gives the first one, or 0. */
void hvp_cli_catch_stop_signals(void);
int hvp_cli_stop_signal(void);

#endif
