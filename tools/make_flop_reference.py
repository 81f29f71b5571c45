#!/usr/bin/env python3
"""Reference FLOPs of one SimSiam step, counted once by PyTorch's FlopCounterMode.

Writes tests/data/flop_reference.txt ("name value" lines) for tests/test_flops.c, which
counts the same steps in hvp (hvp_flops_count_only) and expects its matrix-product FLOPs
within 5 %. FlopCounterMode counts matrix products only (mm, addmm, bmm, convolution and
their backward; a multiply-add is 2 FLOPs); hvp counts those as HVP_FLOPS_MATMUL.

Steps (B images per view):
  resnet18_cifar: SimSiam on torchvision's ResNet-18 with the CIFAR stem, 32 px, B = 2
  vit_small: SimSiam on timm's vit_small_patch16_224 (num_classes=0, the CLS token), B = 2
each as "<step>_train" (forward and backward of the chosen pair [x1; x2]; the input needs
no gradient, so the first layer computes no input gradient, as in hvp) and "<step>_select"
(the selection pass: a forward of all N = 4 candidate views without gradients). timm's
attention runs unfused (q @ k^T, softmax, @ v: two bmm forward, four backward, as hvp)
rather than through scaled_dot_product_attention, whose counted backward recomputes the
scores. The projector is SimSiam's 3-layer MLP (hidden 2048, output 2048), the predictor
2048 -> 512 -> 2048, as the test's config.

Usage: /tmp/torch2/bin/python tools/make_flop_reference.py [OUT]   (torch, torchvision, timm)
"""
import os
import sys

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_simsiam_golden import ResNet18Cifar  # noqa: E402  (the golden step's ResNet)

N = 4            # candidate views
PROJ, HIDDEN, PRED = 2048, 2048, 512


class SimSiam(nn.Module):
    """The official SimSiam head on any backbone with a feature_dim."""

    def __init__(self, encoder, d):
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Sequential(
            nn.Linear(d, HIDDEN, bias=False), nn.BatchNorm1d(HIDDEN), nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN, bias=False), nn.BatchNorm1d(HIDDEN), nn.ReLU(),
            nn.Linear(HIDDEN, PROJ), nn.BatchNorm1d(PROJ, affine=False))
        self.predictor = nn.Sequential(nn.Linear(PROJ, PRED, bias=False), nn.BatchNorm1d(PRED),
                                       nn.ReLU(), nn.Linear(PRED, PROJ))

    def forward(self, x):
        z = self.fc(self.encoder(x))
        return z, self.predictor(z)


def count(fn):
    mode = FlopCounterMode(display=False)
    with mode:
        fn()
    return mode.get_total_flops()


def step_flops(model, b, c, s):
    model.train()
    x12 = torch.randn(2 * b, c, s, s)

    def train():
        z, p = model(x12)
        z1, z2, p1, p2 = z[:b], z[b:], p[:b], p[b:]
        loss = -0.5 * (F.cosine_similarity(p1, z2.detach()).mean()
                       + F.cosine_similarity(p2, z1.detach()).mean())
        loss.backward()

    views = torch.randn(N * b, c, s, s)

    def select():
        with torch.no_grad():
            model(views)

    return count(train), count(select)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/flop_reference.txt"
    torch.manual_seed(0)
    rows = []
    r18 = SimSiam(ResNet18Cifar(1.0, 3), 512)
    rows += zip(("resnet18_cifar_train", "resnet18_cifar_select"), step_flops(r18, 2, 3, 32))
    vit = timm.create_model("vit_small_patch16_224", num_classes=0)
    for block in vit.blocks:
        block.attn.fused_attn = False
    rows += zip(("vit_small_train", "vit_small_select"), step_flops(SimSiam(vit, 384), 2, 3, 224))
    with open(out, "w") as f:
        f.write("# FLOPs of one SimSiam step by torch.utils.flop_counter.FlopCounterMode "
                f"(torch {torch.__version__}, timm {timm.__version__}); "
                "made by tools/make_flop_reference.py\n")
        for name, value in rows:
            f.write(f"{name} {value}\n")
    for name, value in rows:
        print(f"{name}: {value:.6g}")


if __name__ == "__main__":
    main()
