/* `hvp compare-devices CONFIG [--steps K] [--devices A,B,..] [--tolerance T] [--out DIR]
 * [--set N:section.key=value ...] [section.key=value ...]`: the same K training steps (same
 * seed, views and selection) on several OpenCL devices, each run as its own hvp process
 * (one device's crash cannot take the others down), then side by side: loss and
 * chosen-pair agreement per step, the parameter tensors ranked by how far they drifted
 * from the first device's, speed, the costliest kernels, the GEMM and convolution paths,
 * device memory and the device facts that explain differences. Writes DIR/report.md (with
 * SVG plots) and DIR/report.json; exits 1 when a tensor's divergence exceeds the tolerance. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hvp/checkpoint.h"
#include "hvp/config.h"
#include "hvp/logs.h"
#include "hvp/safetensors.h"

#define MAX_RUNS 16
#define MAX_ARGS 64
#define TOP_KERNELS 10

typedef struct run {
    char selector[64], dir[1100];
    hvp_device_info info;
    cl_device_fp_config fp;
    int rc;
    hvp_csv steps, chosen;
    hvp_st_file *weights;
    double img_per_s, mem_mib;
    char gemm[512], conv[512];
    int nkernels;
    char kernel[TOP_KERNELS][48];
    double kernel_ms[TOP_KERNELS], kernel_share[TOP_KERNELS];
} run;

/* A tensor's largest difference from the first run, relative to its largest magnitude or
 * 1e-3, whichever is larger: a tensor of values near zero (a running mean of ~1e-8) has
 * only rounding noise to show, which relative to itself would look like divergence. */
typedef struct divergence {
    const char *name;
    double rel;
} divergence;

static int by_rel(const void *a, const void *b)
{
    double x = ((const divergence *)a)->rel, y = ((const divergence *)b)->rel;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Runs this program with args, output into log, HVP_PROFILE on; its exit status. */
static int spawn(const char *log, char *const *args)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stdout) || dup2(fileno(stdout), 2) < 0)
            _exit(126);
        setenv("HVP_PROFILE", "1", 1);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What the run's log says: images/s of its last epoch line, the GEMM and convolution paths,
 * device memory, and the first rows of the kernel-time table. */
static void read_log(run *r, const char *log)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    int in_table = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        const char *p;
        if (strncmp(line, "gemm: ", 6) == 0)
            snprintf(r->gemm, sizeof r->gemm, "%.500s", line + 6);
        else if (strncmp(line, "conv: ", 6) == 0)
            snprintf(r->conv, sizeof r->conv, "%.500s", line + 6);
        else if (strncmp(line, "device memory: ", 15) == 0)
            r->mem_mib = atof(line + 15);
        else if (strncmp(line, "epoch ", 6) == 0 && (p = strstr(line, " img/s,")) != NULL) {
            const char *q = p;
            while (q > line && q[-1] != ' ')
                q--;
            r->img_per_s = atof(q);
        } else if (strncmp(line, "kernel time on", 14) == 0)
            in_table = 1;
        else if (in_table == 1)
            in_table = 2; /* the column names */
        else if (in_table == 2 && r->nkernels < TOP_KERNELS) {
            long calls;
            double total, per, share;
            char name[48];
            if (sscanf(line, "%47s %ld %lf %lf %lf%%", name, &calls, &total, &per, &share) != 5) {
                in_table = 0;
                continue;
            }
            snprintf(r->kernel[r->nkernels], sizeof r->kernel[0], "%s", name);
            r->kernel_ms[r->nkernels] = total;
            r->kernel_share[r->nkernels++] = share;
        }
    }
    if (f)
        fclose(f);
}

static double loss_at(const run *r, int row)
{
    int c = hvp_csv_column(&r->steps, "loss");
    return c >= 0 && row < r->steps.nrows ? r->steps.v[(size_t)row * r->steps.ncols + c] : NAN;
}

