#!/usr/bin/env python3
"""Golden outputs of one DINO step with hard view selection, made once with PyTorch.

Writes tests/data/dino_golden.safetensors in the layout of make_simsiam_golden.py: the
initial student and teacher weights and the center (official names: "student.backbone.*",
"student.head.mlp.0.weight", "student.head.last_layer.weight_g" / "weight_v", the same under
"teacher.", "dino_loss.center"), the candidate views, the [pairs, B] DINO losses of the
selection pass, the chosen pair per sample, the training loss, and after one step: every
student parameter (SGD), every teacher parameter (EMA) and running statistic, the center.
tests/test_golden_step.c replays it.

The reference follows the official code (facebookresearch/dino): DINOHead (Linear GELU Linear
GELU Linear, F.normalize, weight_norm(Linear(bottleneck, out_dim, bias=False))); the
student and the teacher each run the two global views in one forward (MultiCropWrapper),
the teacher in train mode; DINOLoss with two crops: teacher softmax((t - center) / temp)
against student log_softmax(s / student_temp) of the other view, averaged over the two
terms and the batch; the center updated from the teacher's batch mean after the loss; the
teacher temperature of epoch 0 from np.linspace(warmup_teacher_temp, teacher_temp,
warmup_teacher_temp_epochs); the EMA over student.parameters() / teacher.parameters() with
momentum m after the optimizer step. A pair's selection score is the DINO loss of the pair
per sample, 1/2 (H(t_i, s_j) + H(t_j, s_i)), student and teacher on all N*B candidates in
one train-mode forward without gradients (running statistics left as they were).

The teacher starts as the student plus noise (so that a teacher confused with the student
shows), norm_last_layer is false (weight_g is trained), and the head's weights are drawn
wider than DINO's init so that the pair scores are well separated.

With --local L (tests/data/dino_multicrop_golden.safetensors) the step also trains on L
local views of LOCAL_S pixels per image ("local_views", [L*B, C, LOCAL_S, LOCAL_S]): the
student runs them in a second forward (MultiCropWrapper: one forward per resolution) and
DINOLoss has 2 + L crops, 2 (L + 1) terms; the teacher and the selection see globals only.

With --local L --candidates M (tests/data/dino_local_select_golden.safetensors) the step
is the paper's DINO hard view selection (its reference code, automl/hvp branch dino,
MinSim / hvs): the candidate pairs are (even, odd) slots only, itertools.product(range(0,
N, 2), range(1, N, 2)); M local candidates per image ("local_candidates", [M*B, C, LOCAL_S,
LOCAL_S]) go through the student in a second forward; every combination of a pair and L of
the M locals, itertools.product(pairs, combinations(range(M), L)), is scored with the
reference's select_forward (the multi-crop DINO loss per sample, summed over its 2 + 2L
terms) and the first maximum kept; the step trains on that pair and those locals. Besides
"scores" (the pairs' two-view losses) it stores "local_scores" [P, M, B], 1/2 (H(P_i, s_l)
+ H(P_j, s_l)) of local l against pair (i, j) (hvp's score_pairs_locals; the script checks
that the pair's score plus its locals', over 1 + L, times 2 + 2L, is select_forward's sum),
and "chosen_locals" [L, B] (ascending per image).

Usage: python3 tools/make_dino_golden.py [--local L [--candidates M]] [OUT]
(needs torch and numpy)
"""
import sys
from itertools import combinations, product

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_simsiam_golden import B, C, N, S, WIDTH, ResNet18Cifar, save_safetensors

OUT_DIM, BOTTLENECK, HIDDEN = 32, 8, 16
STUDENT_TEMP, TEACHER_TEMP, WARMUP_TEACHER_TEMP, WARMUP_EPOCHS = 0.1, 0.07, 0.05, 2
TEACHER_MOMENTUM, CENTER_MOMENTUM = 0.9, 0.8
LR, MOMENTUM, WD = 0.05, 0.9, 1e-4
LOCAL_S = 8


