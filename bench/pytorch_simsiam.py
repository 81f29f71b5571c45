#!/usr/bin/env python3
"""PyTorch's images/s for the SimSiam steps `hvp bench train` times: the same backbone and
heads, the same batch of two fixed random views, forward, loss, backward and SGD, on the CPU
with a given number of threads. For bench/simsiam_vs_pytorch.sh.

Backbones (--arch): r18 (ResNet-18 with the CIFAR stem and a width multiplier, the golden
test's model), r50 (torchvision's resnet50) and vit (ViT-S/16 in timm's layout, written here
in plain torch since timm may not be installed: 16x16 patch conv, class token, position
embedding, 12 pre-norm blocks of 6-head attention and a GELU MLP of 1536, drop path rising
linearly to --drop-path over the blocks, final LayerNorm, class-token features).

Also prints the peak resident memory of the process and its growth over the model's setup
and the steps (getrusage ru_maxrss; PyTorch's CPU tensors live in the process's memory).

Usage: pytorch_simsiam.py [--arch r18|r50|vit] --batch B --size S --channels C --width W
                          --proj P --hidden H --pred Q --steps N --threads T [--drop-path R]
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from make_simsiam_golden import SimSiam  # noqa: E402  (the golden test's model)


def maxrss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class DropPath(nn.Module):
    """timm's per-sample stochastic depth: a sample's branch is dropped with probability p,
    the kept ones scaled by 1 / (1 - p)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # timm's fused_attn path
        return self.proj(x.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden, drop_path):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    """timm's vit_small_patch16_224 without its head (dim 384, depth 12, 6 heads)."""

    def __init__(self, size=224, patch=16, channels=3, dim=384, depth=12, heads=6, mlp=4,
                 drop_path=0.1):
        super().__init__()
        self.patch_embed = nn.Conv2d(channels, dim, patch, patch)
        tokens = (size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        rates = torch.linspace(0, drop_path, depth).tolist()
        self.blocks = nn.Sequential(*[Block(dim, heads, dim * mlp, r) for r in rates])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.feature_dim = dim
        self.fc = nn.Identity()

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.fc(x[:, 0])


def projector(d, h, proj):
    return nn.Sequential(nn.Linear(d, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
                         nn.Linear(h, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
                         nn.Linear(h, proj), nn.BatchNorm1d(proj, affine=False))


class SimSiamOn(nn.Module):
    """SimSiam's heads (as the golden test's SimSiam) on another encoder."""

    def __init__(self, encoder, d, proj, pred, hidden):
        super().__init__()
        self.encoder = encoder
        self.encoder.fc = projector(d, hidden or d, proj)
        self.predictor = nn.Sequential(nn.Linear(proj, pred, bias=False), nn.BatchNorm1d(pred),
                                       nn.ReLU(), nn.Linear(pred, proj))

    def forward(self, x):
        z = self.encoder(x)
        return z, self.predictor(z)


def build(a):
    if a.arch == "r18":
        return SimSiam(a.width, a.channels, a.proj, a.pred, a.hidden or None)
    if a.arch == "r50":
        import torchvision
        return SimSiamOn(torchvision.models.resnet50(), 2048, a.proj, a.pred, a.hidden)
    vit = ViT(a.size, 16, a.channels, drop_path=a.drop_path)
    return SimSiamOn(vit, vit.feature_dim, a.proj, a.pred, a.hidden)


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("batch", 64), ("size", 32), ("channels", 3), ("proj", 2048),
                          ("hidden", 0), ("pred", 512), ("steps", 5), ("threads", 2)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--arch", choices=["r18", "r50", "vit"], default="r18")
    ap.add_argument("--drop-path", type=float, default=0.1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rss0 = maxrss_mib()
    model = build(a).train()
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
    rss = maxrss_mib()
    print(f"pytorch: peak memory {rss:.1f} MiB resident (getrusage maxrss; {rss - rss0:.1f} "
          f"MiB above the {rss0:.1f} MiB before the model was built)")


if __name__ == "__main__":
    main()
