#!/bin/sh
# hvp's images/s over PyTorch's for the same SimSiam ResNet-18-CIFAR training steps (same
# batch, same view shape, forward + backward + SGD, no data loading). The two sides run in
# turn (hvp, PyTorch, hvp, PyTorch, ...) so that a change in the machine's load falls on
# both; it prints each pair's ratio and their median. Measure on a quiet machine (uptime).
# PyTorch is only for this benchmark:
#   python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch
#   PYTHON=/tmp/torch/bin/python bench/simsiam_vs_pytorch.sh [BATCH] [STEPS] [ROUNDS]
# HVP=path/to/hvp compares another build.
set -e
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
hvp=${HVP:-./hvp}
batch=${1:-64}
steps=${2:-5}
rounds=${3:-3}
threads=$(nproc)
config=configs/simsiam_r18_cifar10.ini

images_per_s() { sed -E 's/.* ([0-9.]+) images\/s.*/\1/'; }

echo "load: $(uptime | sed 's/.*load average/load average/')"
ratios=""
for r in $(seq "$rounds"); do
    hvp_line=$("$hvp" bench train "$config" --steps "$steps" data.batch_size="$batch" | tail -n 1)
    torch_line=$(OMP_NUM_THREADS=$threads "$python" bench/pytorch_simsiam.py --batch "$batch" \
        --size 32 --channels 3 --width 1.0 --proj 2048 --hidden 2048 --pred 512 \
        --steps "$steps" --threads "$threads")
    ratio=$(echo "$(echo "$hvp_line" | images_per_s) $(echo "$torch_line" | images_per_s)" |
        awk '{printf "%.3f", $1 / $2}')
    echo "round $r: $hvp_line"
    echo "round $r: $torch_line"
    echo "round $r: hvp / PyTorch images/s: $ratio"
    ratios="$ratios $ratio"
done
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         printf "hvp / PyTorch images/s, median of %d rounds: %.2f\n", NR, m}'
