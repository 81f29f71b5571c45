#!/usr/bin/env python3
"""Golden outputs of one BYOL step with hard view selection, made once with PyTorch.

Writes tests/data/byol_golden.safetensors in the layout of make_simsiam_golden.py: the
initial weights under solo-learn's names ("backbone.conv1.weight", "projector.0.weight",
"predictor.3.bias", "momentum_backbone.*", "momentum_projector.*"), the candidate views,
the [pairs, B] BYOL losses of the selection pass, the chosen pair per sample, the training
loss, and after one step: every online parameter (LARS), every momentum parameter (EMA)
and running statistic. tests/test_golden_step.c replays it.

The reference follows solo-learn (solo/methods/byol.py, solo/methods/base.py
BaseMomentumMethod, solo/losses/byol.py, solo/utils/momentum.py, solo/utils/lars.py):
projector and predictor Linear-BN-ReLU-Linear; one forward per view through the online
backbone, projector and predictor, and without gradients through the momentum backbone
and projector, both networks in train mode (batch statistics per view, running
statistics moving); loss byol(p1, zm2) + byol(p2, zm1), byol(p, z) = 2 - 2 cos(p, z).mean();
solo-learn's LARS (eta, clip_lr, exclude_bias_n_norm: 1-d parameters get neither the trust
ratio nor weight decay); then the EMA over the parameters of (backbone, momentum_backbone)
and (projector, momentum_projector) with tau of update_tau at cur_step EMA_STEP of
MAX_STEPS, from base_tau to final_tau. A pair's selection score is its loss per sample,
both networks on all N*B candidates in one train-mode forward without gradients (running
statistics left as they were).

The momentum network starts as the online one plus noise (so that a momentum network
confused with the online one shows), and the BN affine parameters are drawn away from 1, 0.

Usage: python3 tools/make_byol_golden.py [OUT]   (needs torch and numpy)
"""
import math
import sys
from itertools import combinations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_simsiam_golden import B, C, N, S, WIDTH, ResNet18Cifar, save_safetensors

PROJ_HIDDEN, PROJ, PRED_HIDDEN = 16, 8, 12
BASE_TAU, FINAL_TAU = 0.9, 0.99
EMA_STEP, STEPS_PER_EPOCH, MAX_STEPS = 37, 10, 100  # the EMA after step 37 of 100
LR, MOMENTUM, WD, ETA = 0.01, 0.9, 1e-3, 0.02      # LARS with clip_lr, exclude_bias_n_norm
LARS_EPS = 1e-8


def mlp(d_in, hidden, d_out):
    return nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, d_out))


class BYOL(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ResNet18Cifar(WIDTH, C)
        d = self.backbone.feature_dim
        self.momentum_backbone = ResNet18Cifar(WIDTH, C)
        self.projector = mlp(d, PROJ_HIDDEN, PROJ)
        self.momentum_projector = mlp(d, PROJ_HIDDEN, PROJ)
        self.predictor = mlp(PROJ, PRED_HIDDEN, PROJ)

    def online(self, x):
        z = self.projector(self.backbone(x))
        return z, self.predictor(z)

    @torch.no_grad()
    def momentum(self, x):
        return self.momentum_projector(self.momentum_backbone(x))

    def momentum_pairs(self):
        return [(self.backbone, self.momentum_backbone), (self.projector, self.momentum_projector)]


def byol_loss_func(p, z):
    return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1).mean()


def pair_losses(p, zm, i, j):
    """Per sample: byol(p_i, zm_j) + byol(p_j, zm_i) before the batch mean."""
    return (2 - 2 * F.cosine_similarity(p[i], zm[j], dim=-1)) + \
           (2 - 2 * F.cosine_similarity(p[j], zm[i], dim=-1))


def lars_step(params):
    """solo-learn's LARS.step with one param group, momentum buffers fresh (first step)."""
    ratios = []
    with torch.no_grad():
        for p in params:
            d_p = p.grad
            p_norm, g_norm = torch.norm(p), torch.norm(p.grad)
            if p.ndim != 1:  # exclude_bias_n_norm
                if p_norm != 0 and g_norm != 0:
                    lars_lr = p_norm / (g_norm + p_norm * WD + LARS_EPS) * ETA
                    ratios.append((lars_lr / LR).item())  # some above 1: clipped
                    lars_lr = min(lars_lr / LR, 1)  # clip_lr
                    d_p = d_p.add(p, alpha=WD) * lars_lr
            buf = torch.clone(d_p)  # the first momentum_buffer
            p.add_(buf, alpha=-LR)
    return ratios


