"""Latent-structure statistics of LSC-GAN Table 2 ("1st / 2nd / 5th neighbour").

Definition used here (the paper gives only the example "70% of the time its nearest neighbour will
belong to the same class"): for k in ``ks``, the share of samples whose k-th nearest neighbour —
excluding the sample itself, ranked by distance in the representation — has the same class.
Distance: L1 by default, because LSC-GAN's Algorithm 1 builds its neighbour pairs with L1.
Exact ties are broken arbitrarily (but deterministically). Chance level is ``sum_c p_c^2`` (0.1 for 10
balanced classes), which the paper lists as its "baseline" row.
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch

Metric = Literal["l1", "l2", "cosine"]


@torch.no_grad()
def kth_neighbours(x: np.ndarray, k_max: int, metric: Metric = "l1", batch: int = 512) -> np.ndarray:
    """Indices ``(N, k_max)`` of each sample's nearest neighbours, self excluded, nearest first."""
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if metric == "cosine":
        t = torch.nn.functional.normalize(t, dim=1)
    p = 1.0 if metric == "l1" else 2.0
    n = len(t)
    if k_max >= n:
        raise ValueError(f"need more than {k_max} samples for the {k_max}-th neighbour, got {n}")
    out = np.empty((n, k_max), dtype=np.int64)
    for i in range(0, n, batch):
        d = torch.cdist(t[i:i + batch], t, p=p)
        rows = torch.arange(d.shape[0])
        d[rows, rows + i] = float("inf")
        idx = torch.topk(d, k_max, dim=1, largest=False, sorted=True).indices
        out[i:i + batch] = idx.numpy()
    return out


def same_class_neighbour_share(
    x: np.ndarray, y: np.ndarray, ks: Sequence[int] = (1, 2, 5), metric: Metric = "l1"
) -> dict[int, float]:
    """``{k: share of samples whose k-th nearest neighbour has the same class}`` (see module doc)."""
    ks = sorted({int(k) for k in ks})
    idx = kth_neighbours(x, max(ks), metric)
    y = np.asarray(y)
    return {k: float((y[idx[:, k - 1]] == y).mean()) for k in ks}


def chance_share(y: np.ndarray) -> float:
    """Expected share for a representation with no class structure: ``sum_c p_c^2``."""
    p = np.bincount(np.asarray(y)) / max(1, len(y))
    return float((p ** 2).sum())
