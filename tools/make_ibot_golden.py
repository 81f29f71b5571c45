#!/usr/bin/env python3
"""Golden outputs of one iBOT step with hard view selection, made once with PyTorch.

Writes tests/data/ibot_golden.safetensors in the layout of make_dino_golden.py: the initial
student and teacher weights and both centers under the official names
("student.backbone.masked_embed", "student.backbone.blocks.0.attn.qkv.weight",
"student.head.mlp.0.weight", "student.head.last_layer.weight_g" / "weight_v", the same under
"teacher." without masked_embed, "ibot_loss.center" [1, K], "ibot_loss.center2" [1, 1, K]),
the candidate views, the masks (given explicitly: "score_masks" [N*B, L] for the selection
pass, view-major as the views, and "train_masks" [2B, L] for the step, the chosen
candidates' masks), the [pairs, B] iBOT losses of the selection pass, the chosen pair per
sample, the training loss, and after one SGD step: every student parameter, every teacher
parameter (EMA over the common names) and both centers. tests/test_golden_step.c replays it.

The reference follows the official code (bytedance/ibot): VisionTransformer with
masked_im_modeling (prepare_tokens: patch conv, x[mask] = masked_embed, [cls; patches] +
pos_embed), return_all_tokens, the final LayerNorm on every token; iBOTHead with
shared_head (the ViT-S/B recipes): DINOHead's MLP and F.normalize on every token, one
weight-normalised last layer for the class token (out_dim) and the patch tokens
(patch_out_dim = out_dim); iBOTLoss with two global crops: the class term as DINO's
(teacher softmax((t - center) / temp) of view q against the student of view v != q), the
patch term per view q = v: sum over patches of H(softmax((t_p - center2) / temp2),
log_softmax(s_p / student_temp)) times the mask over max(1, masked), mean over the batch;
total lambda1 cls / 2 + lambda2 patch / 2; update_center after the loss (center from the
class rows' batch mean, center2 from the mean over patches then batch); temperatures of
epoch 0 from np.linspace over warmup_teacher_temp_epochs; the EMA over the names common to
student and teacher. The selection pass runs all N*B candidates (the student masked with
score_masks) without gradients; a pair's score is the iBOT loss of that pair per sample.
drop_path 0 (the device's drop-path masks come from Philox).

Weights are drawn wider than the official init so that attention is far from uniform and
the pair scores are well separated; the teacher is the student plus noise.

With --separate-head (the official shared_head=False, for the student and the teacher)
the patch tokens go through their own last layer "head.last_layer2.weight_g" / "weight_v"
of PATCH_OUT_DIM outputs (center2 [1, 1, PATCH_OUT_DIM]); with --local L the step also
trains on L local views of LOCAL_S pixels per image ("local_views"), through the position
embedding interpolated to their patch grid (interpolate_pos_encoding, as DINO's): as
main_ibot.py, the student's class outputs of the locals join the class term against both
teacher globals (2 (L + 1) terms), with no masks and no patch term. Both together write
tests/data/ibot_multicrop_golden.safetensors.

Usage: python3 tools/make_ibot_golden.py [--separate-head] [--local L] [OUT]
(needs torch and numpy)
"""
import math
import sys
from itertools import combinations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from make_simsiam_golden import save_safetensors
from make_dino_golden import DINOHead  # the same head sizes (HIDDEN, BOTTLENECK, OUT_DIM)
from make_vit_golden import Block  # the same tiny ViT block (DIM, HEADS, MLP_RATIO)

B, N, C, IMG, PATCH, DIM, DEPTH, HEADS, MLP_RATIO = 3, 4, 3, 32, 8, 24, 2, 3, 4
OUT_DIM, BOTTLENECK, HIDDEN = 32, 8, 16
PATCH_OUT_DIM = 24  # the separate patch head's (--separate-head)
LOCAL_S = 16        # local crops (--local): a 2 x 2 patch grid, pos_embed interpolated
STUDENT_TEMP = 0.1
TEACHER_TEMP, WARMUP_TEACHER_TEMP = 0.07, 0.05
TEACHER_PATCH_TEMP, WARMUP_TEACHER_PATCH_TEMP = 0.08, 0.06
WARMUP_EPOCHS = 2
TEACHER_MOMENTUM, CENTER_MOMENTUM = 0.9, 0.8
LAMBDA1, LAMBDA2 = 1.0, 1.0
LR, MOMENTUM, WD = 0.05, 0.9, 1e-4
GRID = IMG // PATCH
L = GRID * GRID


