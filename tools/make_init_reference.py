#!/usr/bin/env python3
"""The reference for model.init from PyTorch's own models: torchvision's resnet18() and timm's
vit_tiny_patch16_224 (both with their 1000-class heads, as downloaded files have them), every
state-dict tensor filled by a formula of its name, shape and element index that the C test
(tests/test_model_init_pytorch.c) computes too, so the 47 MB / 23 MB weight files need not be
stored. Writes to tests/data/:

- init_reference.safetensors: two 224 x 224 RGB images (U8 [2, 3, 224, 224]) and, per
  model, its backbone features of them in eval mode, computed in double from the float32
  weights: ResNet-18's 512-d pooled features, ViT-Tiny's 192-d class token after the final
  norm (F64 [2, d]). Inputs are (pixel / 255 - mean) / std with ImageNet's mean and std, in
  double, then rounded to float32.
- init_resnet18_tensors.txt, init_vit_tiny_tensors.txt: the state dict, one tensor a line
  in its order: "name DTYPE d0,d1,..." ("-" for a scalar).

The formula (the C test's formula_value): h = FNV-1a 32 of the name; element i gets
x = fmix32(h ^ (i * 0x9E3779B1 mod 2^32)) (MurmurHash3's finaliser), u = (x >> 8) / 2^24,
v = 2u - 1 in [-1, 1), then in double, rounded once to float32:
  num_batches_tracked   I64 scalar h % 1000 (the loader ignores it)
  running_mean          v / 8
  running_var           1 + v / 2
  weight, 1-D (BN, LN)  1 + v / 4
  weight, 2-D and up    v * sqrt(6 / fan_in), fan_in = numel / shape[0]
  bias                  v / 8
  cls_token, pos_embed  v / 16
Every scale is a power of two but the weights', whose formula has no addition, so a fused
multiply-add cannot change a bit. The weights are saved with safetensors.torch.save_file to a
temporary file and read back only to check the formula round-trips.

    /tmp/torch2/bin/python tools/make_init_reference.py   (torch, torchvision, timm, numpy)
"""
import math
import os
import tempfile

import numpy as np
import timm
import torch
import torchvision
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
N_IMAGES, SIZE = 2, 224


def fnv1a32(name):
    h = 0x811C9DC5
    for b in name.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def fmix32(x):
    x = x ^ (x >> np.uint32(16))
    x = x * np.uint32(0x85EBCA6B)
    x = x ^ (x >> np.uint32(13))
    x = x * np.uint32(0xC2B2AE35)
    return x ^ (x >> np.uint32(16))


def formula(name, shape):
    """The tensor named `name` of `shape` as the formula fills it (float32 or int64)."""
    h = fnv1a32(name)
    if name.endswith("num_batches_tracked"):
        return np.array(h % 1000, dtype=np.int64)
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n, dtype=np.uint64)
    x = fmix32((np.uint32(h) ^ ((i * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF))
                .astype(np.uint32)))
    v = 2.0 * ((x >> np.uint32(8)).astype(np.float64) / 16777216.0) - 1.0
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_mean" or leaf == "bias":
        w = v / 8
    elif leaf == "running_var":
        w = 1 + v / 2
    elif leaf == "weight" and len(shape) == 1:
        w = 1 + v / 4
    elif leaf == "weight":
        w = v * math.sqrt(6.0 / (n // shape[0]))
    elif name in ("cls_token", "pos_embed"):
        w = v / 16
    else:
        raise SystemExit(f"no formula for tensor {name} {list(shape)}")
    return w.astype(np.float32).reshape(shape)


def fill(model):
    """Every state-dict tensor of model by the formula, checked through a safetensors file."""
    state = {k: torch.from_numpy(formula(k, tuple(t.shape))) for k, t in model.state_dict().items()}
    for k, t in model.state_dict().items():
        assert state[k].dtype == t.dtype and state[k].shape == t.shape, k
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "weights.safetensors")
        save_file(state, path)
        back = load_file(path)
    assert sorted(back) == sorted(state)
    for k in state:
        assert torch.equal(back[k], state[k]), k
    model.load_state_dict(back, strict=True)
    return model.eval()


def images():
    """Two images with structure (smooth colour fields, edges) and pixel noise."""
    rng = np.random.default_rng(12)
    coarse = torch.from_numpy(rng.uniform(0, 255, (N_IMAGES, 3, 7, 7)))
    smooth = torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bicubic",
                                             align_corners=False).numpy()
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    edges = np.where((xx // 32 + yy // 48) % 2 == 0, 40.0, -40.0)
    noise = rng.normal(0, 12, (N_IMAGES, 3, SIZE, SIZE))
    return np.clip(np.rint(smooth + edges + noise), 0, 255).astype(np.uint8)


def normalise(pixels):
    x = pixels.astype(np.float64) / 255.0
    for c in range(3):
        x[:, c] = (x[:, c] - MEAN[c]) / STD[c]
    return torch.from_numpy(x.astype(np.float32))


def resnet18_features(model, x):
    """The 512-d pooled features: torchvision's forward without fc."""
    m = model
    y = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
    return torch.flatten(m.avgpool(y), 1)


def vit_features(model, x):
    """The class token after the final norm."""
    return model.forward_features(x)[:, 0]


def tensor_list(model, path):
    with open(path, "w") as f:
        for k, t in model.state_dict().items():
            dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
            shape = ",".join(str(s) for s in t.shape) or "-"
            f.write(f"{k} {dtype} {shape}\n")


def main():
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
    pixels = images()
    x = normalise(pixels)
    out = {"images": pixels}
    models = {
        "resnet18": (torchvision.models.resnet18(), resnet18_features),
        "vit_tiny": (timm.create_model("vit_tiny_patch16_224", pretrained=False), vit_features),
    }
    for name, (model, features) in models.items():
        fill(model)
        tensor_list(model, os.path.join(data, f"init_{name}_tensors.txt"))
        with torch.no_grad():
            f32 = features(model, x)
            f64 = features(model.double(), x.double())
        out[f"{name}.features"] = np.ascontiguousarray(f64.numpy())  # [:, 0] is a strided view
        rel = ((f32.double() - f64).abs().max() / f64.abs().max()).item()
        spread = (f64[0] - f64[1]).abs().max().item() / f64.abs().max().item()
        print(f"{name}: {len(model.state_dict())} tensors, features {list(f64.shape)}, "
              f"max |f| {f64.abs().max().item():.4g}, images differ by {spread:.3g} of it; "
              f"PyTorch float32 against double: {rel:.3g} relative")
    path = os.path.join(data, "init_reference.safetensors")
    save_numpy(out, path, metadata={"images": str(N_IMAGES), "size": str(SIZE),
                                    "made_by": "tools/make_init_reference.py"})
    back = load_numpy(path)
    assert sorted(back) == sorted(out) and all(np.array_equal(back[k], out[k]) for k in out)
    print("wrote", path)


if __name__ == "__main__":
    main()
