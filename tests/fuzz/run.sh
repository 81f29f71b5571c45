#!/bin/sh
# `make fuzz`: tests/fuzz/run.sh BUILD SRC HARNESS... runs BUILD/fuzz_<harness> for
# $FUZZ_SECONDS (default 60) seconds each, starting from SRC/corpus/<harness>/ and
# SRC/regressions/<harness>/ (read only; what it finds goes to BUILD/corpus/<harness>/),
# and prints for each the executions and the coverage (cov: edges, ft: features). A crash,
# a sanitizer report, a leak, one input running over $FUZZ_TIMEOUT s (default 10) or the
# process over $FUZZ_RSS_MB MB (default 2048) fails the harness; the input is kept in
# BUILD/crashes/<harness>/ and belongs, with the fix, in SRC/regressions/<harness>/.
set -u
build=$1 src=$2
shift 2
seconds=${FUZZ_SECONDS:-60}

# Inputs up to a few records or small images; more only slows the search.
max_len() {
    case $1 in
    image | cifar | imagefolder) echo 16384 ;;
    *) echo 8192 ;;
    esac
}

# The harnesses write files for every input: on tmpfs that costs no disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    TMPDIR=/dev/shm
    export TMPDIR
fi
# Any report ends the run (libFuzzer then saves the input).
ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
summary=""
for h in "$@"; do
    work=$build/corpus/$h
    crashes=$build/crashes/$h
    log=$build/fuzz_$h.log
    mkdir -p "$work" "$crashes"
    set -- "$work" "$src/corpus/$h" # the corpus folders (the loop list was expanded already)
    [ -d "$src/regressions/$h" ] && set -- "$@" "$src/regressions/$h"
    dict=""
    [ -f "$src/$h.dict" ] && dict="-dict=$src/$h.dict"
    echo "== fuzz_$h: ${seconds} s (log: $log)"
    # shellcheck disable=SC2086 # $dict is one flag or nothing
    "$build/fuzz_$h" -max_total_time="$seconds" -max_len="$(max_len "$h")" \
        -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
        -print_final_stats=1 -artifact_prefix="$crashes/" $dict "$@" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    line="fuzz_$h: ${execs:-?} executions, ${cov:-no coverage reported}"
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        line="$line: FAILED (exit $rc)"
        grep -E '^==[0-9]+==ERROR|SUMMARY|runtime error|^fuzz: |Test unit written|ALARM|out-of-memory' \
            "$log" | head -n 20
    fi
    echo "$line"
    summary="$summary$line
"
done
echo "== fuzz summary (${seconds} s each)"
printf '%s' "$summary"
[ "$failed" -eq 0 ] || { echo "$failed harness(es) failed: crash inputs in $build/crashes/"; exit 1; }