/* Share of the images of `step` whose chosen pair in b equals a's (-1: no choice logged). */
static double agreement(const run *a, const run *b, int step)
{
    int sa = hvp_csv_column(&a->chosen, "step"), pa = hvp_csv_column(&a->chosen, "pair");
    int sb = hvp_csv_column(&b->chosen, "step"), pb = hvp_csv_column(&b->chosen, "pair");
    if (sa < 0 || pa < 0 || sb < 0 || pb < 0)
        return -1;
    long same = 0, total = 0;
    const double *va = a->chosen.v, *vb = b->chosen.v;
    /* both files list a step's images in order, so their rows pair up */
    for (int i = 0, j = 0; i < a->chosen.nrows && j < b->chosen.nrows;) {
        double ai = va[(size_t)i * a->chosen.ncols + sa], bj = vb[(size_t)j * b->chosen.ncols + sb];
        if (ai < bj)
            i++;
        else if (bj < ai)
            j++;
        else {
            if (ai == step) {
                total++;
                same += va[(size_t)i * a->chosen.ncols + pa] == vb[(size_t)j * b->chosen.ncols + pb];
            }
            i++, j++;
        }
    }
    return total ? (double)same / (double)total : -1;
}

/* Per F32 tensor of the final weights, the largest |a - b| / max(max |a|, 1e-3) over the
 * runs, sorted from the largest. */
static int divergences(const run *runs, int nruns, divergence **out)
{
    const hvp_st_file *w0 = runs[0].weights;
    int n = w0 ? hvp_st_count(w0) : 0, k = 0;
    divergence *d = calloc((size_t)(n ? n : 1), sizeof *d);
    for (int t = 0; d && t < n; t++) {
        const hvp_st_tensor *a = hvp_st_at(w0, t);
        if (a->dtype != HVP_ST_F32)
            continue;
        const float *x = a->data;
        size_t len = a->nbytes / 4;
        double scale = 1e-3, diff = 0;
        for (size_t i = 0; i < len; i++)
            scale = fmax(scale, fabs(x[i]));
        for (int r = 1; r < nruns; r++) {
            const hvp_st_tensor *b = runs[r].weights ? hvp_st_find(runs[r].weights, a->name) : NULL;
            if (!b || b->nbytes != a->nbytes) {
                diff = INFINITY;
                continue;
            }
            const float *y = b->data;
            for (size_t i = 0; i < len; i++)
                diff = fmax(diff, isnan(y[i]) != isnan(x[i]) ? INFINITY : fabs(y[i] - x[i]));
        }
        d[k].name = a->name;
        d[k++].rel = diff / scale;
    }
    if (d)
        qsort(d, (size_t)k, sizeof *d, by_rel);
    *out = d;
    return k;
}

static void fp_facts(cl_device_fp_config fp, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s", fp & CL_FP_DENORM ? "denormals " : "no-denormals ",
             fp & CL_FP_FMA ? "fma " : "", fp & CL_FP_ROUND_TO_NEAREST ? "round-to-nearest " : "",
             fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT ? "correct-div-sqrt" : "");
}

static void usage(void)
{
    fprintf(stderr,
            "usage: hvp compare-devices CONFIG [--steps K] [--devices A,B,...] [--tolerance T]\n"
            "                           [--out DIR] [--set N:section.key=value ...]\n"
            "                           [section.key=value ...]\n"
            "  the same K training steps (default 20) on each device (default: all; a device\n"
            "  is an index or part of its name, as device.select; one may repeat), compared\n"
            "  with the first: loss and chosen pairs per step, parameter divergence, speed,\n"
            "  kernels, memory. --set N:key=value changes run N (from 0) only. Exits 1 when\n"
            "  a tensor's largest difference over max(its largest magnitude, 1e-3) exceeds T\n"
            "  (default 1e-3).\n");
}

