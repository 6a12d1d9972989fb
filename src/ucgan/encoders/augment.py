"""SimCLR views: normalisation and per-modality augmentations.

Images. The reference pipeline is lightly's ``SimCLRTransform`` (random resized crop, horizontal
flip, optional rotation, colour jitter, random grayscale, blur off for small images), available as
``augment.backend: lightly``. It works on one PIL image at a time (~0.2 ms per view on these
2-core machines), which is as slow as the small CNN's own forward/backward pass for 28 px digits.
``augment.backend: batched`` (default) draws the *same distributions with the same parameters* per
sample, but applies them to the whole batch at once: crop, flip and rotation are folded into one
affine sampling grid (``grid_sample``), jitter is elementwise. torchvision's v2 transforms cannot
be used for this: on a batched tensor they draw one set of random parameters for the whole batch.
Differences to torchvision (documented, deliberate): the jitter order is fixed (brightness, contrast,
saturation, hue) instead of random, hue is rotated in YIQ instead of HSV, and rotation shares the
crop's bilinear resampling (one interpolation instead of two).

Vectors / 2-D points: Gaussian noise (in units of each feature's std) and random feature masking,
both in the standardised space.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import AugmentConfig

_LUMA = (0.299, 0.587, 0.114)


class Normalizer(nn.Module):
    """Data range -> model input: ``((x - lo) / span - mean) / std``.

    Images are first mapped to [0, 1] (the space the photometric augmentations assume), then
    standardised per channel; vectors/points are standardised per feature (``lo=0, span=1``).
    All statistics come from the training split and are stored with the encoder, so
    ``load_encoder`` applies exactly the training normalisation.
    """

    def __init__(self, lo: torch.Tensor, span: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("lo", lo.float())
        self.register_buffer("span", span.float())
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    @classmethod
    def fit(cls, x: np.ndarray, modality: str, value_range: Sequence[float] | None) -> "Normalizer":
        """Statistics from the training data ``x`` (N, *shape)."""
        xt = torch.as_tensor(x, dtype=torch.float32)
        if modality == "image":
            c = xt.shape[1]
            if value_range is None:
                lo_v, hi_v = float(xt.min()), float(xt.max())
            else:
                lo_v, hi_v = float(value_range[0]), float(value_range[1])
            span_v = (hi_v - lo_v) or 1.0
            x01 = (xt - lo_v) / span_v
            mean = x01.transpose(0, 1).reshape(c, -1).mean(1).view(1, c, 1, 1)
            std = x01.transpose(0, 1).reshape(c, -1).std(1).clamp_min(1e-3).view(1, c, 1, 1)
            return cls(torch.tensor(lo_v), torch.tensor(span_v), mean, std)
        mean = xt.mean(0, keepdim=True)
        std = xt.std(0, keepdim=True).clamp_min(1e-6)
        return cls(torch.tensor(0.0), torch.tensor(1.0), mean, std)

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.lo) / self.span

    def standardize(self, x_unit: torch.Tensor) -> torch.Tensor:
        return (x_unit - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.standardize(self.to_unit(x))


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _bernoulli(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


class BatchedImageViews:
    """One SimCLR view per image of a batch in [0, 1], per-sample random parameters (see module doc)."""

    def __init__(self, cfg: AugmentConfig, channels: int, normalizer: Normalizer) -> None:
        self.cfg = cfg
        self.channels = channels
        self.normalizer = normalizer

    def _affine(self, n: int, g: torch.Generator) -> torch.Tensor:
        cfg = self.cfg
        # torchvision's RandomResizedCrop: up to 10 draws of (area, aspect), the first crop that fits
        # the image wins, otherwise the whole image (our square-ish inputs are within the ratio range)
        tries = 10
        area = _uniform(n * tries, float(cfg.min_scale), 1.0, g).view(n, tries)
        ratio = torch.exp(_uniform(n * tries, math.log(3 / 4), math.log(4 / 3), g)).view(n, tries)
        w_all, h_all = torch.sqrt(area * ratio), torch.sqrt(area / ratio)   # fractions of the image side
        fits = (w_all <= 1) & (h_all <= 1)
        first = fits.float().argmax(1, keepdim=True)
        any_fit = fits.any(1)
        w = torch.where(any_fit, w_all.gather(1, first).squeeze(1), torch.ones(n))
        h = torch.where(any_fit, h_all.gather(1, first).squeeze(1), torch.ones(n))
        cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - w)
        cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - h)
        flip = torch.where(_bernoulli(n, float(cfg.hflip_prob), g), -1.0, 1.0)
        deg = float(cfg.rotation_degrees)
        angle = torch.zeros(n)
        if deg > 0:
            angle = _uniform(n, -deg, deg, g) * _bernoulli(n, cfg.rotation_prob, g).float()
        t = torch.deg2rad(angle)
        cos, sin = torch.cos(t), torch.sin(t)
        # output coords p -> rotate back by the view's angle -> flip -> crop box in input coords
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = w * flip * cos
        theta[:, 0, 1] = w * flip * sin
        theta[:, 1, 0] = -h * sin
        theta[:, 1, 1] = h * cos
        theta[:, 0, 2] = cx
        theta[:, 1, 2] = cy
        return theta

    def _jitter(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        cfg = self.cfg
        n, dev = x.shape[0], x.device
        s = cfg.cj_strength
        on = _bernoulli(n, cfg.cj_prob, g).to(dev).view(n, 1, 1, 1)
        b = _uniform(n, max(0.0, 1 - 0.8 * s), 1 + 0.8 * s, g).to(dev).view(n, 1, 1, 1)
        c = _uniform(n, max(0.0, 1 - 0.8 * s), 1 + 0.8 * s, g).to(dev).view(n, 1, 1, 1)
        y = (x * b).clamp(0, 1)
        m = self._gray(y).mean(dim=(1, 2, 3), keepdim=True)
        y = ((y - m) * c + m).clamp(0, 1)
        if self.channels == 3:
            sat = _uniform(n, max(0.0, 1 - 0.8 * s), 1 + 0.8 * s, g).to(dev).view(n, 1, 1, 1)
            gray = self._gray(y)
            y = ((y - gray) * sat + gray).clamp(0, 1)
            hue = _uniform(n, -0.2 * s, 0.2 * s, g).to(dev)
            y = _hue_shift(y, hue)
        return torch.where(on, y, x)

    def _gray(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            return x
        wts = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * wts).sum(1, keepdim=True)

    def __call__(self, x_unit: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n = x_unit.shape[0]
        theta = self._affine(n, g).to(x_unit.device, x_unit.dtype)
        grid = F.affine_grid(theta, list(x_unit.shape), align_corners=False)
        y = F.grid_sample(x_unit, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        y = self._jitter(y, g)
        if self.channels == 3 and self.cfg.gray_prob > 0:
            to_gray = _bernoulli(n, self.cfg.gray_prob, g).to(y.device).view(n, 1, 1, 1)
            y = torch.where(to_gray, self._gray(y).expand_as(y), y)
        return self.normalizer.standardize(y)


def _hue_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate hue by ``shift`` turns (per sample) via a rotation in YIQ chroma space (a close,
    cheap approximation of torchvision's HSV hue adjustment)."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
                          device=x.device, dtype=x.dtype)
    to_rgb = torch.linalg.inv(to_yiq)
    yiq = torch.einsum("ij,njhw->nihw", to_yiq, x)
    t = shift * 2 * math.pi
    cos, sin = torch.cos(t).view(-1, 1, 1), torch.sin(t).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], 1)
    return torch.einsum("ij,njhw->nihw", to_rgb, yiq).clamp(0, 1)


class LightlyImageViews:
    """lightly's ``SimCLRTransform`` applied image by image (reference path; slower on CPU).

    Images are converted to 8-bit PIL images once (lightly/torchvision expect PIL input; tensors
    trigger a deprecation warning), normalised with the *data's* channel count (the default
    ImageNet normalisation would silently turn a gray image into 3 channels).
    """

    def __init__(self, cfg: AugmentConfig, x_unit: np.ndarray, normalizer: Normalizer) -> None:
        from lightly.transforms import SimCLRTransform
        from PIL import Image

        c, h, w = x_unit.shape[1:]
        u8 = np.clip(np.rint(x_unit * 255), 0, 255).astype(np.uint8)
        if c == 1:
            self.images = [Image.fromarray(a[0], mode="L") for a in u8]
        else:
            self.images = [Image.fromarray(np.transpose(a, (1, 2, 0)), mode="RGB") for a in u8]
        gray = c == 1
        deg = float(cfg.rotation_degrees or 0.0)
        kwargs: dict[str, Any] = dict(
            input_size=(h, w) if h != w else h,
            cj_prob=cfg.cj_prob, cj_strength=cfg.cj_strength,
            cj_sat=0.0 if gray else 0.8, cj_hue=0.0 if gray else 0.2,
            min_scale=float(cfg.min_scale), random_gray_scale=0.0 if gray else cfg.gray_prob,
            gaussian_blur=0.0, hf_prob=float(cfg.hflip_prob),
            rr_prob=cfg.rotation_prob if deg > 0 else 0.0, rr_degrees=deg if deg > 0 else None,
            normalize={"mean": normalizer.mean.flatten().tolist(), "std": normalizer.std.flatten().tolist()},
        )
        self.view = SimCLRTransform(**kwargs).transforms[0]

    def __call__(self, idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        # torchvision draws from torch's global RNG: seed it from our generator for reproducibility
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=g)))
        return torch.stack([self.view(self.images[i]) for i in idx.tolist()])


class VectorViews:
    """Gaussian noise + random feature masking on standardised vectors / points."""

    def __init__(self, cfg: AugmentConfig) -> None:
        self.cfg = cfg

    def __call__(self, x_std: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        noise = torch.randn(x_std.shape, generator=g).to(x_std.device) * self.cfg.noise_std
        y = x_std + noise
        p = float(self.cfg.mask_prob or 0.0)
        if p > 0:
            keep = (torch.rand(x_std.shape, generator=g) >= p).to(x_std.device)
            y = y * keep
        return y
