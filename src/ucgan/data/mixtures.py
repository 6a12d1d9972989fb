"""Gaussian-mixture data: the papers' synthetic sets and any user-given mixture.

Counts per component are exact (largest-remainder rounding of ``n * weights``), not drawn from a
multinomial, so a preset's class counts are the same on every machine and seed; only the positions
depend on the seed.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..config import require


def exact_counts(n: int, weights: np.ndarray | list[float]) -> np.ndarray:
    """Split ``n`` into integer counts proportional to ``weights`` (largest remainder method)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    raw = n * w
    base = np.floor(raw + 1e-9).astype(np.int64)
    rest = n - int(base.sum())
    if rest > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:rest]] += 1
    return base


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    """A Gaussian mixture: centres (K x d), isotropic std (scalar or one per component), weights."""

    centers: list[list[float]]
    std: float | list[float]
    weights: list[float] | None = None   # None = uniform

    def validate(self, where: str) -> None:
        require(len(self.centers) > 0, f"{where}.centers", "needs at least one centre")
        dims = {len(c) for c in self.centers}
        require(len(dims) == 1, f"{where}.centers", f"all centres must have the same dimension, got {sorted(dims)}")
        stds = self.std if isinstance(self.std, list) else [self.std]
        require(all(s > 0 for s in stds), f"{where}.std", "must be positive")
        if isinstance(self.std, list):
            require(len(self.std) == len(self.centers), f"{where}.std", "needs one value per centre")
        if self.weights is not None:
            require(len(self.weights) == len(self.centers), f"{where}.weights", "needs one weight per centre")
            require(all(w > 0 for w in self.weights), f"{where}.weights", "must all be positive (drop a centre instead of weight 0)")

    @property
    def k(self) -> int:
        return len(self.centers)

    def stds(self) -> np.ndarray:
        s = self.std if isinstance(self.std, list) else [self.std] * self.k
        return np.asarray(s, dtype=np.float64)

    def norm_weights(self) -> np.ndarray:
        w = np.ones(self.k) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        return w / w.sum()

    def sample_counts(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Exactly ``counts[k]`` points from component k, shuffled."""
        c = np.asarray(self.centers, dtype=np.float64)
        s = self.stds()
        xs, ys = [], []
        for k, n in enumerate(counts):
            xs.append(c[k] + s[k] * rng.standard_normal((int(n), c.shape[1])))
            ys.append(np.full(int(n), k, dtype=np.int64))
        x = np.concatenate(xs)
        y = np.concatenate(ys)
        perm = rng.permutation(len(y))
        return x[perm], y[perm]


def ring(k: int, radius: float, std: float, start_deg: float = 90.0, clockwise: bool = True) -> list[list[float]]:
    """``k`` centres on a circle, the first at ``start_deg`` (90 = top), going clockwise."""
    sign = -1.0 if clockwise else 1.0
    out = []
    for i in range(k):
        a = math.radians(start_deg + sign * 360.0 * i / k)
        out.append([round(radius * math.cos(a), 12), round(radius * math.sin(a), 12)])
    return out


def grid(side: int, spacing: float) -> list[list[float]]:
    off = (side - 1) / 2.0
    return [[spacing * (i - off), spacing * (j - off)] for i in range(side) for j in range(side)]
