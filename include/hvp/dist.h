/* Data parallelism over MPI: this process's rank among the job's, and the few collectives
 * the trainer and the synchronised layers need. Every collective runs in a fixed order
 * (ranks in order), so its result is bitwise the same on every rank and in every rerun.
 * Built without MPI, or started without an MPI launcher, the process is rank 0 of 1 and
 * every collective is a copy. Only src/runtime/dist.c knows whether MPI is there. */
#ifndef HVP_DIST_H
#define HVP_DIST_H

#include <stddef.h>

#include "hvp/status.h"

/* Joins the job when an MPI launcher started this process (mpirun, srun: recognised by
 * its environment), else stays rank 0 of 1. Once per process, before anything else; the
 * job is left at exit. A process launched as one of several ranks by a build without MPI
 * is an error saying so. */
hvp_status hvp_dist_init(int *argc, char ***argv);
int hvp_dist_rank(void);
int hvp_dist_world(void);
/* The rank among those on this machine, and how many there are (device choice). */
int hvp_dist_local_rank(void);
int hvp_dist_local_world(void);
/* This machine's name, for messages. */
const char *hvp_dist_host(void);
/* Whether hvp was built with MPI. */
int hvp_dist_available(void);

/* buf[0..n) <- the mean over ranks of every rank's buf, summed in double in rank order
 * (a reduce-scatter of chunks through host memory, then an all-gather). */
hvp_status hvp_dist_allreduce_mean_f32(float *buf, size_t n);
/* buf[0..n) <- the sum over ranks, in rank order. */
hvp_status hvp_dist_allreduce_sum_f64(double *buf, size_t n);
/* recv[r * bytes ..] <- rank r's send (bytes each). */
hvp_status hvp_dist_allgather(const void *send, size_t bytes, void *recv);
/* Rank 0's bytes to every rank. */
hvp_status hvp_dist_broadcast(void *buf, size_t bytes);
hvp_status hvp_dist_barrier(void);
/* Seconds spent inside collectives since the last call (the communication share). */
double hvp_dist_take_seconds(void);

/* Prints "hvp: rank R of K on HOST failed: why" and ends every rank of the job with
 * code. Returns only when this process is alone (world 1). */
void hvp_dist_abort(int code, const char *why);

#endif
