#!/usr/bin/env python3
"""Golden outputs of the ViT position-embedding interpolation, made once with PyTorch.

Writes tests/data/vit_pos_interp_golden.safetensors: a position embedding "pos" [1 + G*G, D]
(G = 4) and, for each output grid g in GRIDS, the interpolated embedding "out_g{g}" and the
gradient "dpos_g{g}" of sum(out * "dout_g{g}") with respect to pos, as DINO's
interpolate_pos_encoding (vision_transformer.py, facebookresearch/dino) computes them:
F.interpolate(scale_factor=(g + 0.1) / G, mode="bicubic") on the grid, the class row kept.
"size_g{g}" are the same with size=(g, g) (scale G / g), which checks the general mapping.
tests/test_vit_pos_interp.c replays them.

Usage: python3 tools/make_pos_interp_golden.py [OUT]   (needs torch and numpy)
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

from make_simsiam_golden import save_safetensors

G, D = 4, 3
GRIDS = (2, 3, 6)


def interpolate_pos_encoding(pos_embed, g, by_size=False):
    """DINO's VisionTransformer.interpolate_pos_encoding for a g x g patch grid."""
    N = pos_embed.shape[1] - 1
    if N == g * g:
        return pos_embed
    class_pos_embed = pos_embed[:, 0]
    patch_pos_embed = pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    grid = patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2)
    if by_size:
        grid = F.interpolate(grid, size=(g, g), mode="bicubic")
    else:
        w0, h0 = g + 0.1, g + 0.1
        grid = F.interpolate(grid, scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)),
                             mode="bicubic")
    assert grid.shape[-2] == g and grid.shape[-1] == g
    patch_pos_embed = grid.permute(0, 2, 3, 1).reshape(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/vit_pos_interp_golden.safetensors"
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + G * G, D, dtype=torch.float64)
    tensors = {"pos": pos[0].numpy().astype(np.float32)}
    for g in GRIDS:
        for by_size, name in ((False, "out"), (True, "size")):
            p = pos.clone().requires_grad_(True)
            o = interpolate_pos_encoding(p, g, by_size)
            dout = torch.randn_like(o)
            (o * dout).sum().backward()
            tensors[f"{name}_g{g}"] = o[0].detach().numpy().astype(np.float32)
            tensors[f"d{name}_g{g}"] = dout[0].numpy().astype(np.float32)
            tensors[f"dpos_{name}_g{g}"] = p.grad[0].numpy().astype(np.float32)
    meta = {"G": str(G), "D": str(D), "grids": ",".join(map(str, GRIDS)),
            "torch": torch.__version__, "script": "tools/make_pos_interp_golden.py"}
    save_safetensors(out, tensors, meta)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
