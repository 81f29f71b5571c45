#!/bin/sh
# The check of a new device (a GPU) in one go, from a built tree, writing everything into
# one folder: the OpenCL platforms first, then the test suite on the device, hvp
# compare-devices between it and the first CPU device, hvp bench ops and hvp tune on it, and
# hvp bench train for SimSiam ResNet-50 at 224 px and DINO ViT-S/16 (fixed views: no data read).
#   bench/device_check.sh [DEVICE] [OUT]     DEVICE: index or part of a name (default: the
#                                            first GPU hvp finds), OUT: results folder
#   bench/device_check.sh --bundle DIR       copies the shared libraries hvp and the tests
#                                            load into DIR/lib, for a machine that reaches
#                                            no package registry (the OpenCL ICD loader
#                                            included; the vendor's driver is that machine's)
# On that machine: LD_LIBRARY_PATH=DIR/lib bench/device_check.sh
# BATCH (default 32) sets the training benchmarks' batch, QUICK=1 runs bench ops at batch 8
# and skips hvp tune: a CPU check in minutes.
set -u
cd "$(dirname "$0")/.."
if [ "${1:-}" = --bundle ]; then
    lib="${2:?bench/device_check.sh --bundle DIR}/lib"
    mkdir -p "$lib"
    # everything but the C library and the dynamic loader, which every machine has
    ldd ./hvp tests/hvp_test .libs/libhvp.so* 2>/dev/null | awk '/=> \//{print $3}' | sort -u |
        grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
        while read -r so; do cp -L "$so" "$lib/"; done
    echo "copied $(ls "$lib" | wc -l) libraries into $lib"
    exit 0
fi
device=${1:-}
batch=${BATCH:-32}
quick=${QUICK:-0}
out=${2:-device-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }

log "OpenCL platforms and devices"
./hvp devices 2>&1 | tee "$out/devices.txt" | tee -a "$out/summary.txt"
if [ -z "$device" ]; then
    device=$(sed -n 's/^[* ] \[\([0-9]*\)\].*(GPU).*/\1/p' "$out/devices.txt" | head -n 1)
    [ -n "$device" ] || device=0
fi
cpu=$(sed -n 's/^[* ] \[\([0-9]*\)\].*(CPU).*/\1/p' "$out/devices.txt" | head -n 1)
log "device under test: $device; CPU reference: ${cpu:-none}"
export HVP_DEVICE="$device"

log "test suite on device $device"
tests/hvp_test >"$out/tests.txt" 2>&1
tail -n 1 "$out/tests.txt" | tee -a "$out/summary.txt"

if [ -n "$cpu" ] && [ "$cpu" != "$device" ]; then
    log "compare-devices: device $device against CPU device $cpu (quick start, 20 steps)"
    ./hvp compare-devices configs/quickstart.ini --steps 20 --devices "$device,$cpu" \
        --out "$out/compare" >"$out/compare.txt" 2>&1
    tail -n 1 "$out/compare.txt" | tee -a "$out/summary.txt"
fi

log "hvp bench ops"
if [ "$quick" = 1 ]; then ops_args=--quick; else ops_args=""; fi
./hvp bench ops $ops_args >"$out/bench_ops.txt" 2>&1
tail -n 1 "$out/bench_ops.txt" | tee -a "$out/summary.txt"

if [ "$quick" != 1 ]; then
    log "hvp tune"
    ./hvp tune >"$out/tune.txt" 2>&1
    tail -n 2 "$out/tune.txt" | tee -a "$out/summary.txt"
fi

log "bench train: SimSiam ResNet-50, 224 px, batch $batch"
./hvp bench train configs/simsiam_r50.ini --steps 3 data.batch_size="$batch" data.root=unused \
    >"$out/train_r50.txt" 2>&1
tail -n 1 "$out/train_r50.txt" | tee -a "$out/summary.txt"

# global views only: bench train feeds no local crops, so the config's ten are turned off
log "bench train: DINO ViT-S/16, 224 px (2 global views), batch $batch"
./hvp bench train configs/dino_vit_small.ini --steps 3 data.batch_size="$batch" data.root=unused \
    data.local_crops=0 \
    >"$out/train_vit.txt" 2>&1
tail -n 1 "$out/train_vit.txt" | tee -a "$out/summary.txt"

log "done: $out (summary.txt)"
