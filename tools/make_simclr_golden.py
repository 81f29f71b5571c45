#!/usr/bin/env python3
"""Golden outputs of one SimCLR step with hard view selection, made once with PyTorch.

Writes tests/data/simclr_golden.safetensors in the layout of make_simsiam_golden.py: the
initial weights under solo-learn's names ("backbone.conv1.weight", "projector.0.weight"),
the candidate views, the [pairs, B] losses of the selection pass, the chosen pair per
sample, the training loss, and every parameter and running statistic after one SGD update.
tests/test_golden_step.c replays it.

The reference follows solo-learn's SimCLR: projector Linear-ReLU-Linear; NT-Xent over
[z1; z2] normalised, similarities / temperature, each row's positive the other view of its
image and every other row but itself in the denominator, averaged over the 2B rows; one
forward per view. A pair's selection score is each image's loss: the mean of its two rows.

Usage: python3 tools/make_simclr_golden.py [OUT]   (needs torch and numpy)
"""
import sys
from itertools import combinations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_simsiam_golden import B, C, N, S, WIDTH, ResNet18Cifar, save_safetensors

HIDDEN, PROJ, TAU = 16, 8, 0.2
LR, MOMENTUM, WD = 0.05, 0.9, 1e-4


class SimCLR(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ResNet18Cifar(WIDTH, C)
        d = self.backbone.feature_dim
        self.projector = nn.Sequential(nn.Linear(d, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, PROJ))

    def forward(self, x):
        return self.projector(self.backbone(x))


def ntxent_rows(z1, z2):
    """Per-row NT-Xent losses of [z1; z2]."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    n = z.shape[0]
    sim = (z @ z.T / TAU).masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
    labels = (torch.arange(n) + n // 2) % n
    return F.cross_entropy(sim, labels, reduction="none")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/simclr_golden.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = SimCLR().double()  # double: the golden values carry no float32 rounding
    for m in model.modules():   # non-trivial BN affine parameters
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    out_tensors = {}
    for k, v in model.state_dict().items():
        out_tensors["init." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    views = torch.randn(N * B, C, S, S, dtype=torch.float64)
    out_tensors["views"] = views.numpy().astype(np.float32)

    # Selection: train mode, no gradients, running statistics left as they were.
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        z = model(views).view(N, B, -1)
    model.load_state_dict(saved)
    pairs = list(combinations(range(N), 2))
    scores = []
    for i, j in pairs:
        rows = ntxent_rows(z[i], z[j])
        scores.append(0.5 * (rows[:B] + rows[B:]))
    scores = torch.stack(scores)  # [P, B]
    chosen = torch.argmax(scores, dim=0)  # first maximum: the lowest pair index
    out_tensors["scores"] = scores.numpy().astype(np.float32)
    out_tensors["chosen"] = chosen.numpy().astype(np.int32)

    v = views.view(N, B, C, S, S)
    x1 = torch.stack([v[pairs[k][0], b] for b, k in enumerate(chosen.tolist())])
    x2 = torch.stack([v[pairs[k][1], b] for b, k in enumerate(chosen.tolist())])

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    loss = ntxent_rows(model(x1), model(x2)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    out_tensors["loss"] = np.array([loss.item()], dtype=np.float32)
    for k, val in model.state_dict().items():
        out_tensors["after." + k] = val.numpy().astype(np.int64 if "num_batches" in k else np.float32)

    meta = {"B": str(B), "N": str(N), "C": str(C), "S": str(S), "width": str(WIDTH),
            "proj_dim": str(PROJ), "proj_hidden_dim": str(HIDDEN), "temperature": str(TAU),
            "lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "torch": torch.__version__, "script": "tools/make_simclr_golden.py"}
    save_safetensors(out, out_tensors, meta)
    print(f"wrote {out}: loss {loss.item():.6f}, chosen {chosen.tolist()}")


if __name__ == "__main__":
    main()
