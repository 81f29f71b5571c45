#!/bin/sh
# hvp's images/s over PyTorch's for the same SimSiam ResNet-18-CIFAR training steps (same
# batch, same view shape, forward + backward + SGD, no data loading), measured one after
# the other in one run on this machine. PyTorch is only for this benchmark:
#   python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch
#   PYTHON=/tmp/torch/bin/python bench/simsiam_vs_pytorch.sh [BATCH] [STEPS]
set -e
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
batch=${1:-64}
steps=${2:-5}
threads=$(nproc)
config=configs/simsiam_r18_cifar10.ini

hvp_line=$(./hvp bench train "$config" --steps "$steps" data.batch_size="$batch" | tail -n 1)
torch_line=$(OMP_NUM_THREADS=$threads "$python" bench/pytorch_simsiam.py --batch "$batch" \
    --size 32 --channels 3 --width 1.0 --proj 2048 --hidden 2048 --pred 512 \
    --steps "$steps" --threads "$threads")
echo "$hvp_line"
echo "$torch_line"
hvp_ips=$(echo "$hvp_line" | sed -E 's/.* ([0-9.]+) images\/s.*/\1/')
torch_ips=$(echo "$torch_line" | sed -E 's/.* ([0-9.]+) images\/s.*/\1/')
echo "hvp / PyTorch images/s: $(echo "$hvp_ips $torch_ips" | awk '{printf "%.2f", $1 / $2}')"
