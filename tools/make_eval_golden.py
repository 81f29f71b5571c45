#!/usr/bin/env python3
"""Golden outputs of one step of the supervised evaluations, made once with PyTorch in double.

Writes tests/data/eval_golden.safetensors for tests/test_supervised.c:
- images (uint8 [B, S, S, 3]) and, per image, a RandomCrop(S, padding=S/8) box (top, left
  from -S/8 to S/8) and a flip; "views" are torchvision's pad + crop + hflip + normalize of
  them (the CIFAR variant of the evaluations' training views);
- a ResNet-18 (CIFAR stem, width 1/16) "init.*" with non-trivial BN statistics, a linear
  head "head_init.*", labels;
- linear probe step (backbone frozen in eval mode, as SimSiam's main_lincls / DINO's
  eval_linear): "linear.features", "linear.loss", the head after SGD (momentum 0.9, weight
  decay on the weight only) "linear.after.head.*";
- fine-tuning step (the whole network in train mode, cross-entropy with label smoothing,
  SGD momentum 0.9, weight decay on conv / linear weights only): "finetune.loss" and every
  parameter and buffer after it, "finetune.after.*".

Usage: /tmp/torch2/bin/python tools/make_eval_golden.py [OUT]   (needs torch, torchvision)
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms.functional as TF

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_simsiam_golden import ResNet18Cifar, save_safetensors  # noqa: E402

B, S, K = 6, 16, 5            # images, pixels, classes
PAD = S // 8
WIDTH = 1 / 16
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
LIN_LR, LIN_WD = 0.3, 1e-3
FT_LR, FT_WD, SMOOTH = 0.05, 5e-4, 0.1


def sgd(named, lr, wd):
    decay = [p for n, p in named if p.ndim > 1]
    no_decay = [p for n, p in named if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": wd},
                            {"params": no_decay, "weight_decay": 0.0}], lr=lr, momentum=0.9)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/eval_golden.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (B, S, S, 3), generator=g, dtype=torch.uint8)
    tops = torch.randint(-PAD, PAD + 1, (B,), generator=g)
    lefts = torch.randint(-PAD, PAD + 1, (B,), generator=g)
    flips = torch.randint(0, 2, (B,), generator=g)
    labels = torch.randint(0, K, (B,), generator=g)
    views = []
    for i in range(B):
        img = images[i].permute(2, 0, 1)                    # CHW uint8
        img = TF.pad(img, [PAD, PAD, PAD, PAD], fill=0)     # RandomCrop(S, padding=PAD)
        img = TF.crop(img, int(tops[i]) + PAD, int(lefts[i]) + PAD, S, S)
        if flips[i]:
            img = TF.hflip(img)
        x = img.double() / 255.0
        views.append(TF.normalize(x, MEAN, STD))
    views = torch.stack(views)

    net = ResNet18Cifar(WIDTH, 3).double()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    head = nn.Linear(net.feature_dim, K).double()
    with torch.no_grad():
        head.weight.normal_(0, 0.1)
        head.bias.uniform_(-0.1, 0.1)
    t = {}
    f32 = lambda v: v.detach().numpy().astype(np.float32)  # noqa: E731
    for k, v in net.state_dict().items():
        t["init." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    t["head_init.weight"], t["head_init.bias"] = f32(head.weight), f32(head.bias)
    t["images"] = images.numpy().astype(np.int32)  # uint8 values
    t["crop_top"] = tops.numpy().astype(np.int32)
    t["crop_left"] = lefts.numpy().astype(np.int32)
    t["flip"] = flips.numpy().astype(np.int32)
    t["labels"] = labels.numpy().astype(np.int32)
    t["views"] = f32(views)

    # The linear probe: frozen backbone in eval mode, the head alone learns.
    init_state = {k: v.clone() for k, v in net.state_dict().items()}
    head_init = {k: v.clone() for k, v in head.state_dict().items()}
    net.eval()
    with torch.no_grad():
        feats = net(views)
    opt = sgd(list(head.named_parameters()), LIN_LR, LIN_WD)
    loss = F.cross_entropy(head(feats), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    t["linear.features"] = f32(feats)
    t["linear.loss"] = np.array([loss.item()], dtype=np.float32)
    t["linear.after.head.weight"], t["linear.after.head.bias"] = f32(head.weight), f32(head.bias)

    # Fine-tuning: the whole network in train mode, label smoothing.
    net.load_state_dict(init_state)
    head.load_state_dict(head_init)
    net.train()
    named = list(net.named_parameters()) + [("head." + n, p) for n, p in head.named_parameters()]
    opt = sgd(named, FT_LR, FT_WD)
    loss = F.cross_entropy(head(net(views)), labels, label_smoothing=SMOOTH)
    opt.zero_grad()
    loss.backward()
    opt.step()
    t["finetune.loss"] = np.array([loss.item()], dtype=np.float32)
    for k, v in net.state_dict().items():
        t["finetune.after." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    t["finetune.after.head.weight"] = f32(head.weight)
    t["finetune.after.head.bias"] = f32(head.bias)

    meta = {"B": str(B), "S": str(S), "K": str(K), "C": "3", "width": str(WIDTH),
            "mean": ",".join(map(str, MEAN)), "std": ",".join(map(str, STD)),
            "linear_lr": str(LIN_LR), "linear_weight_decay": str(LIN_WD),
            "finetune_lr": str(FT_LR), "finetune_weight_decay": str(FT_WD),
            "label_smoothing": str(SMOOTH),
            "torch": torch.__version__, "script": "tools/make_eval_golden.py"}
    save_safetensors(out, t, meta)
    print(f"wrote {out}: linear loss {t['linear.loss'][0]:.6f}, "
          f"fine-tuning loss {t['finetune.loss'][0]:.6f}")


if __name__ == "__main__":
    main()
