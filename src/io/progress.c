/* The progress line: redrawn in place on a terminal, plain lines every N steps otherwise. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hvp/logs.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void hvp_progress_init(hvp_progress *p, FILE *out, int mode, int every, int64_t total_steps,
                       int64_t first_step)
{
    memset(p, 0, sizeof *p);
    p->out = mode == 3 ? NULL : out;
    p->in_place = p->out && (mode == 1 || (mode == 0 && isatty(fileno(out))));
    p->every = every > 0 ? every : 1;
    p->total_steps = total_steps;
    p->t_start = p->t_last = now_s();
    p->steps_done_start = first_step;
}

static void format_duration(double s, char *buf, size_t size)
{
    if (s < 0 || s > 1e8) {
        snprintf(buf, size, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, size, "%ld:%02ld", t / 60, t % 60);
}

const char *hvp_progress_format(char *buf, size_t size, int epoch, int epochs, int step,
                                int steps_per_epoch, double loss, double lr, double img_per_s,
                                double eta_s)
{
    char eta[32];
    format_duration(eta_s, eta, sizeof eta);
    snprintf(buf, size, "epoch %d/%d step %d/%d loss %.4f lr %.4g %.1f img/s ETA %s", epoch,
             epochs, step, steps_per_epoch, loss, lr, img_per_s, eta);
    return buf;
}

void hvp_progress_step(hvp_progress *p, int64_t global_step, int epoch, int epochs, int step,
                       int steps_per_epoch, double loss, double lr, int images)
{
    if (!p->out)
        return;
    p->images_since_last += images;
    int last_of_epoch = step == steps_per_epoch;
    double t = now_s();
    int due = p->in_place ? (t - p->t_last >= 0.1 || last_of_epoch || step == 1)
                          : (step % p->every == 0 || last_of_epoch);
    if (!due)
        return;
    double dt = t - p->t_last;
    if (dt > 0)
        p->img_per_s = (double)p->images_since_last / dt;
    p->images_since_last = 0;
    p->t_last = t;
    double eta = -1;
    int64_t done = global_step - p->steps_done_start;
    if (p->total_steps > 0 && done > 0)
        eta = (t - p->t_start) / (double)done * (double)(p->total_steps - global_step);
    char line[256];
    hvp_progress_format(line, sizeof line, epoch, epochs, step, steps_per_epoch, loss, lr,
                        p->img_per_s, eta);
    if (p->in_place) {
        /* "\033[K" clears what a longer previous line left */
        fprintf(p->out, "\r%s\033[K", line);
        p->line_open = 1;
        if (last_of_epoch)
            hvp_progress_break(p); /* keep each epoch's last line */
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
}

void hvp_progress_break(hvp_progress *p)
{
    if (p->out && p->line_open) {
        fputc('\n', p->out);
        fflush(p->out);
        p->line_open = 0;
    }
}
