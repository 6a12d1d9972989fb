"""k-means "inner attributes" (InfoSCC-GAN §3.4) and the clustering scores used to judge them.

A *representation* is one of the encoder outputs (backbone features ``h`` or projection-head
outputs ``z``) with optional per-feature standardisation and/or L2 normalisation (applied in that
order, statistics from the train split). The projection output lives on the unit sphere during
NT-Xent training, so its L2-normalised version is what the contrastive geometry actually shapes —
which is why it clusters far better than the backbone features (measured in benchmarks/bench_simclr.py).
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np

from ..metrics.clustering_metrics import cluster_accuracy, kmeans_nmi, nmi  # noqa: F401  (one implementation)

Source = Literal["backbone", "projection"]

#: Representation variants reported in the cluster metrics: name -> (source, standardize, l2).
VARIANTS: dict[str, tuple[Source, bool, bool]] = {
    "backbone_raw": ("backbone", False, False),
    "backbone_std": ("backbone", True, False),
    "backbone_l2": ("backbone", False, True),
    "projection_raw": ("projection", False, False),
    "projection_l2": ("projection", False, True),
}


@dataclasses.dataclass
class Representation:
    """Feature transform fitted on the train split and applied unchanged to the test split."""

    standardize: bool
    l2: bool
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> "Representation":
        if self.standardize:
            self.mean = x.mean(0)
            self.std = np.maximum(x.std(0), 1e-6)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(x, dtype=np.float64)
        if self.standardize:
            assert self.mean is not None and self.std is not None, "call fit() first"
            y = (y - self.mean) / self.std
        if self.l2:
            y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
        return y


def fit_kmeans(x: np.ndarray, k: int, *, n_init: int = 10, seed: int = 0, max_iter: int = 300):
    """sklearn k-means with k-means++ initialisation and ``n_init`` restarts (best inertia kept)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, init="k-means++", n_init=n_init, random_state=seed, max_iter=max_iter).fit(x)


def order_by_size(labels: np.ndarray, centers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renumber clusters so that 0 is the largest (ties: lower old id first).

    k-means ids are arbitrary; a size order makes outputs stable across seeds/reruns and lets a
    reader see the imbalance directly. Returns (new labels, permuted centres, old->new map).
    """
    counts = np.bincount(labels, minlength=k)
    order = np.lexsort((np.arange(k), -counts))   # new id i <- old id order[i]
    old_to_new = np.empty(k, dtype=np.int64)
    old_to_new[order] = np.arange(k)
    return old_to_new[labels], centers[order], old_to_new


def nmi_over_seeds(x: np.ndarray, y: np.ndarray, k: int, *, seeds: int = 3, n_init: int = 10) -> tuple[float, list[float]]:
    """Mean NMI of k-means (seeds 0..seeds-1) against the truth, and the per-seed values: the
    evaluation's own k-means NMI (:func:`ucgan.metrics.clustering_metrics.kmeans_nmi`)."""
    r = kmeans_nmi(x, y, k, seeds=range(seeds), n_init=n_init)
    return r.mean, r.per_seed
