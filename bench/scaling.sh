#!/bin/sh
# Data-parallel scaling on this machine: the same config trained for STEPS steps on 1 rank
# and on 2 MPI ranks (one device each, or one shared device with one PoCL thread per rank:
# RANK_THREADS), the global batch unchanged. Prints images/s of each, the speed-up, the
# time per step in communication on 2 ranks (the gradient all-reduce through host memory
# with its transfers, and the batch-norm and center synchronisations) and its share of the
# step time, and the gradient's bytes over that time (an effective all-reduce bandwidth;
# a lower bound, since the synchronisations are in the time too).
#   bench/scaling.sh [CONFIG] [STEPS] [RANK_THREADS]
# Needs hvp built with MPI (./configure --with-mpi) and mpirun.
set -e
cfg=${1:-configs/simsiam_r18_cifar10_cpu.ini}
steps=${2:-30}
threads=${3:-1}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
command -v mpirun >/dev/null || { echo "bench/scaling.sh: mpirun not found (Debian: openmpi-bin)"; exit 1; }
run() { # ranks name -> the run's log in $out/name.log
    ranks=$1
    name=$2
    set -- "$cfg" run.dir="$out/$name" train.max_steps="$steps" eval.every=0 eval.at_start=false \
        train.resume=none log.progress=off device.share=true
    if [ "$ranks" -eq 1 ]; then
        POCL_MAX_PTHREAD_COUNT=$threads ./hvp "$@" >"$out/$name.log" 2>&1
    else
        POCL_MAX_PTHREAD_COUNT=$threads mpirun --oversubscribe --allow-run-as-root \
            -x POCL_MAX_PTHREAD_COUNT -np "$ranks" ./hvp "$@" >"$out/$name.log" 2>&1
    fi || { tail -n 20 "$out/$name.log"; exit 1; }
}
rate() { sed -n 's/^epoch 1[^:]*: loss [^,]*, \([0-9.]*\) img\/s.*/\1/p' "$out/$1.log" | tail -n 1; }
run 1 one
run 2 two
one=$(rate one)
two=$(rate two)
comm=$(sed -n 's/^epoch 1[^:]*: communication \([0-9.]*\) ms per step, \([0-9.]*\)%.*/\1 \2/p' "$out/two.log" | tail -n 1)
params=$(sed -n 's/^model: .*, \([0-9.]*\) M parameters.*/\1/p' "$out/one.log" | head -n 1)
echo "images/s: 1 rank $one, 2 ranks $two"
echo "$one $two $comm $params" | awk '{
    printf "speed-up of 2 ranks: %.2f\n", $2 / $1
    printf "communication on 2 ranks: %.1f ms per step, %.1f%% of the step time\n", $3, $4
    if ($3 > 0)
        printf "gradient %.1f MB per step over that time: %.2f GB/s effective\n", \
            $5 * 4, $5 * 4e6 / ($3 * 1e-3) / 1e9
}'
