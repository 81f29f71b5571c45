#!/usr/bin/env python3
"""The tensor names `hvp export` must write for a ResNet-18: torchvision's resnet18 with its
classifier set to nn.Identity() (what loads the export with strict=True), one per line,
sorted. Writes tests/data/resnet18_torchvision_names.txt, read by the export test.

    scripts/torch-venv /tmp/torch && /tmp/torch/bin/python tools/make_export_names.py
"""
import os

import torch
import torchvision

model = torchvision.models.resnet18()
model.fc = torch.nn.Identity()
out = os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                   "resnet18_torchvision_names.txt")
with open(out, "w") as f:
    for name in sorted(model.state_dict()):
        f.write(name + "\n")
print("wrote", out)
