#!/usr/bin/env python3
"""Golden data for the evaluation pipeline's resize: torchvision's Resize((S, S), BICUBIC) on uint8 video
tensors as the ViCLIP training/eval code ran it (torchvision < 0.17: no antialias), i.e.
uint8 -> float32 -> F.interpolate(bicubic, align_corners=False, antialias=False) -> clamp(0, 255) -> round
-> uint8. Written with torch alone (same arithmetic as torchvision's tensor path).

  python3 tools/gen_bicubic_golden.py tests/fixtures/bicubic/cases.safetensors
"""
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

CASES = [(90, 160, 112), (75, 101, 112), (120, 120, 112), (360, 640, 224), (50, 30, 112), (224, 224, 224)]


def resize(img_hwc, s):
    x = img_hwc.permute(2, 0, 1)[None].to(torch.float32)
    y = F.interpolate(x, size=(s, s), mode="bicubic", align_corners=False, antialias=False)
    y = y.clamp(0, 255).round().to(torch.uint8)
    return y[0].permute(1, 2, 0).contiguous()


def main(out):
    g = torch.Generator().manual_seed(7)
    tensors = {}
    for i, (h, w, s) in enumerate(CASES):
        # Smooth content plus noise: the interpolation is exercised on edges and on gradients.
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        base = torch.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) * 7) % 256], -1)
        noise = torch.randint(-40, 41, (h, w, 3), generator=g)
        img = (base + noise).clamp(0, 255).to(torch.uint8)
        tensors[f"src{i}"] = img
        tensors[f"out{i}"] = resize(img, s)
    save_file(tensors, out, metadata={"torch": torch.__version__, "cases": str(CASES)})


if __name__ == "__main__":
    main(sys.argv[1])
