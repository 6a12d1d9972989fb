"""Checks every source's values pass before a dataset is written.

Why here and not only in the ``validate`` stage: a NaN in one cell of a user's file turns into NaN
everywhere once ``minmax`` scaling takes the min and max over it, and a declared range that the data
does not have silently produces a GAN with the wrong output layer. Both must stop at ``prepare``
with the file, the first bad row/column and the fix, before anything is written or trained.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError


def _first_bad(mask: np.ndarray) -> tuple[int, int]:
    """(row, flat column) of the first True in a per-sample mask of shape (N, ...)."""
    flat = mask.reshape(len(mask), -1)
    row = int(np.flatnonzero(flat.any(axis=1))[0])
    col = int(np.flatnonzero(flat[row])[0])
    return row, col


def check_finite(x: np.ndarray, what: str) -> None:
    """Every value finite; else name the first bad row/column and how many there are."""
    if x.size == 0:
        raise DataError(f"{what} holds no samples; give a file with at least one row per class.")
    bad = ~np.isfinite(x)
    if bad.any():
        row, col = _first_bad(bad)
        value = x.reshape(len(x), -1)[row, col]
        raise DataError(
            f"{what} has {int(bad.sum())} non-finite value(s) in {int(bad.reshape(len(x), -1).any(axis=1).sum())} row(s); "
            f"the first is row {row}, column {col} ({value}). Remove or impute those rows in the file, then re-run "
            "`ucgan prepare`.")


def check_in_range(x: np.ndarray, lo: float, hi: float, what: str, declared: str, tol: float = 1e-6) -> None:
    """Data declared to lie in [lo, hi] must do so (``unit`` and ``symmetric`` do not rescale)."""
    bad = (x < lo - tol) | (x > hi + tol)
    if bad.any():
        row, col = _first_bad(bad)
        value = float(x.reshape(len(x), -1)[row, col])
        raise DataError(
            f"{what} spans [{float(x.min()):.4g}, {float(x.max()):.4g}] but range: {declared} declares its values to lie "
            f"in [{lo:g}, {hi:g}] (first value outside: row {row}, column {col} = {value:.4g}). Set range: minmax (scale "
            "feature-wise to [-1, 1]) or range: none (keep the values, linear generator output) in the dataset's spec.")
