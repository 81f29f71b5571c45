/* The MPI side of data parallelism (include/hvp/dist.h): the only file that includes
 * mpi.h. Gradients travel through host memory (OpenCL buffers are not MPI buffers). */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvp/dist.h"

#ifdef HVP_HAVE_MPI
#include <mpi.h>
#endif

/* This process's place among the ranks: process-wide, as MPI is (one MPI_Init per process),
 * whatever devices the process drives. */
static struct {
    int rank, world, local_rank, local_world, joined;
    char host[256];
    double seconds;  /* inside collectives, since the last hvp_dist_take_seconds */
    void *scratch;   /* the all-reduce's host buffers, grown on demand */
    size_t scratch_bytes;
} g = {0, 1, 0, 1, 0, "", 0, NULL, 0};

#ifdef HVP_HAVE_MPI
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
#endif

/* The number of ranks a launcher says this process is one of (0 when none started it). */
static int launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v);
    }
    return getenv("PMIX_RANK") ? 1 : 0;
}

#ifdef HVP_HAVE_MPI
static void leave(void)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Finalize();
    free(g.scratch);
}
#endif

hvp_status hvp_dist_init(int *argc, char ***argv)
{
    if (gethostname(g.host, sizeof g.host - 1) != 0)
        snprintf(g.host, sizeof g.host, "?");
    int size = launched_size();
#ifdef HVP_HAVE_MPI
    if (size < 1 || g.joined)
        return HVP_OK;
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return HVP_FAIL(HVP_ERR_ARG, "MPI_Init failed on %s", g.host);
    g.joined = 1;
    atexit(leave);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.world);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &g.local_rank);
    MPI_Comm_size(local, &g.local_world);
    MPI_Comm_free(&local);
    return HVP_OK;
#else
    (void)argc;
    (void)argv;
    if (size > 1)
        return HVP_FAIL(HVP_ERR_ARG, "started as one of %d ranks, but this hvp was built "
                        "without MPI: install libopenmpi-dev and run ./configure --with-mpi",
                        size);
    return HVP_OK;
#endif
}

int hvp_dist_rank(void) { return g.rank; }
int hvp_dist_world(void) { return g.world; }
int hvp_dist_local_rank(void) { return g.local_rank; }
int hvp_dist_local_world(void) { return g.local_world; }
const char *hvp_dist_host(void) { return g.host[0] ? g.host : "?"; }

int hvp_dist_available(void)
{
#ifdef HVP_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

double hvp_dist_take_seconds(void)
{
    double s = g.seconds;
    g.seconds = 0;
    return s;
}

#ifdef HVP_HAVE_MPI
static hvp_status check(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return HVP_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return HVP_FAIL(HVP_ERR_IO, "%s failed on rank %d of %d (%s): %s", what, g.rank, g.world,
                    g.host, text);
}

static hvp_status grow_scratch(size_t bytes)
{
    if (bytes <= g.scratch_bytes)
        return HVP_OK;
    void *p = realloc(g.scratch, bytes);
    if (!p)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for %zu bytes of all-reduce buffers",
                        bytes);
    g.scratch = p;
    g.scratch_bytes = bytes;
    return HVP_OK;
}

/* Chunk r of the padded buffer is summed by rank r: every rank sends chunk r to rank r
 * (all-to-all), rank r adds the K copies in rank order and divides, and an all-gather
 * hands every rank every chunk. */
static hvp_status reduce_mean(float *buf, size_t n)
{
    size_t k = (size_t)g.world, chunk = (n + k - 1) / k;
    if (chunk > (size_t)INT32_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "all-reduce of %zu floats: chunks over 2^31", n);
    HVP_TRY(grow_scratch(2 * k * chunk * sizeof(float)));
    float *send = g.scratch, *recv = send + k * chunk;
    memcpy(send, buf, n * sizeof *buf);
    memset(send + n, 0, (k * chunk - n) * sizeof *buf);
    HVP_TRY(check(MPI_Alltoall(send, (int)chunk, MPI_FLOAT, recv, (int)chunk, MPI_FLOAT,
                               MPI_COMM_WORLD), "MPI_Alltoall (gradient reduce-scatter)"));
    float *mine = send; /* the send buffer is free again */
    for (size_t i = 0; i < chunk; i++) {
        double s = 0;
        for (size_t r = 0; r < k; r++)
            s += recv[r * chunk + i];
        mine[i] = (float)(s / (double)k);
    }
    HVP_TRY(check(MPI_Allgather(mine, (int)chunk, MPI_FLOAT, recv, (int)chunk, MPI_FLOAT,
                                MPI_COMM_WORLD), "MPI_Allgather (gradient)"));
    memcpy(buf, recv, n * sizeof *buf);
    return HVP_OK;
}
#endif

hvp_status hvp_dist_allreduce_mean_f32(float *buf, size_t n)
{
    if (g.world == 1 || n == 0)
        return HVP_OK;
#ifdef HVP_HAVE_MPI
    double t0 = now();
    hvp_status st = reduce_mean(buf, n);
    g.seconds += now() - t0;
    return st;
#else
    return HVP_OK;
#endif
}

hvp_status hvp_dist_allgather(const void *send, size_t bytes, void *recv)
{
    if (g.world == 1) {
        memmove(recv, send, bytes);
        return HVP_OK;
    }
#ifdef HVP_HAVE_MPI
    if (bytes > (size_t)INT32_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "all-gather of %zu bytes per rank: over 2^31", bytes);
    double t0 = now();
    hvp_status st = check(MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE,
                                        MPI_COMM_WORLD), "MPI_Allgather");
    g.seconds += now() - t0;
    return st;
#else
    return HVP_OK;
#endif
}

hvp_status hvp_dist_allreduce_sum_f64(double *buf, size_t n)
{
    if (g.world == 1 || n == 0)
        return HVP_OK;
    double *all = malloc((size_t)g.world * n * sizeof *all);
    if (!all)
        return HVP_FAIL(HVP_ERR_NOMEM, "out of host memory for an all-reduce of %zu values", n);
    hvp_status st = hvp_dist_allgather(buf, n * sizeof *buf, all);
    for (size_t i = 0; st == HVP_OK && i < n; i++) {
        double s = 0;
        for (int r = 0; r < g.world; r++)
            s += all[(size_t)r * n + i];
        buf[i] = s;
    }
    free(all);
    return st;
}

hvp_status hvp_dist_broadcast(void *buf, size_t bytes)
{
    if (g.world == 1)
        return HVP_OK;
#ifdef HVP_HAVE_MPI
    if (bytes > (size_t)INT32_MAX)
        return HVP_FAIL(HVP_ERR_ARG, "broadcast of %zu bytes: over 2^31", bytes);
    return check(MPI_Bcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
#else
    return HVP_OK;
#endif
}

hvp_status hvp_dist_barrier(void)
{
    if (g.world == 1)
        return HVP_OK;
#ifdef HVP_HAVE_MPI
    return check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#else
    return HVP_OK;
#endif
}

void hvp_dist_abort(int code, const char *why)
{
    if (g.world == 1)
        return;
    fprintf(stderr, "hvp: rank %d of %d on %s failed: %s\n", g.rank, g.world, hvp_dist_host(),
            why);
    fflush(stderr);
#ifdef HVP_HAVE_MPI
    MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
#endif
    _exit(code ? code : 1);
}
