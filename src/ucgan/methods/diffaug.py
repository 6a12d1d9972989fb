"""Differentiable augmentation (colour, translation, cutout) for SLOGAN's SimCLR loss on fakes.

Written after the description of DiffAugment (Zhao et al. 2020) that SLOGAN appendix D.4 uses:
random brightness / saturation / contrast, translation by up to 1/8 of the size with zero padding,
and cutout of a square of half the size. Every op is a differentiable tensor expression, so the
augmented batch keeps its graph to the generator if needed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def color(x: torch.Tensor) -> torch.Tensor:
    b = x.shape[0]
    x = x + (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    if x.shape[1] > 1:
        m = x.mean(dim=1, keepdim=True)
        x = (x - m) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + m
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - m) * (torch.rand(b, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + m


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (b,), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b,), device=x.device)
    pad = F.pad(x, (sw, sw, sh, sh))
    rows = (torch.arange(h, device=x.device).view(1, h) + sh - tx.view(b, 1)).clamp(0, h + 2 * sh - 1)
    cols = (torch.arange(w, device=x.device).view(1, w) + sw - ty.view(b, 1)).clamp(0, w + 2 * sw - 1)
    idx_b = torch.arange(b, device=x.device).view(b, 1, 1)
    out = pad.permute(0, 2, 3, 1)[idx_b, rows.view(b, h, 1), cols.view(b, 1, w)]
    return out.permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + 1 - ch % 2, (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + 1 - cw % 2, (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((ys - cy).abs() < ch // 2 + 1) & ((xs - cx).abs() < cw // 2 + 1)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    ops = {"color": color, "translation": translation, "cutout": cutout}
    for name in filter(None, (p.strip() for p in policy.split(","))):
        x = ops[name](x)
    return x