class DINOHead(nn.Module):
    def __init__(self, in_dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN),
                                 nn.GELU(), nn.Linear(HIDDEN, BOTTLENECK))
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.5)
                nn.init.uniform_(m.bias, -0.1, 0.1)
        self.last_layer = nn.utils.weight_norm(nn.Linear(BOTTLENECK, OUT_DIM, bias=False))
        self.last_layer.weight_g.data.fill_(1)  # norm_last_layer false: weight_g is trained

    def forward(self, x):
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        return self.last_layer(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = ResNet18Cifar(WIDTH, C)
        self.head = DINOHead(self.backbone.feature_dim)

    def forward(self, x):
        return self.head(self.backbone(x))


class DINO(nn.Module):
    def __init__(self):
        super().__init__()
        self.student = Net()
        self.teacher = Net()
        self.dino_loss = nn.Module()
        self.dino_loss.register_buffer("center", torch.zeros(1, OUT_DIM))


def teacher_temp():
    return np.linspace(WARMUP_TEACHER_TEMP, TEACHER_TEMP, WARMUP_EPOCHS)[0]


def pair_loss(s, t, center):
    """Per sample: 1/2 (H(t0, s1) + H(t1, s0)) of two views' outputs."""
    q = [F.softmax((ti - center) / teacher_temp(), dim=-1) for ti in t]
    ls = [F.log_softmax(si / STUDENT_TEMP, dim=-1) for si in s]
    return 0.5 * (torch.sum(-q[0] * ls[1], dim=-1) + torch.sum(-q[1] * ls[0], dim=-1))


def train_step(model, x12, local, nlocal):
    """One step on the chosen pair (and local views): DINOLoss over 2 + nlocal crops, SGD,
    the center, the teacher's EMA; returns the loss."""
    student, teacher, center = model.student, model.teacher, model.dino_loss.center
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WD)
    with torch.no_grad():
        t = teacher(x12)
    s = student(x12)
    if nlocal:  # MultiCropWrapper: one forward per resolution
        s = torch.cat([s, student(local)])
    # DINOLoss.forward with ncrops = 2 + nlocal
    temp = teacher_temp()
    q = F.softmax((t - center) / temp, dim=-1).chunk(2)
    so = (s / STUDENT_TEMP).chunk(2 + nlocal)
    total, terms = 0, 0
    for iq, qq in enumerate(q):
        for vv in range(len(so)):
            if vv == iq:
                continue
            total = total + torch.sum(-qq * F.log_softmax(so[vv], dim=-1), dim=-1).mean()
            terms += 1
    loss = total / terms
    with torch.no_grad():  # update_center
        batch_center = torch.sum(t, dim=0, keepdim=True) / len(t)
        center.mul_(CENTER_MOMENTUM).add_(batch_center * (1 - CENTER_MOMENTUM))
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():  # EMA of the teacher, momentum_schedule[0] = TEACHER_MOMENTUM
        for pq, pk in zip(student.parameters(), teacher.parameters()):
            pk.mul_(TEACHER_MOMENTUM).add_((1 - TEACHER_MOMENTUM) * pq.detach())
    return loss.item()