def update_tau(cur_step, max_steps):
    """MomentumUpdater.update_tau."""
    return FINAL_TAU - (FINAL_TAU - BASE_TAU) * (math.cos(math.pi * cur_step / max_steps) + 1) / 2


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/byol_golden.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = BYOL().double()  # double: the golden values carry no float32 rounding
    with torch.no_grad():
        for m in [model.backbone, model.projector, model.predictor]:
            for mod in m.modules():
                if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
        for online, mom in model.momentum_pairs():
            for po, pm in zip(online.parameters(), mom.parameters()):
                pm.copy_(po + 0.05 * torch.randn_like(po))
                pm.requires_grad_(False)

    out_tensors = {}
    for k, v in model.state_dict().items():
        out_tensors["init." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    views = torch.randn(N * B, C, S, S, dtype=torch.float64)
    out_tensors["views"] = views.numpy().astype(np.float32)

    # Selection: train mode, no gradients, running statistics left as they were.
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        zm_all = model.momentum(views).view(N, B, -1)
        _, p_all = model.online(views)
        p_all = p_all.view(N, B, -1)
    model.load_state_dict(saved)
    pairs = list(combinations(range(N), 2))
    scores = torch.stack([pair_losses(p_all, zm_all, i, j) for i, j in pairs])  # [P, B]
    chosen = torch.argmax(scores, dim=0)  # first maximum: the lowest pair index
    top2 = torch.topk(scores, 2, dim=0).values
    print("selection margins:", (top2[0] - top2[1]).tolist())
    out_tensors["scores"] = scores.numpy().astype(np.float32)
    out_tensors["chosen"] = chosen.numpy().astype(np.int32)

    v = views.view(N, B, C, S, S)
    x1 = torch.stack([v[pairs[k][0], b] for b, k in enumerate(chosen.tolist())])
    x2 = torch.stack([v[pairs[k][1], b] for b, k in enumerate(chosen.tolist())])

    # The training step, as BYOL.training_step: one forward per view in each network.
    params = [q for n, q in model.named_parameters() if q.requires_grad]
    z1, p1 = model.online(x1)
    z2, p2 = model.online(x2)
    zm1, zm2 = model.momentum(x1), model.momentum(x2)
    loss = byol_loss_func(p1, zm2) + byol_loss_func(p2, zm1)
    for q in params:
        q.grad = None
    loss.backward()
    ratios = lars_step(params)
    print("LARS trust ratios / lr (clipped at 1):", sorted(round(r, 3) for r in ratios))
    tau = update_tau(EMA_STEP, MAX_STEPS)
    with torch.no_grad():  # MomentumUpdater.update
        for online, mom in model.momentum_pairs():
            for op, mp in zip(online.parameters(), mom.parameters()):
                mp.data = tau * mp.data + (1 - tau) * op.data
    out_tensors["loss"] = np.array([loss.item()], dtype=np.float32)
    for k, val in model.state_dict().items():
        out_tensors["after." + k] = val.numpy().astype(np.int64 if "num_batches" in k else np.float32)

    meta = {"B": str(B), "N": str(N), "C": str(C), "S": str(S), "width": str(WIDTH),
            "proj_hidden_dim": str(PROJ_HIDDEN), "proj_dim": str(PROJ),
            "pred_hidden_dim": str(PRED_HIDDEN), "base_tau": str(BASE_TAU),
            "final_tau": str(FINAL_TAU), "ema_step": str(EMA_STEP),
            "steps_per_epoch": str(STEPS_PER_EPOCH), "max_steps": str(MAX_STEPS),
            "optim": "lars", "lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "lars_eta": str(ETA), "lars_clip_lr": "1", "lars_exclude_bias_n_norm": "1",
            "torch": torch.__version__, "script": "tools/make_byol_golden.py"}
    save_safetensors(out, out_tensors, meta)
    print(f"wrote {out}: loss {loss.item():.6f}, tau {tau:.6f}, chosen {chosen.tolist()}")


if __name__ == "__main__":
    main()
