#!/usr/bin/env python3
"""PyTorch's images/s for the SimSiam steps `hvp bench train` times: the same ResNet-18
(CIFAR stem) and heads, the same batch of two fixed random views, forward, loss, backward
and SGD, on the CPU with a given number of threads. For bench/simsiam_vs_pytorch.sh.

Usage: pytorch_simsiam.py --batch B --size S --channels C --width W --proj P --hidden H
                          --pred Q --steps N --threads T
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_simsiam_golden import SimSiam  # noqa: E402  (the golden test's model)


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("batch", 64), ("size", 32), ("channels", 3), ("proj", 2048),
                          ("hidden", 0), ("pred", 512), ("steps", 5), ("threads", 2)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--width", type=float, default=1.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = SimSiam(a.width, a.channels, a.proj, a.pred, a.hidden or None)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x1 = torch.rand(a.batch, a.channels, a.size, a.size) * 2 - 1
    x2 = torch.rand(a.batch, a.channels, a.size, a.size) * 2 - 1

    def step():
        z1, p1 = model(x1)
        z2, p2 = model(x2)
        loss = -(F.cosine_similarity(p1, z2.detach()).mean()
                 + F.cosine_similarity(p2, z1.detach()).mean()) * 0.5
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up, as hvp bench train
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    sec = time.perf_counter() - t0
    print(f"pytorch {torch.__version__}: {a.steps} SimSiam steps of {a.batch} images, "
          f"{sec / a.steps:.3f} s/step, {a.steps * a.batch / sec:.1f} images/s "
          f"({a.threads} threads)")


if __name__ == "__main__":
    main()
