/* Subcommands of the hvp program; each returns the process exit status. */
#ifndef HVP_CLI_H
#define HVP_CLI_H

int hvp_cmd_devices(int argc, char **argv);
int hvp_cmd_bench(int argc, char **argv);
int hvp_cmd_tune(int argc, char **argv);

/* Prints "hvp: <message>" for the last library error and returns 1. */
int hvp_cli_error(const char *what);

#endif
