"""Kernel Inception Distance (KID): the unbiased squared MMD with a cubic polynomial kernel.

Why beside FID: FID is a biased estimator whose bias depends on the sample count (two halves of
the same 1,000 MNIST digits do not score 0), so FIDs from runs with different sample sizes or from
small minority classes cannot be compared. KID (Bińkowski et al., "Demystifying MMD GANs", ICLR
2018) is unbiased: its expectation does not depend on the sample size, and it is 0 in expectation
for identical distributions (a single estimate can be slightly negative).

Kernel: ``k(x, y) = (x·y / d + 1) ** 3`` with ``d`` the feature dimension (the paper's default).
Estimator: the unbiased MMD² (diagonal terms of the within-set kernel matrices dropped), averaged
over ``n_subsets`` random subsets of ``subset_size`` samples drawn without replacement from each set,
the way clean-fid and the paper's code report it (mean and std over subsets). Subsets bound memory
(an ``m x m`` kernel matrix) and give a spread that shows how stable the number is.

The random draw uses its own ``numpy.random.Generator`` seeded by ``seed``, so the same features give
the same KID on every call and machine, and no global RNG is touched.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import UcganError


@dataclasses.dataclass(frozen=True)
class KIDResult:
    """``value``: mean unbiased MMD² over subsets; ``std``: its standard deviation over subsets
    (0 with one subset); ``subset_size`` and ``n_subsets`` as used (the size is capped by the
    smaller set)."""

    value: float
    std: float
    subset_size: int
    n_subsets: int

    def to_dict(self) -> dict[str, float | int]:
        return {"kid": self.value, "kid_std": self.std, "kid_subset_size": self.subset_size,
                "kid_subsets": self.n_subsets}


def polynomial_kernel(a: np.ndarray, b: np.ndarray, degree: int = 3, coef0: float = 1.0,
                      gamma: float | None = None) -> np.ndarray:
    """``(gamma * a @ b.T + coef0) ** degree``; ``gamma`` defaults to ``1 / d``."""
    g = 1.0 / a.shape[1] if gamma is None else gamma
    return np.asarray((g * (a @ b.T) + coef0) ** degree)


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased MMD² between two equally sized sets (rows are samples).

    ``(sum k(x,x') over x != x')/(m(m-1)) + (same for y) - 2 mean k(x, y)``: dropping the diagonal
    is what removes the bias of the plug-in estimate.
    """
    m = x.shape[0]
    if m < 2 or y.shape[0] != m:
        raise ValueError(f"mmd2_unbiased needs two sets of the same size >= 2, got {x.shape[0]} and {y.shape[0]}")
    kxx = polynomial_kernel(x, x, degree)
    kyy = polynomial_kernel(y, y, degree)
    kxy = polynomial_kernel(x, y, degree)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.mean())


def kid(real: np.ndarray, fake: np.ndarray, subset_size: int = 1000, n_subsets: int = 100,
        seed: int = 0) -> KIDResult:
    """KID between two feature sets ``(N, d)`` and ``(M, d)``.

    ``subset_size`` is capped at ``min(N, M)`` (clean-fid does the same), so small per-class sets
    still get a number; fewer than 2 samples on a side is an error because the unbiased estimate
    is undefined there.
    """
    r = np.asarray(real, dtype=np.float64)
    f = np.asarray(fake, dtype=np.float64)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise UcganError(f"KID needs two (N, d) feature arrays of the same d, got shapes {r.shape} and {f.shape}")
    m = min(subset_size, r.shape[0], f.shape[0])
    if m < 2:
        raise UcganError(f"KID needs at least 2 samples per set, got {r.shape[0]} real and {f.shape[0]} fake")
    if n_subsets < 1:
        raise UcganError(f"KID needs n_subsets >= 1, got {n_subsets}")
    rng = np.random.default_rng(seed)
    vals = np.empty(n_subsets)
    for i in range(n_subsets):
        xi = r[rng.choice(r.shape[0], m, replace=False)]
        yi = f[rng.choice(f.shape[0], m, replace=False)]
        vals[i] = mmd2_unbiased(xi, yi)
    return KIDResult(float(vals.mean()), float(vals.std()), int(m), int(n_subsets))


__all__ = ["KIDResult", "kid", "mmd2_unbiased", "polynomial_kernel"]
