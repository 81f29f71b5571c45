#!/bin/sh
# Runs the op tests on every OpenCL device found (Rusticl's llvmpipe enabled), then under
# Oclgrind on tiny shapes with data-race and uninitialised-value checks, where any report
# is a failure. PoCL and Rusticl must both be present unless HVP_ALLOW_MISSING=1.
# Usage: portability.sh PATH/TO/hvp_test [TEST-NAME-SUBSTRING ...]
set -u
test_bin=$1
shift
export RUSTICL_ENABLE=${RUSTICL_ENABLE:-llvmpipe}
passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Adds the counts from a run's "N passed, N failed" line; a run without one failed whole.
count() {
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "the run ended without its summary; its last lines:"
        tail -n 15 "$1"
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
    failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
}

"$test_bin" --list-devices >"$log/devices" || { echo "cannot list devices"; echo "0 passed, 1 failed"; exit 1; }
for required in "Portable Computing Language" "rusticl"; do
    if ! grep -q "$required" "$log/devices"; then
        echo "portability: no $required device (install pocl-opencl-icd and mesa-opencl-icd)"
        [ "${HVP_ALLOW_MISSING:-0}" = 1 ] || failed=$((failed + 1))
    fi
done

while IFS="$(printf '\t')" read -r index name; do
    case "$name" in
    Oclgrind*) continue ;; # run below, with its checks on
    esac
    echo "== $name"
    # On llvmpipe the four SIGKILL-and-resume runs take 11 of the pass's 21 minutes, and the
    # MPI runs (train_mpi_*: 11 processes) 10 more; their device work is the other whole
    # runs' and the ops' (SyncBN's kernels: batchnorm_sync_path_on_one_rank), and PoCL runs
    # them in full.
    except=""
    case "$name" in rusticl*) except="--except=resumes_after_sigkill --except=train_mpi_" ;; esac
    # stdin from /dev/null: the loop reads the device list from its own stdin
    HVP_DEVICE=$index "$test_bin" "$@" $except </dev/null >"$log/run" 2>&1
    grep -E '^(FAIL|    )' "$log/run"
    tail -n 1 "$log/run"
    count "$log/run"
done <"$log/devices"

if command -v oclgrind >/dev/null 2>&1; then
    echo "== Oclgrind (tiny shapes, --data-races --uninitialized --check-api)"
    HVP_TEST_TINY=1 HVP_ARENA_BLOCK_MB=4 oclgrind --data-races --uninitialized --check-api --log "$log/oclgrind" \
        "$test_bin" "$@" >"$log/run" 2>&1
    grep -E '^(FAIL|    )' "$log/run"
    tail -n 1 "$log/run"
    count "$log/run"
    if [ -s "$log/oclgrind" ]; then
        echo "Oclgrind reported problems (first 40 lines):"
        head -n 40 "$log/oclgrind"
        failed=$((failed + 1))
    fi
else
    echo "portability: oclgrind is not installed (Debian package oclgrind)"
    [ "${HVP_ALLOW_MISSING:-0}" = 1 ] || failed=$((failed + 1))
fi

echo "portability: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