def metadata(nlocal):
    return {"B": str(B), "N": str(N), "C": str(C), "S": str(S), "width": str(WIDTH),
            "out_dim": str(OUT_DIM), "bottleneck_dim": str(BOTTLENECK), "hidden_dim": str(HIDDEN),
            "norm_last_layer": "0", "student_temp": str(STUDENT_TEMP),
            "teacher_temp": str(TEACHER_TEMP), "warmup_teacher_temp": str(WARMUP_TEACHER_TEMP),
            "warmup_teacher_temp_epochs": str(WARMUP_EPOCHS),
            "teacher_momentum": str(TEACHER_MOMENTUM), "center_momentum": str(CENTER_MOMENTUM),
            "L": str(nlocal), "local_S": str(LOCAL_S), "lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "torch": torch.__version__, "script": "tools/make_dino_golden.py"}


def main():
    args = sys.argv[1:]
    nlocal = ncand = 0
    if args[:1] == ["--local"]:
        nlocal, args = int(args[1]), args[2:]
    if args[:1] == ["--candidates"]:
        ncand, args = int(args[1]), args[2:]
    if ncand:
        return main_local_select(nlocal, ncand, args)
    default = "dino_multicrop_golden" if nlocal else "dino_golden"
    out = args[0] if args else f"tests/data/{default}.safetensors"
    model = make_model()
    student, teacher, center = model.student, model.teacher, model.dino_loss.center

    out_tensors = {}
    for k, v in model.state_dict().items():
        out_tensors["init." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    views = torch.randn(N * B, C, S, S, dtype=torch.float64)
    out_tensors["views"] = views.numpy().astype(np.float32)
    local = torch.randn(nlocal * B, C, LOCAL_S, LOCAL_S, dtype=torch.float64)
    if nlocal:
        out_tensors["local_views"] = local.numpy().astype(np.float32)

    # Selection: train mode, no gradients, running statistics left as they were.
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        s_all = student(views).view(N, B, -1)
        t_all = teacher(views).view(N, B, -1)
    model.load_state_dict(saved)
    pairs = list(combinations(range(N), 2))
    scores = torch.stack([pair_loss((s_all[i], s_all[j]), (t_all[i], t_all[j]), center)
                          for i, j in pairs])  # [P, B]
    chosen = torch.argmax(scores, dim=0)  # first maximum: the lowest pair index
    top2 = torch.topk(scores, 2, dim=0).values
    print("selection margins:", (top2[0] - top2[1]).tolist())
    out_tensors["scores"] = scores.numpy().astype(np.float32)
    out_tensors["chosen"] = chosen.numpy().astype(np.int32)

    v = views.view(N, B, C, S, S)
    x1 = torch.stack([v[pairs[k][0], b] for b, k in enumerate(chosen.tolist())])
    x2 = torch.stack([v[pairs[k][1], b] for b, k in enumerate(chosen.tolist())])
    x12 = torch.cat([x1, x2])

    loss = train_step(model, x12, local, nlocal)
    out_tensors["loss"] = np.array([loss], dtype=np.float32)
    for k, val in model.state_dict().items():
        out_tensors["after." + k] = val.numpy().astype(np.int64 if "num_batches" in k else np.float32)

    meta = metadata(nlocal)
    save_safetensors(out, out_tensors, meta)
    print(f"wrote {out}: loss {loss:.6f}, chosen {chosen.tolist()}")


def make_model():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = DINO().double()  # double: the golden values carry no float32 rounding
    with torch.no_grad():
        for m in model.student.modules():  # non-trivial BN affine parameters
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.student.head.last_layer.weight_g.uniform_(0.5, 1.5)
        model.teacher.load_state_dict(model.student.state_dict())
        for p in model.teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
            p.requires_grad_(False)
        model.dino_loss.center.copy_(0.3 * torch.randn(1, OUT_DIM))
    return model


def select_forward(student_out, teacher_out):
    """The reference's DINOLoss.select_forward: per sample, the sum over its terms."""
    total = torch.zeros(student_out[0].size(0), dtype=student_out[0].dtype)
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            total += torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
    return total


def main_local_select(nlocal, ncand, args):
    out = args[0] if args else "tests/data/dino_local_select_golden.safetensors"
    model = make_model()
    student, teacher, center = model.student, model.teacher, model.dino_loss.center
    out_tensors = {}
    for k, v in model.state_dict().items():
        out_tensors["init." + k] = v.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    views = torch.randn(N * B, C, S, S, dtype=torch.float64)
    cands = torch.randn(ncand * B, C, LOCAL_S, LOCAL_S, dtype=torch.float64)
    out_tensors["views"] = views.numpy().astype(np.float32)
    out_tensors["local_candidates"] = cands.numpy().astype(np.float32)

    # Selection (hvs): train mode, no gradients, running statistics left as they were; the
    # student on the globals and on the locals (one forward per resolution).
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    with torch.no_grad():
        s_glob = student(views).view(N, B, -1)
        s_loc = student(cands).view(ncand, B, -1)
        t_all = teacher(views).view(N, B, -1)
    model.load_state_dict(saved)
    pairs = list(product(range(0, N, 2), range(1, N, 2)))
    temp = teacher_temp()
    q = [F.softmax((t_all[v] - center) / temp, dim=-1) for v in range(N)]
    so_glob = [s_glob[v] / STUDENT_TEMP for v in range(N)]
    so_loc = [s_loc[l] / STUDENT_TEMP for l in range(ncand)]
    scores = torch.stack([pair_loss((s_glob[i], s_glob[j]), (t_all[i], t_all[j]), center)
                          for i, j in pairs])  # [P, B]

    def h(qq, so):
        return torch.sum(-qq * F.log_softmax(so, dim=-1), dim=-1)

    local_scores = torch.stack([torch.stack([0.5 * (h(q[i], so_loc[l]) + h(q[j], so_loc[l]))
                                             for l in range(ncand)]) for i, j in pairs])
    # The reference's loop: every (pair, locals) combination, the first maximum kept.
    combos = list(product(range(len(pairs)), combinations(range(ncand), nlocal)))
    sums = torch.stack([select_forward([so_glob[pairs[k][0]], so_glob[pairs[k][1]]] +
                                       [so_loc[l] for l in ls],
                                       [q[pairs[k][0]], q[pairs[k][1]]]) for k, ls in combos])
    mean = torch.stack([(scores[k] + sum(local_scores[k, l] for l in ls)) / (1 + nlocal)
                        for k, ls in combos])
    assert torch.allclose(sums, mean * (2 + 2 * nlocal), rtol=1e-12, atol=1e-12)
    best = torch.argmax(sums, dim=0)  # first maximum, as the reference's running max
    top2 = torch.topk(sums, 2, dim=0).values
    print("selection margins:", (top2[0] - top2[1]).tolist())
    chosen = torch.tensor([combos[k][0] for k in best.tolist()])
    chosen_locals = torch.tensor([list(combos[k][1]) for k in best.tolist()]).T  # [L, B]
    out_tensors["scores"] = scores.numpy().astype(np.float32)
    out_tensors["local_scores"] = local_scores.numpy().astype(np.float32)
    out_tensors["chosen"] = chosen.numpy().astype(np.int32)
    out_tensors["chosen_locals"] = chosen_locals.numpy().astype(np.int32)

    v = views.view(N, B, C, S, S)
    lc = cands.view(ncand, B, C, LOCAL_S, LOCAL_S)
    x12 = torch.cat([torch.stack([v[pairs[k][0], b] for b, k in enumerate(chosen.tolist())]),
                     torch.stack([v[pairs[k][1], b] for b, k in enumerate(chosen.tolist())])])
    local = torch.cat([torch.stack([lc[chosen_locals[j, b], b] for b in range(B)])
                       for j in range(nlocal)])
    loss = train_step(model, x12, local, nlocal)
    out_tensors["loss"] = np.array([loss], dtype=np.float32)
    for k, val in model.state_dict().items():
        out_tensors["after." + k] = val.numpy().astype(np.int64 if "num_batches" in k else np.float32)
    meta = metadata(nlocal)
    meta.update({"M": str(ncand), "asymmetric": "1"})
    save_safetensors(out, out_tensors, meta)
    print(f"wrote {out}: loss {loss:.6f}, chosen {chosen.tolist()}, "
          f"locals {chosen_locals.T.tolist()}")


if __name__ == "__main__":
    main()
