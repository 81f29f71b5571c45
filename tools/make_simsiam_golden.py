#!/usr/bin/env python3
"""Golden outputs of one SimSiam step with hard view selection, made once with PyTorch.

Writes tests/data/simsiam_golden.safetensors: the initial weights (under the official
SimSiam names, "encoder.conv1.weight", "encoder.fc.0.weight", "predictor.3.bias"), the
candidate views, and what one step must produce: the [pairs, B] losses of the selection
pass, the chosen pair per sample, the training loss, and every parameter and running
statistic after one SGD update. tests/test_simsiam_golden.c replays it.

The reference follows the official code (facebookresearch/simsiam): two separate forwards
f(x1), f(x2); loss -(cos(p1, z2.detach()).mean() + cos(p2, z1.detach()).mean()) / 2; SGD
momentum 0.9, weight decay 1e-4 on every parameter, predictor at the fixed base lr. The
selection pass runs all N*B views in train mode without gradients and leaves the running
statistics unchanged; the pair with the highest per-sample loss wins (ties: lower index).

Usage: python3 tools/make_simsiam_golden.py [OUT]   (needs torch and numpy)
"""
import json
import struct
import sys
from itertools import combinations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

B, N, C, S = 4, 4, 3, 16           # images, candidate views, channels, pixels
WIDTH = 1 / 16                     # ResNet-18 with 4, 8, 16, 32 channels
PROJ, PRED = 16, 8
LR, MOMENTUM, WD = 0.05, 0.9, 1e-4


def conv3x3(i, o, s=1):
    return nn.Conv2d(i, o, 3, s, 1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = conv3x3(inp, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18Cifar(nn.Module):
    """torchvision's ResNet-18 layout with the CIFAR stem and a width multiplier."""

    def __init__(self, width, channels=C):
        super().__init__()
        w = [max(1, int(c * width + 0.5)) for c in (64, 128, 256, 512)]
        self.conv1 = conv3x3(channels, w[0])
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU()
        inp = w[0]
        for li in range(4):
            blocks = [BasicBlock(inp, w[li], 1 if li == 0 else 2), BasicBlock(w[li], w[li], 1)]
            setattr(self, f"layer{li + 1}", nn.Sequential(*blocks))
            inp = w[li]
        self.feature_dim = inp
        self.fc = nn.Identity()

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for li in range(4):
            x = getattr(self, f"layer{li + 1}")(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class SimSiam(nn.Module):
    def __init__(self, width=WIDTH, channels=C, proj=PROJ, pred=PRED, hidden=None):
        super().__init__()
        self.encoder = ResNet18Cifar(width, channels)
        d = self.encoder.feature_dim
        h = hidden or d
        self.encoder.fc = nn.Sequential(
            nn.Linear(d, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, proj), nn.BatchNorm1d(proj, affine=False))
        self.predictor = nn.Sequential(nn.Linear(proj, pred, bias=False), nn.BatchNorm1d(pred),
                                       nn.ReLU(), nn.Linear(pred, proj))

    def forward(self, x):
        z = self.encoder(x)
        return z, self.predictor(z)


def pair_losses(p, z, i, j):
    return -0.5 * (F.cosine_similarity(p[i], z[j].detach(), dim=1, eps=1e-8)
                   + F.cosine_similarity(p[j], z[i].detach(), dim=1, eps=1e-8))


def save_safetensors(path, tensors, metadata):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        arr = tensors[name]
        dtype = {np.float32: "F32", np.int64: "I64", np.int32: "I32"}[arr.dtype.type]
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/simsiam_golden.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = SimSiam().double()  # double: the golden values carry no float32 rounding
    for m in model.modules():   # non-trivial BN affine parameters and running statistics
        if isinstance(m, nn.BatchNorm2d) or (isinstance(m, nn.BatchNorm1d) and m.affine):
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
        z, p = model(views)
    model.load_state_dict(saved)
    z, p = z.view(N, B, -1), p.view(N, B, -1)
    pairs = list(combinations(range(N), 2))
    scores = torch.stack([pair_losses(p, z, i, j) for i, j in pairs])  # [P, B]
    chosen = torch.argmax(scores, dim=0)  # first maximum: the lowest pair index
    out_tensors["scores"] = scores.numpy().astype(np.float32)
    out_tensors["chosen"] = chosen.numpy().astype(np.int32)

    v = views.view(N, B, C, S, S)
    x1 = torch.stack([v[pairs[k][0], b] for b, k in enumerate(chosen.tolist())])
    x2 = torch.stack([v[pairs[k][1], b] for b, k in enumerate(chosen.tolist())])

    # The training step, as the official main_simsiam.py.
    pred_params = [q for n, q in model.named_parameters() if n.startswith("predictor")]
    other = [q for n, q in model.named_parameters() if not n.startswith("predictor")]
    opt = torch.optim.SGD([{"params": other}, {"params": pred_params}], lr=LR,
                          momentum=MOMENTUM, weight_decay=WD)
    z1, p1 = model(x1)
    z2, p2 = model(x2)
    loss = -(F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
             + F.cosine_similarity(p2, z1.detach(), dim=-1).mean()) * 0.5
    opt.zero_grad()
    loss.backward()
    opt.step()
    out_tensors["loss"] = np.array([loss.item()], dtype=np.float32)
    for k, val in model.state_dict().items():
        out_tensors["after." + k] = val.numpy().astype(np.int64 if "num_batches" in k else np.float32)

    meta = {"B": str(B), "N": str(N), "C": str(C), "S": str(S), "width": str(WIDTH),
            "proj_dim": str(PROJ), "pred_dim": str(PRED), "lr": str(LR),
            "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "torch": torch.__version__, "script": "tools/make_simsiam_golden.py"}
    save_safetensors(out, out_tensors, meta)
    print(f"wrote {out}: loss {loss.item():.6f}, chosen {chosen.tolist()}")


if __name__ == "__main__":
    main()