int hvp_cmd_compare_devices(int argc, char **argv)
{
    const char *config = NULL, *devices = NULL, *out = NULL, *sets[MAX_ARGS];
    char *overrides[MAX_ARGS];
    int steps = 20, nsets = 0, nover = 0;
    double tolerance = 1e-3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--steps") == 0 && v) {
            if (!hvp_cli_int("compare-devices", "--steps", argv[++i], 1, 100000, &steps))
                return 2;
        } else if (strcmp(a, "--devices") == 0 && v)
            devices = argv[++i];
        else if (strcmp(a, "--out") == 0 && v)
            out = argv[++i];
        else if (strcmp(a, "--tolerance") == 0 && v)
            tolerance = atof(argv[++i]);
        else if (strcmp(a, "--set") == 0 && v && nsets < MAX_ARGS)
            sets[nsets++] = argv[++i];
        else if (a[0] == '-') {
            usage();
            return 2;
        } else if (!config)
            config = a;
        else if (nover < MAX_ARGS - 24)
            overrides[nover++] = argv[i];
    }
    if (!config || !(tolerance > 0)) {
        usage();
        return 2;
    }
    hvp_config cfg; /* checked here, so a bad key fails once, not once per device */
    char *check[MAX_ARGS + 1] = {(char *)config};
    memcpy(check + 1, overrides, (size_t)nover * sizeof *overrides);
    if (!hvp_cli_load_config(nover + 1, check, &cfg))
        return 2;

    static run runs[MAX_RUNS];
    int nruns = 0;
    if (devices) {
        char list[1024];
        snprintf(list, sizeof list, "%s", devices);
        for (char *tok = strtok(list, ","); tok && nruns < MAX_RUNS; tok = strtok(NULL, ","))
            snprintf(runs[nruns++].selector, sizeof runs[0].selector, "%s", tok);
    } else {
        hvp_device_info *all = NULL;
        int n = 0;
        if (hvp_list_devices(&all, &n) != HVP_OK)
            return hvp_cli_error("compare-devices");
        for (int i = 0; i < n && nruns < MAX_RUNS; i++)
            snprintf(runs[nruns++].selector, sizeof runs[0].selector, "%d", i);
        free(all);
    }
    char outdir[1024];
    snprintf(outdir, sizeof outdir, "%s", out ? out : "compare-devices");
    mkdir(outdir, 0755);
    printf("compare-devices: %d runs of %d steps of %s into %s\n", nruns, steps, config, outdir);
    for (int r = 0; r < nruns; r++) {
        run *R = &runs[r];
        if (hvp_find_device(R->selector, &R->info) != HVP_OK) {
            fprintf(stderr, "hvp compare-devices: device '%s': %s\n", R->selector,
                    hvp_last_error());
            return 2;
        }
        clGetDeviceInfo(R->info.device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof R->fp, &R->fp, NULL);
        snprintf(R->dir, sizeof R->dir, "%s/run-%d", outdir, r);
        char a[24][1200];
        char *args[MAX_ARGS * 2 + 32];
        int n = 0;
        args[n++] = "hvp";
        args[n++] = (char *)config;
        for (int i = 0; i < nover; i++)
            args[n++] = overrides[i];
        int k = 0;
        snprintf(a[k++], sizeof a[0], "device.select=%.60s", R->selector);
        snprintf(a[k++], sizeof a[0], "run.dir=%s", R->dir);
        snprintf(a[k++], sizeof a[0], "train.max_steps=%d", steps);
        snprintf(a[k++], sizeof a[0], "train.save_every_steps=%d", steps);
        static const char *const fixed[] = {
            "train.resume=none", "eval.every=0", "eval.at_start=false", "log.every=1",
            "log.progress=off", "log.csv=true", "log.chosen_pairs=true", "log.tensorboard=false"};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            snprintf(a[k++], sizeof a[0], "%s", fixed[i]);
        for (int i = 0; i < k; i++)
            args[n++] = a[i];
        for (int i = 0; i < nsets; i++) { /* N:key=value for this run */
            char *colon = strchr(sets[i], ':');
            if (colon && atoi(sets[i]) == r)
                args[n++] = colon + 1;
        }
        args[n] = NULL;
        mkdir(R->dir, 0755);
        char log[1200];
        snprintf(log, sizeof log, "%s/log.txt", R->dir);
        printf("run %d on %s / %s ...\n", r, R->info.platform_name, R->info.device_name);
        R->rc = spawn(log, args);
        read_log(R, log);
        char path[1300], ckpt[1200];
        snprintf(path, sizeof path, "%s/steps.csv", R->dir);
        hvp_csv_read(path, &R->steps);
        snprintf(path, sizeof path, "%s/chosen_pairs.csv", R->dir);
        hvp_csv_read(path, &R->chosen);
        int64_t last;
        if (hvp_ckpt_find_latest(R->dir, ckpt, sizeof ckpt, &last) == HVP_OK) {
            snprintf(path, sizeof path, "%s/" HVP_CKPT_WEIGHTS, ckpt);
            hvp_st_open(path, &R->weights);
        }
        if (R->rc != 0)
            printf("  run %d failed (exit %d): see %s\n", r, R->rc, log);
    }

    divergence *div = NULL;
    int ndiv = divergences(runs, nruns, &div);
    double worst = ndiv > 0 ? div[0].rel : INFINITY;
    int failed = 0;
    for (int r = 0; r < nruns; r++)
        failed |= runs[r].rc != 0 || !runs[r].weights;

    /* the terminal table, and the same in Markdown and JSON */
    char md_path[1100], json_path[1100], svg[1100];
    snprintf(md_path, sizeof md_path, "%s/report.md", outdir);
    snprintf(json_path, sizeof json_path, "%s/report.json", outdir);
    FILE *md = fopen(md_path, "w"), *js = fopen(json_path, "w");
    if (!md || !js) {
        fprintf(stderr, "hvp compare-devices: cannot write %s\n", outdir);
        return 1;
    }
    fprintf(md, "# hvp compare-devices: %s, %d steps\n\n## Devices\n\n| run | device | OpenCL C "
                "| fp16 / fp64 / subgroups | float | images/s | memory MiB | GEMM path "
                "| conv path |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n", config, steps);
    fprintf(js, "{\"config\": \"%s\", \"steps\": %d, \"tolerance\": %g, \"runs\": [", config,
            steps, tolerance);
    printf("\n%-4s %-52s %10s %10s\n", "run", "device", "images/s", "memory MiB");
    for (int r = 0; r < nruns; r++) {
        const run *R = &runs[r];
        char fp[128];
        fp_facts(R->fp, fp, sizeof fp);
        printf("%-4d %-52.52s %10.1f %10.1f%s\n", r, R->info.device_name, R->img_per_s,
               R->mem_mib, R->rc ? "  FAILED" : "");
        fprintf(md, "| %d | %s / %s | %s | %d / %d / %d | %s | %.1f | %.1f | %s | %s |\n", r,
                R->info.platform_name, R->info.device_name, R->info.opencl_c_version,
                R->info.has_fp16, R->info.has_fp64, R->info.has_subgroups, fp, R->img_per_s,
                R->mem_mib, R->gemm, R->conv);
        fprintf(js, "%s{\"device\": \"%s / %s\", \"exit\": %d, \"images_per_s\": %g, "
                    "\"memory_mib\": %g, \"opencl_c\": \"%s\", \"float\": \"%s\", \"gemm\": "
                    "\"%s\", \"conv\": \"%s\", \"kernels\": [", r ? ", " : "",
                R->info.platform_name, R->info.device_name, R->rc, R->img_per_s, R->mem_mib,
                R->info.opencl_c_version, fp, R->gemm, R->conv);
        for (int k = 0; k < R->nkernels; k++)
            fprintf(js, "%s{\"name\": \"%s\", \"ms\": %g, \"share\": %g}", k ? ", " : "",
                    R->kernel[k], R->kernel_ms[k], R->kernel_share[k]);
        fprintf(js, "], \"loss\": [");
        for (int s = 0; s < R->steps.nrows; s++)
            fprintf(js, "%s%.9g", s ? ", " : "", loss_at(R, s));
        fprintf(js, "]}");
    }
    fprintf(md, "\n## Costliest kernels\n\n");
    for (int r = 0; r < nruns; r++) {
        fprintf(md, "run %d: ", r);
        for (int k = 0; k < runs[r].nkernels; k++)
            fprintf(md, "%s`%s` %.1f%%", k ? ", " : "", runs[r].kernel[k], runs[r].kernel_share[k]);
        fprintf(md, "\n\n");
    }
    fprintf(md, "## Per step (against run 0)\n\n| step | loss run 0 |");
    for (int r = 1; r < nruns; r++)
        fprintf(md, " loss run %d | same pairs run %d |", r, r);
    fprintf(md, "\n| --- | --- |");
    for (int r = 1; r < nruns; r++)
        fprintf(md, " --- | --- |");
    fprintf(md, "\n");
    printf("\n%-6s %14s", "step", "loss run 0");
    for (int r = 1; r < nruns; r++)
        printf(" %14s %9s", "loss", "same pair");
    printf("\n");
    for (int s = 0; s < runs[0].steps.nrows; s++) {
        printf("%-6d %14.7g", s + 1, loss_at(&runs[0], s));
        fprintf(md, "| %d | %.7g |", s + 1, loss_at(&runs[0], s));
        for (int r = 1; r < nruns; r++) {
            double agree = agreement(&runs[0], &runs[r], s + 1);
            printf(" %14.7g %8.0f%%", loss_at(&runs[r], s), agree < 0 ? NAN : 100 * agree);
            fprintf(md, " %.7g | %s%.0f%% |", loss_at(&runs[r], s), agree < 0 ? "n/a " : "",
                    agree < 0 ? 0 : 100 * agree);
        }
        printf("\n");
        fprintf(md, "\n");
    }
    printf("\nlargest divergence from run 0 (max |difference| / max(max |value|, 1e-3) per "
           "tensor):\n");
    fprintf(md, "\n## Parameter divergence after %d steps\n\nLargest |difference| over the "
                "largest |value| (at least 1e-3) of each tensor, against run 0 (tolerance "
                "%g):\n\n| tensor | divergence |\n| --- | --- |\n", steps, tolerance);
    fprintf(js, "], \"divergence\": [");
    for (int i = 0; i < ndiv; i++) {
        if (i < 10) {
            printf("  %-60s %.3g%s\n", div[i].name, div[i].rel, div[i].rel > tolerance ? "  > tolerance" : "");
            fprintf(md, "| %s | %.3g |\n", div[i].name, div[i].rel);
        }
        fprintf(js, "%s{\"tensor\": \"%s\", \"divergence\": %g}", i ? ", " : "", div[i].name,
                div[i].rel);
    }
    fprintf(js, "], \"worst\": %g, \"passed\": %s}\n", isfinite(worst) ? worst : -1.0,
            !failed && worst <= tolerance ? "true" : "false");

    /* plots: loss per step per run, and the most divergent tensors */
    hvp_curve curves[MAX_RUNS];
    char labels[MAX_RUNS][96];
    for (int r = 0; r < nruns; r++) {
        hvp_csv_curve(&runs[r].steps, "step", "loss", 0, &curves[r]);
        snprintf(labels[r], sizeof labels[r], "run %d: %.40s", r, runs[r].info.device_name);
        curves[r].id = labels[r];
        curves[r].label = labels[r];
    }
    int written;
    snprintf(svg, sizeof svg, "%s/loss.svg", outdir);
    hvp_chart_lines(svg, "training loss per step on each device", "step", curves, nruns,
                    &written);
    for (int r = 0; r < nruns; r++)
        hvp_curve_free(&curves[r]);
    int nb = ndiv < 20 ? ndiv : 20;
    const char *names[20];
    double values[20];
    for (int i = 0; i < nb; i++) { /* names show as the bars' tooltips */
        names[i] = div[i].name;
        values[i] = isfinite(div[i].rel) ? div[i].rel : 1e30;
    }
    snprintf(svg, sizeof svg, "%s/divergence.svg", outdir);
    hvp_chart_bars(svg, "parameter divergence from run 0 (log scale), the 20 largest",
                   "divergence", nb, names, values, 1);
    fprintf(md, "\n![loss per step](loss.svg)\n\n![divergence](divergence.svg)\n");
    fclose(md);
    fclose(js);
    free(div);
    for (int r = 0; r < nruns; r++) {
        hvp_csv_free(&runs[r].steps);
        hvp_csv_free(&runs[r].chosen);
        hvp_st_close(runs[r].weights);
    }
    int pass = !failed && worst <= tolerance;
    printf("\n%s: largest divergence %.3g (tolerance %g); report: %s\n",
           failed ? "FAILED (a run did not finish)" : pass ? "devices agree" : "devices DIFFER",
           worst, tolerance, md_path);
    return pass ? 0 : 1;
}
