"""How much evaluation to do (``evaluate:`` in params.yaml): the dataclass and its checks, nothing else.

Why a module of its own (:mod:`ucgan.metrics.suite` re-exports it): checking params.yaml's
``evaluate`` section, which every stage does first, imports this and not the evaluation suite, so
the stages before ``evaluate`` do not depend on the metrics code in dvc.yaml and an evaluation
change does not retrain the GANs (``infra/stage_deps.py``).
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from ..config import require


@dataclasses.dataclass(frozen=True)
class EvalProfile:
    """How much evaluation to do (``evaluate:`` in params.yaml; CPU profiles use small numbers)."""

    # auto: inception for images, else raw; eval-encoder: the independent encoder of `ucgan pretrain --role eval`;
    # encoder: the pretrain stage's encoder (refused for methods that consumed it)
    extractor: Literal["auto", "raw", "inception", "encoder", "eval-encoder"] = "auto"
    n_fake: int = 0                   # fakes from the mixture for FID; 0 = size of the real reference set
    icfid_n: int = 0                  # N of Algorithm 2 (reals per class = fakes per component); 0 = smallest test class
    knn_k: int = 3                    # k of k-NN precision/recall (Kynkäänniemi et al. 2019)
    pr_n_max: int = 5000              # cap on real and fake samples for precision/recall (pairwise distances)
    kid_subset_size: int = 1000       # KID (Binkowski et al. 2018) on the precision/recall features: subset size
    kid_subsets: int = 100            # ... and number of subsets (clean-fid's defaults); 0 = no KID
    progress: bool = True             # progress bars with img/s while generating and extracting fakes
    n_real_max: int = 0               # cap on real samples (random, seeded); 0 = all
    real_split: Literal["auto", "train", "test"] = "auto"
    min_real_per_class: int = 100     # "auto" uses test only if every class has this many there
    matching: Literal["greedy", "hungarian"] = "greedy"
    batch_size: int = 50              # image sampling/feature batch
    kmeans_seeds: tuple[int, ...] = (0,)
    kmeans_n_init: int = 10
    attribute_classifier: Literal["auto", "none"] = "auto"  # auto: fit a label classifier (attribute accuracy)
    attribute_n_per_component: int = 1000  # samples per component for attribute accuracy
    seed: int = 0

    def validate(self, where: str) -> None:
        require(self.n_fake >= 0, f"{where}.n_fake", "must be >= 0 (0 = size of the real set)")
        require(self.icfid_n >= 0, f"{where}.icfid_n", "must be >= 0 (0 = smallest test-class count)")
        require(self.n_fake != 1 and self.icfid_n != 1, where, "n_fake and icfid_n need >= 2 samples for a covariance")
        require(self.knn_k >= 1, f"{where}.knn_k", "must be >= 1")
        require(self.pr_n_max > self.knn_k, f"{where}.pr_n_max", "must be larger than knn_k")
        require(self.n_real_max >= 0, f"{where}.n_real_max", "must be >= 0 (0 = all)")
        require(self.min_real_per_class >= 2, f"{where}.min_real_per_class", "must be >= 2")
        require(self.batch_size > 0, f"{where}.batch_size", "must be positive")
        require(len(self.kmeans_seeds) > 0, f"{where}.kmeans_seeds", "needs at least one seed")
        require(self.kmeans_n_init > 0, f"{where}.kmeans_n_init", "must be positive")
        require(self.attribute_n_per_component > 0, f"{where}.attribute_n_per_component", "must be positive")
        require(self.kid_subset_size >= 2, f"{where}.kid_subset_size", "must be >= 2")
        require(self.kid_subsets >= 0, f"{where}.kid_subsets", "must be >= 0 (0 = no KID)")
