#!/usr/bin/env python3
"""Golden forward and backward of a small ViT (DINO / timm layout), made once with PyTorch.

Writes tests/data/vit_golden.safetensors: the weights under DINO's names with an "init."
prefix ("init.cls_token", "init.blocks.0.attn.qkv.weight", ...), an input batch "x", a
random cotangent "cotangent" for the features, the features "features" (train mode,
drop_path 0) and every parameter's gradient of sum(features * cotangent) as "grad.<name>".
tests/test_vit_golden.c replays it.

The model is written here in plain PyTorch with the module names of DINO's
vision_transformer.py (no timm needed): PatchEmbed (conv, kernel = stride = patch),
cls_token and pos_embed, pre-norm blocks (LayerNorm eps 1e-6, qkv with bias, exact GELU),
a final LayerNorm, the class token as the features. It runs in double. The weights are
drawn larger than DINO's init (std 0.02) so that attention is far from uniform and every
gradient is well away from zero.

Usage: python3 tools/make_vit_golden.py [OUT]   (needs torch and numpy)
"""
import sys

import numpy as np
import torch
import torch.nn as nn

from make_simsiam_golden import save_safetensors

B, C, IMG, PATCH, DIM, DEPTH, HEADS, MLP_RATIO = 3, 3, 32, 8, 24, 2, 3, 4


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(C, DIM, kernel_size=PATCH, stride=PATCH)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.num_heads = HEADS
        self.scale = (DIM // HEADS) ** -0.5
        self.qkv = nn.Linear(DIM, DIM * 3, bias=True)
        self.proj = nn.Linear(DIM, DIM)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(DIM, DIM * MLP_RATIO)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(DIM * MLP_RATIO, DIM)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.attn = Attention()
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.mlp = Mlp()

    def forward(self, x):
        x = x + self.attn(self.norm1(x))  # drop_path 0: identity
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = PatchEmbed()
        n = (IMG // PATCH) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, DIM))
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)[:, 0]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/vit_golden.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = VisionTransformer().double()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.uniform_(0.5, 1.5)
            elif "norm" in name:
                p.uniform_(-0.2, 0.2)
            elif name in ("cls_token", "pos_embed"):
                p.normal_(0, 0.5)
            elif p.dim() == 2:  # Linear weights
                p.normal_(0, 1.0 / p.shape[1] ** 0.5)
            elif name.startswith("blocks"):  # Linear biases
                p.uniform_(-0.1, 0.1)
    model.train()
    x = torch.randn(B, C, IMG, IMG, dtype=torch.float64)
    cot = torch.randn(B, DIM, dtype=torch.float64)
    tensors = {}
    for name, p in model.state_dict().items():
        tensors["init." + name] = p.detach().float().numpy()
    feats = model(x)
    (feats * cot).sum().backward()
    for name, p in model.named_parameters():
        tensors["grad." + name] = p.grad.detach().float().numpy()
    tensors["x"] = x.float().numpy()
    tensors["cotangent"] = cot.float().numpy()
    tensors["features"] = feats.detach().float().numpy()
    meta = {"B": str(B), "C": str(C), "img": str(IMG), "patch": str(PATCH), "dim": str(DIM),
            "depth": str(DEPTH), "heads": str(HEADS), "mlp_ratio": str(MLP_RATIO),
            "order": ",".join(model.state_dict().keys())}
    save_safetensors(out, tensors, meta)
    print(f"wrote {out}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
