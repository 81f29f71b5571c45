#!/usr/bin/env python3
"""Golden augmented views from torchvision's functional API, for tests/test_augment.c.

Each file tests/data/augment_golden_N.bin holds one small image, fixed view parameters and
the view torchvision makes from them on a float tensor (the uint8 image / 255):
resized_crop(antialias=True) -> hflip -> adjust_* in the given order -> rgb_to_grayscale(3)
-> gaussian_blur (reflect) -> solarize(0.5) -> normalize. Layout (little-endian):
int32 magic 'HVAG', H, W, C, S, interp (0 bilinear, 1 bicubic), top, left, ch, cw, flip,
jitter, order[4] (0 brightness, 1 contrast, 2 saturation, 3 hue), gray, blur, ksize,
solarize; float32 brightness, contrast, saturation, hue, sigma, mean[3], std[3];
uint8 image[H][W][C]; float32 view[C][S][S].

Needs torch and torchvision (CPU is enough): scripts/torch-venv /tmp/torch &&
/tmp/torch/bin/python tools/make_augment_golden.py
"""
import os
import struct
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

IMNET_MEAN = [0.485, 0.456, 0.406]
IMNET_STD = [0.229, 0.224, 0.225]

CASES = [
    # downscale (antialias) bilinear, flip, all four jitter ops, ImageNet normalisation
    dict(C=3, interp=0, crop=(1, 2, 11, 12), flip=1, jitter=1, order=[3, 1, 0, 2],
         factors=[1.25, 0.7, 1.3, 0.08], gray=0, blur=0, ksize=3, sigma=1.0, solarize=0,
         mean=IMNET_MEAN, std=IMNET_STD),
    # upscale bicubic, grayscale, blur
    dict(C=3, interp=1, crop=(3, 4, 5, 6), flip=0, jitter=0, order=[0, 1, 2, 3],
         factors=[1, 1, 1, 0], gray=1, blur=1, ksize=5, sigma=1.3, solarize=0,
         mean=[0, 0, 0], std=[1, 1, 1]),
    # bilinear, another jitter order, solarize, small blur
    dict(C=3, interp=0, crop=(0, 0, 12, 16), flip=0, jitter=1, order=[1, 3, 2, 0],
         factors=[0.65, 1.35, 0.62, -0.09], gray=0, blur=1, ksize=3, sigma=0.7, solarize=1,
         mean=IMNET_MEAN, std=IMNET_STD),
    # one channel, bicubic downscale, brightness and contrast, blur, solarize
    dict(C=1, interp=1, crop=(0, 1, 12, 15), flip=1, jitter=1, order=[2, 0, 3, 1],
         factors=[1.2, 0.75, 1.3, 0.05], gray=0, blur=1, ksize=7, sigma=1.8, solarize=1,
         mean=[0.5, 0, 0], std=[0.25, 1, 1]),
    # bicubic downscale, hue alone, flip
    dict(C=3, interp=1, crop=(2, 1, 10, 14), flip=1, jitter=1, order=[3, 0, 1, 2],
         factors=[1, 1, 1, -0.1], gray=0, blur=0, ksize=3, sigma=1.0, solarize=0,
         mean=IMNET_MEAN, std=IMNET_STD),
]

H, W, S = 12, 16, 8


def f32(x):
    return float(np.float32(x))


def view(img_u8, c):
    x = torch.from_numpy(img_u8).permute(2, 0, 1).float() / 255.0
    top, left, ch, cw = c["crop"]
    mode = InterpolationMode.BICUBIC if c["interp"] else InterpolationMode.BILINEAR
    x = F.resized_crop(x, top, left, ch, cw, [S, S], interpolation=mode, antialias=True)
    if c["flip"]:
        x = F.hflip(x)
    if c["jitter"]:
        b, k, s, h = [f32(v) for v in c["factors"]]
        for op in c["order"]:
            if op == 0 and b != 1:
                x = F.adjust_brightness(x, b)
            elif op == 1 and k != 1:
                x = F.adjust_contrast(x, k)
            elif op == 2 and s != 1:
                x = F.adjust_saturation(x, s)
            elif op == 3 and h != 0:
                x = F.adjust_hue(x, h)
    if c["gray"] and c["C"] == 3:
        x = F.rgb_to_grayscale(x, num_output_channels=3)
    if c["blur"]:
        x = F.gaussian_blur(x, [c["ksize"], c["ksize"]], [f32(c["sigma"]), f32(c["sigma"])])
    if c["solarize"]:
        x = F.solarize(x, 0.5)
    n = c["C"]
    x = F.normalize(x, [f32(m) for m in c["mean"][:n]], [f32(s) for s in c["std"][:n]])
    return x.contiguous().numpy().astype("<f4")


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
    rng = np.random.default_rng(20240601)
    for n, c in enumerate(CASES):
        # smooth structure plus noise, so hue/contrast see real colours
        yy, xx = np.mgrid[0:H, 0:W]
        base = np.stack([xx * 255 / W, yy * 255 / H, 128 + 100 * np.sin(xx * 0.7 + yy * 0.4)], -1)
        img = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
        img = img[:, :, : c["C"]].copy()
        v = view(img, c)
        top, left, ch, cw = c["crop"]
        hdr = struct.pack("<20i", 0x47415648, H, W, c["C"], S, c["interp"], top, left, ch, cw,
                          c["flip"], c["jitter"], *c["order"], c["gray"], c["blur"], c["ksize"],
                          c["solarize"])
        fl = struct.pack("<11f", *[f32(v_) for v_ in c["factors"]], f32(c["sigma"]),
                         *[f32(m) for m in c["mean"]], *[f32(s) for s in c["std"]])
        path = os.path.join(out_dir, "augment_golden_%d.bin" % n)
        with open(path, "wb") as fh:
            fh.write(hdr + fl + img.tobytes() + v.tobytes())
        print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
