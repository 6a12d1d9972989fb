"""Configuration of the ``cluster`` stage (``cluster:`` section of params.yaml).

Layout::

    cluster:
      k: 0                         # 0 = number of classes of the dataset
      representation: projection   # backbone | projection (SimCLR head output)
      standardize: false
      l2_normalize: true
      n_init: 10
      seed: 0
      classifier: {epochs: 100, lr: 0.01, weight_decay: 1.0e-6, batch_size: 256}
      evaluation: {nmi_seeds: 3, variants: true, neighbour_ks: [1, 2, 5], neighbour_metric: l1,
                   plot: pca, plot_points: 2000, max_points: 10000}
      overrides:                   # optional, per dataset, same keys
        ring8-1to3: {representation: backbone, l2_normalize: false}
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Mapping

from ..config import require
from ..encoders.config import section_with_overrides


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """InfoSCC-GAN stage 2: linear classifier on frozen backbone features and the pseudo-labels."""

    epochs: int = 100
    lr: float = 1e-2
    weight_decay: float = 1e-6
    batch_size: int = 256

    def validate(self, where: str) -> None:
        require(self.epochs > 0, f"{where}.epochs", "must be positive")
        require(self.lr > 0, f"{where}.lr", "must be positive")
        require(self.weight_decay >= 0, f"{where}.weight_decay", "must be >= 0")
        require(self.batch_size > 0, f"{where}.batch_size", "must be positive")


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """Scores against the ground truth; they never feed back into the pseudo-labels."""

    nmi_seeds: int = 3                 # k-means seeds averaged for the NMI of each representation variant
    variants: bool = True              # report NMI for all 5 representation variants (not only the chosen one)
    neighbour_ks: list[int] = dataclasses.field(default_factory=lambda: [1, 2, 5])  # LSC-GAN Table 2
    neighbour_metric: Literal["l1", "l2", "cosine"] = "l1"
    plot: Literal["pca", "tsne", "none"] = "pca"
    plot_points: int = 2000            # at most this many points in embedding.png (t-SNE is O(n^2))
    max_points: int = 10000            # fixed random subset of train for variant NMIs and neighbour stats

    def validate(self, where: str) -> None:
        require(self.nmi_seeds > 0, f"{where}.nmi_seeds", "must be positive")
        require(len(self.neighbour_ks) > 0 and all(k > 0 for k in self.neighbour_ks),
                f"{where}.neighbour_ks", "must be a non-empty list of positive integers")
        require(self.plot_points >= 10, f"{where}.plot_points", "must be >= 10")
        require(self.max_points >= 10, f"{where}.max_points", "must be >= 10")


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """k-means pseudo-labels ("inner attributes", InfoSCC-GAN §3.4) + their classifier."""

    k: int = 0                                           # 0 = number of classes in the manifest
    representation: Literal["backbone", "projection"] = "projection"
    standardize: bool = False                            # per-feature z-score (train statistics) before k-means
    l2_normalize: bool = True                            # then project onto the unit sphere
    n_init: int = 10                                     # k-means++ restarts, best inertia kept
    seed: int = 0
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)

    def validate(self, where: str) -> None:
        require(self.k >= 0, f"{where}.k", "must be >= 0 (0 = number of classes)")
        require(self.k != 1, f"{where}.k", "must be >= 2 (or 0 = number of classes)")
        require(self.n_init > 0, f"{where}.n_init", "must be positive")

    @property
    def variant_name(self) -> str:
        suffix = "_".join(s for s, on in (("std", self.standardize), ("l2", self.l2_normalize)) if on) or "raw"
        return f"{self.representation}_{suffix}"


def load_cluster_config(params: Mapping[str, Any], dataset: str) -> ClusterConfig:
    """The resolved ``cluster`` section for ``dataset`` (base keys + its override block)."""
    return section_with_overrides(ClusterConfig, params, "cluster", dataset)
