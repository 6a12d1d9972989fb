"""Declarative imbalanced-dataset specs and the arithmetic that turns a ratio into counts."""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

import numpy as np

from ..config import require
from ..errors import ConfigError
from .mixtures import MixtureSpec

SOURCES = ("mixture", "mnist5k", "digits", "mnist", "fmnist", "cifar10", "image_folder", "vector_file")
#: number of classes of the built-in sources (lets bad class ids fail before anything is loaded)
BUILTIN_CLASSES = {"mnist5k": 10, "digits": 10, "mnist": 10, "fmnist": 10, "cifar10": 10}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """How to build one dataset. Every key is documented in params.yaml (``data.custom``).

    Class selection: ``classes`` keeps source classes in the given order (new label = position);
    ``merges`` instead makes each group of source classes one new class. Imbalance: ``ratio`` (one
    positive number per resulting class; the largest counts with exactly that ratio that the data
    allows are kept) or ``counts`` (exact train counts). ``split`` says where the test split comes
    from: ``native`` (the source's own test set), ``stratified`` (a stratified ``test_fraction`` of the
    pool of all examples) or ``same_as_train`` (evaluation on the training pool, as SLOGAN's CIFAR-2
    code does). The test split gets the same ratio unless ``test_ratio: natural``.
    """

    source: str
    source_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    mixture: MixtureSpec | None = None
    n_train: int = 0
    n_test: int = 0
    classes: list[int] | None = None
    merges: list[list[int]] | None = None
    ratio: list[float] | None = None
    counts: list[int] | None = None
    test_counts: list[int] | None = None
    test_ratio: Literal["same", "natural"] = "same"
    split: Literal["native", "stratified", "same_as_train"] = "native"
    pool_native_splits: bool = False   # stratified/same_as_train: pool train+test of a native source first
    test_fraction: float = 0.2
    range: Literal["unit", "symmetric", "minmax", "none"] = "unit"
    seed: int = 0
    class_names: list[str] | None = None

    def validate(self, where: str) -> None:
        require(self.source in SOURCES, f"{where}.source", f"unknown source {self.source!r}; choose one of {list(SOURCES)}")
        require(self.classes is None or self.merges is None, f"{where}", "give either classes or merges, not both")
        if self.source == "mixture":
            require(self.mixture is not None, f"{where}.mixture", "source 'mixture' needs a mixture: {centers, std, weights}")
            require(self.counts is not None or self.n_train > 0, f"{where}.n_train", "mixtures need n_train > 0 or counts")
            require(self.test_counts is not None or self.n_test > 0, f"{where}.n_test", "mixtures need n_test > 0 or test_counts")
            require(self.classes is None and self.merges is None and self.ratio is None, where,
                    "mixtures take weights/counts, not classes, merges or ratio")
        n_src = BUILTIN_CLASSES.get(self.source)
        if self.classes is not None:
            require(len(self.classes) > 0, f"{where}.classes", "must not be empty")
            require(len(set(self.classes)) == len(self.classes), f"{where}.classes", f"repeats a class: {self.classes}")
            if n_src is not None:
                bad = [c for c in self.classes if not 0 <= c < n_src]
                require(not bad, f"{where}.classes", f"unknown class {bad} for source {self.source} (classes 0..{n_src - 1})")
        if self.merges is not None:
            flat = [c for g in self.merges for c in g]
            require(all(len(g) > 0 for g in self.merges), f"{where}.merges", "empty group")
            dup = sorted({c for c in flat if flat.count(c) > 1})
            require(not dup, f"{where}.merges", f"groups overlap: class(es) {dup} appear in more than one group")
            if n_src is not None:
                bad = [c for c in flat if not 0 <= c < n_src]
                require(not bad, f"{where}.merges", f"unknown class {bad} for source {self.source} (classes 0..{n_src - 1})")
        k = self.num_classes()
        if self.ratio is not None:
            require(all(r > 0 and math.isfinite(r) for r in self.ratio), f"{where}.ratio", f"ratios must be positive, got {self.ratio}")
            if k is not None:
                require(len(self.ratio) == k, f"{where}.ratio", f"needs {k} values (one per class), got {len(self.ratio)}")
        for key in ("counts", "test_counts"):
            v = getattr(self, key)
            if v is not None:
                require(all(c > 0 for c in v), f"{where}.{key}", f"counts must be positive, got {v}")
                if k is not None:
                    require(len(v) == k, f"{where}.{key}", f"needs {k} values (one per class), got {len(v)}")
        require(self.ratio is None or self.counts is None, where, "give either ratio or counts, not both")
        require(0.0 < self.test_fraction < 1.0, f"{where}.test_fraction", "must be in (0, 1)")
        require(self.n_train >= 0 and self.n_test >= 0, where, "n_train and n_test must be >= 0")
        if self.class_names is not None and k is not None:
            require(len(self.class_names) == k, f"{where}.class_names", f"needs {k} names, got {len(self.class_names)}")
        if self.source == "mixture":
            require(self.split == "native", f"{where}.split", "mixtures are sampled per split; leave split: native")
        if self.source in ("image_folder", "vector_file"):
            key = "root" if self.source == "image_folder" else "path"
            require(key in self.source_options, f"{where}.source_options.{key}", f"source {self.source} needs {key}")

    def num_classes(self) -> int | None:
        """Number of classes after selection/merging, when known without loading data."""
        if self.mixture is not None:
            return self.mixture.k
        if self.merges is not None:
            return len(self.merges)
        if self.classes is not None:
            return len(self.classes)
        return BUILTIN_CLASSES.get(self.source)


def counts_for_ratio(available: np.ndarray | list[int], ratio: np.ndarray | list[float]) -> np.ndarray:
    """Largest integer counts with the given ratio that fit in ``available``.

    scale = min_k available_k / ratio_k, count_k = floor(scale * ratio_k). The limiting class keeps
    all its examples; this reproduces the papers' constructions, e.g. CIFAR-2 7:3 from 6,000 frogs
    and 6,000 planes keeps int(6000*3/7) = 2,571 planes, MNIST-2 0-vs-4 7:3 keeps all 5,923 zeros
    and 2,538 fours.
    """
    a = np.asarray(available, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)
    if a.shape != r.shape:
        raise ConfigError(f"ratio has {r.size} values but there are {a.size} classes")
    if (r <= 0).any():
        raise ConfigError(f"ratios must be positive, got {r.tolist()}")
    scale = float(np.min(a / r))
    counts = np.floor(scale * r + 1e-9).astype(np.int64)
    return np.minimum(counts, a.astype(np.int64))