class PatchEmbed(nn.Module):
    def __init__(self, patch=PATCH):
        super().__init__()
        self.proj = nn.Conv2d(C, DIM, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x)  # iBOT's PatchEmbed keeps [B, D, h, w]


class VisionTransformer(nn.Module):
    def __init__(self, masked_im_modeling, img=IMG, patch=PATCH):
        super().__init__()
        grid = img // patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, DIM))
        if masked_im_modeling:
            self.masked_embed = nn.Parameter(torch.zeros(1, DIM))
        self.patch_embed = PatchEmbed(patch)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def interpolate_pos_encoding(self, npatch, w0, h0):
        """DINO's and iBOT's interpolate_pos_encoding for a w0 x h0 patch grid."""
        N = self.pos_embed.shape[1] - 1
        if npatch == N and w0 == h0:
            return self.pos_embed
        class_pos_embed = self.pos_embed[:, 0]
        patch_pos_embed = self.pos_embed[:, 1:]
        dim = self.pos_embed.shape[-1]
        w0, h0 = w0 + 0.1, h0 + 0.1  # DINO: avoids a floating point error in the floor
        patch_pos_embed = F.interpolate(
            patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
            scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)), mode="bicubic")
        assert int(w0) == patch_pos_embed.shape[-2] and int(h0) == patch_pos_embed.shape[-1]
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)

    def forward(self, x, mask=None):  # return_all_tokens
        x = self.patch_embed(x)
        w0, h0 = x.shape[-1], x.shape[-2]
        if mask is not None:  # mask_model: x.permute(0, 2, 3, 1)[mask, :] = masked_embed
            x = torch.where(mask.unsqueeze(1), self.masked_embed.view(1, DIM, 1, 1), x)
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        x = x + self.interpolate_pos_encoding(x.shape[1] - 1, w0, h0)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


def widen_vit_(backbone):
    """Weights wider than the official init: attention far from uniform."""
    for name, p in backbone.named_parameters():
        if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
            p.uniform_(0.5, 1.5)
        elif "norm" in name:
            p.uniform_(-0.2, 0.2)
        elif name in ("cls_token", "pos_embed", "masked_embed"):
            p.normal_(0, 0.5)
        elif p.dim() == 2:  # Linear weights
            p.normal_(0, 1.0 / p.shape[1] ** 0.5)
        elif name.startswith("blocks"):  # Linear biases
            p.uniform_(-0.1, 0.1)


class iBOTHead(DINOHead):
    """shared: last_layer2 is last_layer (hvp names only last_layer); else its own
    weight_norm(Linear(bottleneck, PATCH_OUT_DIM)) as the official shared_head=False."""

    def __init__(self, shared=True):
        super().__init__(DIM)
        self.shared = shared
        if not shared:
            self.last_layer2 = nn.utils.weight_norm(nn.Linear(BOTTLENECK, PATCH_OUT_DIM, bias=False))
            self.last_layer2.weight_g.data.fill_(1)

    def forward(self, x):
        x = F.normalize(self.mlp(x), dim=-1, p=2)
        last2 = self.last_layer if self.shared else self.last_layer2
        return self.last_layer(x[:, 0]), last2(x[:, 1:])

class Net(nn.Module):
    def __init__(self, masked_im_modeling, shared_head=True):
        super().__init__()
        self.backbone = VisionTransformer(masked_im_modeling)
        self.head = iBOTHead(shared_head)

    def forward(self, x, mask=None):
        return self.head(self.backbone(x, mask))


class IBOT(nn.Module):
    def __init__(self, shared_head=True):
        super().__init__()
        self.student = Net(True, shared_head)
        self.teacher = Net(False, shared_head)
        self.ibot_loss = nn.Module()
        self.ibot_loss.register_buffer("center", torch.zeros(1, OUT_DIM))
        self.ibot_loss.register_buffer("center2", torch.zeros(
            1, 1, OUT_DIM if shared_head else PATCH_OUT_DIM))


def temps():
    return (np.linspace(WARMUP_TEACHER_TEMP, TEACHER_TEMP, WARMUP_EPOCHS)[0],
            np.linspace(WARMUP_TEACHER_PATCH_TEMP, TEACHER_PATCH_TEMP, WARMUP_EPOCHS)[0])


