#!/bin/sh
# Time per epoch of hard view selection against the random-pair baseline, measured side by
# side in one run: the same config trained for STEPS steps without HVP, with HVP, with HVP
# scored at SELECT_RES pixels, and without HVP again (to show the drift of the machine).
# Prints images/s of each and the ratios HVP / baseline of the time per epoch.
#   bench/hvp_overhead.sh [CONFIG] [STEPS] [SELECT_RES]
set -e
cfg=${1:-configs/simsiam_r18_cifar10_cpu.ini}
steps=${2:-60}
low=${3:-16}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rate() { # name overrides... -> images/s of the run's epoch line
    name=$1
    shift
    ./hvp "$cfg" run.dir="$out/$name" train.max_steps="$steps" eval.every=0 eval.at_start=false \
        train.resume=none log.progress=off "$@" 2>&1 |
        sed -n 's/^epoch 1[^:]*: loss [^,]*, \([0-9.]*\) img\/s.*/\1/p'
}
base=$(rate base hvp.enabled=false)
hvp=$(rate hvp hvp.enabled=true)
hvplow=$(rate hvplow hvp.enabled=true hvp.select_resolution="$low")
again=$(rate base_again hvp.enabled=false)
echo "images/s: baseline $base, HVP $hvp, HVP scored at $low px $hvplow, baseline again $again"
awk -v a="$base" -v b="$again" -v h="$hvp" -v l="$hvplow" -v r="$low" 'BEGIN {
    m = (a + b) / 2
    printf "time per epoch, HVP / baseline: %.2f; HVP scored at %s px / baseline: %.2f\n", m / h, r, m / l
}'
