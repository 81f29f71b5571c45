/* Replays every committed fuzz input (tests/fuzz/corpus/<harness>/ and the crashes found,
 * tests/fuzz/regressions/<harness>/) through the harnesses that `make fuzz` runs, so that a
 * fixed crash stays fixed. Memory errors show only in a sanitizer build (.ci/run has one);
 * broken invariants show in any build. Host only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "fuzz/fuzz.h"
#include "harness.h"

#ifndef HVP_SRCDIR
#define HVP_SRCDIR "."
#endif

/* `make fuzz` counts an input that runs longer as a hang (tests/fuzz/run.sh, -timeout). */
#define REPLAY_SECONDS 10.0

static const struct {
    const char *name;
    int (*fn)(const uint8_t *data, size_t size);
} harnesses[] = {
    {"config", fuzz_config}, {"safetensors", fuzz_safetensors}, {"image", fuzz_image},
    {"idx", fuzz_idx},       {"cifar", fuzz_cifar},             {"imagefolder", fuzz_imagefolder},
};

static int visible(const struct dirent *e) { return e->d_name[0] != '.'; }

/* Runs every file of dir through fn, in name order; returns the number of files. */
static int replay_dir(const char *dir, int (*fn)(const uint8_t *, size_t))
{
    struct dirent **names;
    int n = scandir(dir, &names, visible, alphasort);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        size_t size;
        unsigned char *bytes = test_read_file(path, &size);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        EXPECT(fn(bytes, size) == 0, "%s: a fuzz invariant broke (see stderr)", path);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        EXPECT(s < REPLAY_SECONDS, "%s took %.1f s: a hang for `make fuzz`", path, s);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (n >= 0)
        free(names);
    return n > 0 ? n : 0;
}

HVP_TEST(fuzz_replay_corpus_and_regressions)
{
    for (size_t h = 0; h < sizeof harnesses / sizeof harnesses[0]; h++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", HVP_SRCDIR, harnesses[h].name);
        int seeds = replay_dir(dir, harnesses[h].fn);
        EXPECT(seeds > 0, "no seed inputs in %s", dir);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/%s", HVP_SRCDIR, harnesses[h].name);
        replay_dir(dir, harnesses[h].fn);
    }
}
