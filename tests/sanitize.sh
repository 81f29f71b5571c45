#!/bin/sh
# tests/sanitize.sh [NAME-SUBSTRING...]: the host-side tests under AddressSanitizer and
# UBSan. The tree is configured in place, which blocks a VPATH build beside it, so its
# sources (git's tracked and new files, no build outputs) are copied to a temporary folder
# and built there once with the sanitizers; then tests/hvp_test runs the tests whose names
# contain a substring (default: the host-side groups below). Any report fails the run;
# known defects inside third-party libraries are suppressed in tests/sanitizers.supp, each
# with its reason. Ends with hvp_test's "N passed, N failed".
set -u
src=$(cd "$(dirname "$0")/.." && pwd)

# Datasets and loader, config, safetensors and checkpoints (io_), the fuzz inputs, hard view
# selection (select, golden_step) and whole runs with their error paths and resumes (train_).
# Not the op and augmentation tests: their work is on the device, and clFFT's
# new-delete-type-mismatch (see tests/sanitizers.supp) would stop the run.
if [ $# -eq 0 ]; then
    set -- data_ io_ fuzz_replay select golden_step train_
fi

if ! git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    echo "tests/sanitize.sh copies the files git knows: run it in a git checkout"
    echo "0 passed, 1 failed"
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hvp-sanitize.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
echo "== sanitizer build in $work"
(cd "$src" && git ls-files -z -co --exclude-standard) |
    tar -C "$src" --null --ignore-failed-read -T - -cf - | tar -C "$work" -xf - || exit 1

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cd "$work" || exit 1
if ! { ./autogen.sh && ./configure CFLAGS="-g -O1 $san" LDFLAGS="$san" &&
       make -j"$(nproc)" tests/hvp_test; } >build.log 2>&1; then
    tail -n 30 build.log
    echo "sanitizer build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

# The tests run on PoCL. Mesa's clover driver, which the ICD loader also loads when it is
# installed (CI has it for Rusticl), leaks 128 bytes from its library constructor, and the
# fast unwinder LeakSanitizer uses cannot see its frames to suppress them by name. So the
# loader is given PoCL alone, unless the caller chose the vendors.
if [ -z "${OCL_ICD_VENDORS:-}" ] && [ -f /etc/OpenCL/vendors/pocl.icd ]; then
    OCL_ICD_VENDORS=/etc/OpenCL/vendors/pocl.icd
    export OCL_ICD_VENDORS
fi

# halt_on_error: the first report ends the process, and the test run with it.
supp=$src/tests/sanitizers.supp
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
LSAN_OPTIONS=suppressions=$supp
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
# The MPI runs (train_mpi_*) are left out: they start mpirun and Open MPI's library inside
# the sanitized program, and their host-side code is the trainer the other runs check.
tests/hvp_test "$@" --except=train_mpi_
