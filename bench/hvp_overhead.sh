#!/bin/sh
# Time per epoch of hard view selection against the random-pair baseline, measured side by
# side: ROUNDS rounds, each training the same config for STEPS steps without HVP, with HVP,
# and with HVP scored at SELECT_RES pixels, one after the other (A B C A B C ...), so that a
# machine whose speed drifts touches every side alike. Prints each round's images/s and
# ratios (HVP / baseline time per epoch = baseline images/s over HVP's) and their medians.
#   bench/hvp_overhead.sh [CONFIG] [STEPS] [SELECT_RES] [ROUNDS]
set -e
cfg=${1:-configs/simsiam_r18_cifar10_cpu.ini}
steps=${2:-60}
low=${3:-16}
rounds=${4:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rate() { # name overrides... -> images/s of the run's epoch line
    name=$1
    shift
    ./hvp "$cfg" run.dir="$out/$name" train.max_steps="$steps" eval.every=0 eval.at_start=false \
        train.resume=none log.progress=off "$@" 2>&1 |
        sed -n 's/^epoch 1[^:]*: loss [^,]*, \([0-9.]*\) img\/s.*/\1/p'
}
echo "load before: $(uptime)"
r=1
while [ "$r" -le "$rounds" ]; do
    base=$(rate base$r hvp.enabled=false)
    hvp=$(rate hvp$r hvp.enabled=true)
    hvplow=$(rate hvplow$r hvp.enabled=true hvp.select_resolution="$low")
    echo "$r $base $hvp $hvplow" >>"$out/rounds"
    awk -v r="$r" -v a="$base" -v h="$hvp" -v l="$hvplow" -v px="$low" 'BEGIN {
        printf "round %s: images/s baseline %s, HVP %s, HVP scored at %s px %s; HVP / baseline %.2f, at %s px %.2f\n",
               r, a, h, px, l, a / h, px, a / l }'
    r=$((r + 1))
done
sort -n -k1 "$out/rounds" | awk -v px="$low" '
    { full[NR] = $2 / $3; part[NR] = $2 / $4 }
    function median(v, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
        printf "time per epoch, HVP / baseline, median of %d rounds: %.2f; HVP scored at %s px / baseline: %.2f\n",
               NR, median(full, NR), px, median(part, NR)
    }'
