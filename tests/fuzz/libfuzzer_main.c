/* libFuzzer's entry point for one harness, picked when compiling (-DFUZZ_ENTRY=fuzz_config).
 * A broken invariant aborts, so that libFuzzer saves the input as a crash. */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (FUZZ_ENTRY(data, size) != 0)
        abort();
    return 0;
}
