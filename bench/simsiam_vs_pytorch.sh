#!/bin/sh
# hvp's images/s over PyTorch's for the same SimSiam training steps (same backbone and heads,
# same batch, same view shape, forward + backward + SGD, no data loading), and the peak
# memory of each side. The two sides run in turn (hvp, PyTorch, hvp, PyTorch, ...) so that a
# change in the machine's load falls on both; it prints each pair's ratio and their median.
# Measure on a quiet machine (uptime).
#   MODEL r18: ResNet-18 CIFAR, 32 px (configs/simsiam_r18_cifar10.ini), default batch 64
#   MODEL r50: ResNet-50, 224 px (configs/simsiam_r50.ini), default batch 16
#   MODEL vit: ViT-S/16, 224 px (simsiam_r50.ini with model.arch=vit_small), default batch
#              16, drop path DROP_PATH (default 0.1, the config's) on both sides
# Memory: hvp's line is the device memory its arenas hold (on a CPU device that is host
# memory too); PyTorch's is the process's peak resident set (getrusage), including the
# interpreter and libraries, with its growth over the run beside it.
# PyTorch is only for this benchmark:
#   scripts/torch-venv /tmp/torch   (PyTorch and torchvision from PyPI, CPU use)
#   PYTHON=/tmp/torch/bin/python bench/simsiam_vs_pytorch.sh [MODEL] [BATCH] [STEPS] [ROUNDS]
# HVP=path/to/hvp compares another build.
set -e
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
hvp=${HVP:-./hvp}
model=r18
case "$1" in r18 | r50 | vit) model=$1; shift ;; esac
drop_path=${DROP_PATH:-0.1}
case $model in
r18)
    batch=${1:-64}
    config=configs/simsiam_r18_cifar10.ini
    hvp_args=""
    torch_args="--arch r18 --size 32 --width 1.0 --hidden 2048"
    ;;
r50)
    batch=${1:-16}
    config=configs/simsiam_r50.ini
    hvp_args="data.image_size=224"
    torch_args="--arch r50 --size 224 --hidden 2048"
    ;;
vit)
    batch=${1:-16}
    config=configs/simsiam_r50.ini
    hvp_args="model.arch=vit_small data.image_size=224 model.drop_path=$drop_path"
    torch_args="--arch vit --size 224 --hidden 2048 --drop-path $drop_path"
    ;;
esac
steps=${2:-5}
rounds=${3:-3}
threads=$(nproc)

images_per_s() { grep 'images/s' | sed -E 's/.* ([0-9.]+) images\/s.*/\1/'; }

echo "model $model, batch $batch, $steps steps, $rounds rounds"
echo "load: $(uptime | sed 's/.*load average/load average/')"
ratios=""
for r in $(seq "$rounds"); do
    # bench train reads no data; data.root only has to be set.
    # shellcheck disable=SC2086
    hvp_out=$("$hvp" bench train "$config" --steps "$steps" data.batch_size="$batch" \
        data.root=unused $hvp_args)
    # shellcheck disable=SC2086
    torch_out=$(OMP_NUM_THREADS=$threads "$python" bench/pytorch_simsiam.py --batch "$batch" \
        --channels 3 --proj 2048 --pred 512 --steps "$steps" --threads "$threads" $torch_args)
    ratio=$(echo "$(echo "$hvp_out" | images_per_s) $(echo "$torch_out" | images_per_s)" |
        awk '{printf "%.3f", $1 / $2}')
    echo "$hvp_out" | sed "s/^/round $r: /"
    echo "$torch_out" | sed "s/^/round $r: /"
    echo "round $r: hvp / PyTorch images/s: $ratio"
    ratios="$ratios $ratio"
done
echo "load: $(uptime | sed 's/.*load average/load average/')"
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n |
    awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
         printf "hvp / PyTorch images/s, median of %d rounds: %.2f\n", NR, m}'
