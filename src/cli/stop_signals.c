/* SIGINT and SIGTERM during training: the first asks the trainer to finish its step, save a
 * checkpoint and return; a second exits at once, which loses no checkpoint (they are
 * written to a temporary folder and renamed whole). */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "hvp/train.h"

static atomic_int first_signal; /* 0 until one arrives; lock-free, so safe in a handler */

/* write(2) of a string literal: printf is not async-signal-safe. */
#define SAY(literal)                                                                    \
    do {                                                                                \
        ssize_t said_ = write(STDERR_FILENO, literal, sizeof literal - 1);              \
        (void)said_;                                                                    \
    } while (0)

static void on_stop_signal(int sig)
{
    if (atomic_exchange(&first_signal, sig) != 0) {
        SAY("\nhvp: second signal: exiting now; the checkpoints written so far are complete\n");
        _exit(128 + sig);
    }
    SAY("\nhvp: stopping after this step to save a checkpoint (signal again to exit at once)\n");
    hvp_train_request_stop();
}

void hvp_cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART; /* reads, writes and waits under way go on */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int hvp_cli_stop_signal(void) { return atomic_load(&first_signal); }