def patch_term(sp, tp, m, center2, temp2):
    """Per sample: sum over masked patches of H(teacher, student) / max(1, masked)."""
    q = F.softmax((tp - center2) / temp2, dim=-1)
    loss = torch.sum(-q * F.log_softmax(sp / STUDENT_TEMP, dim=-1), dim=-1)
    mf = m.flatten(-2, -1).double()
    return torch.sum(loss * mf, dim=-1) / mf.sum(dim=-1).clamp(min=1.0)


def cls_term(s, t, center, temp):
    q = F.softmax((t - center) / temp, dim=-1)
    return torch.sum(-q * F.log_softmax(s / STUDENT_TEMP, dim=-1), dim=-1)


def main():
    args = sys.argv[1:]
    shared, nlocal = True, 0
    while args[:1] and args[0].startswith("--"):
        if args[0] == "--separate-head":
            shared, args = False, args[1:]
        elif args[0] == "--local":
            nlocal, args = int(args[1]), args[2:]
        else:
            sys.exit(f"unknown option {args[0]}")
    default = "ibot_golden" if shared and not nlocal else "ibot_multicrop_golden"
    out = args[0] if args else f"tests/data/{default}.safetensors"
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = IBOT(shared).double()
    with torch.no_grad():
        widen_vit_(model.student.backbone)
        model.student.head.last_layer.weight_g.uniform_(0.5, 1.5)  # norm_last_layer false
        if not shared:
            model.student.head.last_layer2.weight_g.uniform_(0.5, 1.5)
        model.teacher.load_state_dict(model.student.state_dict(), strict=False)
        for p in model.teacher.parameters():
            p.add_(0.05 * torch.randn_like(p))
            p.requires_grad_(False)
        model.ibot_loss.center.copy_(0.3 * torch.randn(1, OUT_DIM))
        model.ibot_loss.center2.copy_(0.3 * torch.randn(model.ibot_loss.center2.shape))
    student, teacher = model.student, model.teacher
    center, center2 = model.ibot_loss.center, model.ibot_loss.center2
    temp, temp2 = temps()

    tensors = {}
    for k, v in model.state_dict().items():
        tensors["init." + k] = v.numpy().astype(np.float32)
    views = torch.randn(N * B, C, IMG, IMG, dtype=torch.float64)
    tensors["views"] = views.numpy().astype(np.float32)
    # masks: about a third of the views unmasked (mask_prob), the rest random patches
    score_masks = torch.rand(N * B, GRID, GRID) < 0.4
    score_masks[torch.rand(N * B) < 0.3] = False
    score_masks[0] = False  # at least one unmasked view among the candidates
    tensors["score_masks"] = score_masks.view(N * B, L).numpy().astype(np.int32)

    model.train()
    with torch.no_grad():
        sc, sp = student(views, score_masks)
        tc, tp = teacher(views)
    sc, sp, tc, tp = (x.view(N, B, *x.shape[1:]) for x in (sc, sp, tc, tp))
    sm = score_masks.view(N, B, GRID, GRID)
    pairs = list(combinations(range(N), 2))
    rows = []
    for i, j in pairs:
        c = 0.5 * (cls_term(sc[j], tc[i], center, temp) + cls_term(sc[i], tc[j], center, temp))
        p = 0.5 * (patch_term(sp[i], tp[i], sm[i], center2, temp2) +
                   patch_term(sp[j], tp[j], sm[j], center2, temp2))
        rows.append(LAMBDA1 * c + LAMBDA2 * p)
    scores = torch.stack(rows)  # [P, B]
    chosen = torch.argmax(scores, dim=0)
    top2 = torch.topk(scores, 2, dim=0).values
    print("selection margins:", (top2[0] - top2[1]).tolist())
    tensors["scores"] = scores.numpy().astype(np.float32)
    tensors["chosen"] = chosen.numpy().astype(np.int32)

    v = views.view(N, B, C, IMG, IMG)
    sel = [[pairs[k][h] for k in chosen.tolist()] for h in range(2)]
    x12 = torch.cat([torch.stack([v[sel[h][b], b] for b in range(B)]) for h in range(2)])
    m12 = torch.cat([torch.stack([sm[sel[h][b], b] for b in range(B)]) for h in range(2)])
    tensors["train_masks"] = m12.view(2 * B, L).numpy().astype(np.int32)
    local = torch.randn(nlocal * B, C, LOCAL_S, LOCAL_S, dtype=torch.float64)
    if nlocal:
        tensors["local_views"] = local.numpy().astype(np.float32)

    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WD)
    with torch.no_grad():
        t_cls, t_patch = teacher(x12)
    s_cls, s_patch = student(x12, m12)
    if nlocal:  # main_ibot.py: student(images[2:])[0], the class outputs of the locals
        s_cls = torch.cat([s_cls, student(local)[0]])
    # iBOTLoss.forward, 2 global crops and nlocal local ones
    s_cls_c = (s_cls / STUDENT_TEMP).chunk(2 + nlocal)
    s_patch_c = (s_patch / STUDENT_TEMP).chunk(2)
    t_cls_c = F.softmax((t_cls - center) / temp, dim=-1).chunk(2)
    t_patch_c = F.softmax((t_patch - center2) / temp2, dim=-1).chunk(2)
    masks_c = m12.chunk(2)
    total1 = total2 = 0
    n1 = n2 = 0
    for q in range(2):
        for vv in range(2 + nlocal):
            if vv == q:
                l2 = torch.sum(-t_patch_c[q] * F.log_softmax(s_patch_c[vv], dim=-1), dim=-1)
                mk = masks_c[vv].flatten(-2, -1)
                l2 = torch.sum(l2 * mk.double(), dim=-1) / mk.sum(dim=-1).clamp(min=1.0)
                total2 = total2 + l2.mean()
                n2 += 1
            else:
                l1 = torch.sum(-t_cls_c[q] * F.log_softmax(s_cls_c[vv], dim=-1), dim=-1)
                total1 = total1 + l1.mean()
                n1 += 1
    loss = total1 / n1 * LAMBDA1 + total2 / n2 * LAMBDA2
    with torch.no_grad():  # update_center
        center.mul_(CENTER_MOMENTUM).add_(torch.sum(t_cls, dim=0, keepdim=True) / len(t_cls) *
                                          (1 - CENTER_MOMENTUM))
        pc = torch.sum(t_patch.mean(1), dim=0, keepdim=True) / len(t_patch)
        center2.mul_(CENTER_MOMENTUM).add_(pc * (1 - CENTER_MOMENTUM))
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():  # EMA over the common names
        tp_ = dict(teacher.named_parameters())
        for name, pq in student.named_parameters():
            if name in tp_:
                tp_[name].mul_(TEACHER_MOMENTUM).add_((1 - TEACHER_MOMENTUM) * pq.detach())
    tensors["loss"] = np.array([loss.item()], dtype=np.float32)
    for k, val in model.state_dict().items():
        tensors["after." + k] = val.numpy().astype(np.float32)

    meta = {"B": str(B), "N": str(N), "C": str(C), "S": str(IMG), "patch": str(PATCH),
            "dim": str(DIM), "depth": str(DEPTH), "heads": str(HEADS),
            "mlp_ratio": str(MLP_RATIO), "out_dim": str(OUT_DIM),
            "patch_out_dim": str(OUT_DIM if shared else PATCH_OUT_DIM),
            "shared_head": str(int(shared)), "L": str(nlocal), "local_S": str(LOCAL_S),
            "bottleneck_dim": str(BOTTLENECK),
            "hidden_dim": str(HIDDEN), "norm_last_layer": "0",
            "student_temp": str(STUDENT_TEMP), "teacher_temp": str(TEACHER_TEMP),
            "warmup_teacher_temp": str(WARMUP_TEACHER_TEMP),
            "teacher_patch_temp": str(TEACHER_PATCH_TEMP),
            "warmup_teacher_patch_temp": str(WARMUP_TEACHER_PATCH_TEMP),
            "warmup_teacher_temp_epochs": str(WARMUP_EPOCHS),
            "teacher_momentum": str(TEACHER_MOMENTUM), "center_momentum": str(CENTER_MOMENTUM),
            "lambda1": str(LAMBDA1), "lambda2": str(LAMBDA2),
            "lr": str(LR), "momentum": str(MOMENTUM), "weight_decay": str(WD),
            "torch": torch.__version__, "script": "tools/make_ibot_golden.py"}
    save_safetensors(out, tensors, meta)
    print(f"wrote {out}: loss {loss.item():.6f} (cls {(total1 / n1).item():.6f}, patch "
          f"{(total2 / n2).item():.6f}), chosen {chosen.tolist()}")


if __name__ == "__main__":
    main()
