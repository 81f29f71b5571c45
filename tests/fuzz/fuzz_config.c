/* The config loader: part 0 is the INI file (none when empty), every later part one
 * `section.key=value` override, as `hvp CONFIG section.key=value ...` takes them. A config
 * that loads must survive a round trip: written out (as saved in runs and checkpoints) and
 * loaded back, it gives the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hvp/config.h"

static int round_trip(const hvp_config *c, const char *dir)
{
    char *text = hvp_config_to_string(c);
    if (!text)
        return 0; /* out of memory */
    char *path = fuzz_write(dir, "saved.ini", text, strlen(text));
    int bad = 0;
    hvp_config *back = malloc(sizeof *back);
    if (path && back) {
        const hvp_config_key *k = NULL;
        if (hvp_config_load(path, back) != HVP_OK)
            bad = fuzz_fail("the written config does not load: %s\n%s", hvp_last_error(), text);
        else if ((k = hvp_config_diff(c, back)))
            bad = fuzz_fail("%s.%s changed in the round trip\n%s", k->section, k->key, text);
    }
    free(back);
    free(path);
    free(text);
    return bad;
}

int fuzz_config(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_scratch();
    if (!dir)
        return 0;
    fuzz_part parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    char *file = NULL;
    if (parts[0].size && !(file = fuzz_write(dir, "config.ini", parts[0].data, parts[0].size)))
        return 0;
    char *overrides[FUZZ_MAX_PARTS] = {NULL};
    int nover = 0;
    for (int i = 1; i < n; i++)
        if ((overrides[nover] = fuzz_cstr(parts[i])))
            nover++;
    hvp_config *c = malloc(sizeof *c);
    int bad = 0;
    if (c && hvp_config_from_cli(c, file, nover, overrides) == HVP_OK) {
        char buf[HVP_CFG_STR];
        hvp_config_run_dir(c, buf, sizeof buf);
        (void)hvp_config_require(c, "data.root", NULL);
        bad = round_trip(c, dir);
    }
    free(c);
    for (int i = 0; i < nover; i++)
        free(overrides[i]);
    free(file);
    return bad;
}
