"""Named reference statistics: ``ucgan fid FAKE_DIR --ref <dataset>``.

Why: scoring a folder of samples against a prepared dataset should not need a folder of real PNGs,
nor recompute real Inception features that the evaluate stage already cached (~0.1 s per image on
a CPU). The real split, subset and cache key are chosen exactly as the evaluate stage chooses them
(:func:`ucgan.metrics.suite.real_reference`: the split, ``evaluate.n_real_max``, the same key parts), so
``--ref`` reads the entries evaluate wrote, and writes the ones evaluate will read.

Only Inception statistics are served: folders hold PNGs, and only the Inception pipeline reads a
PNG exactly as the in-memory path quantises data (see :func:`ucgan.metrics.extractors.to_uint8`).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from ..errors import DataError, UcganError
from .frechet import GaussianStats


@dataclasses.dataclass(frozen=True)
class ReferenceStats:
    """Real statistics of a prepared dataset: all classes, and one entry per class."""

    dataset: str
    split: str
    all: GaussianStats
    per_class: list[GaussianStats]
    class_names: list[str]
    cache_hits: int
    cache_misses: int


def reference_stats(dataset: str, params_path: str = "params.yaml", device: Any = "cpu",
                    batch_size: int = 50, per_class: bool = True) -> ReferenceStats:
    """Inception statistics of ``dataset``'s real reference split, from the stats cache when present
    (per class only with ``per_class``; a class without samples gets empty statistics, which
    ICFID scores as unmatched/inf instead of failing)."""
    from ..data.dataset import content_hash, load_split
    from .. import params as P
    from ..stages_params import EvaluateSection, eval_profile
    from ..config import from_mapping
    from .cache import StatsCache
    from .extractors import InceptionExtractor
    from .suite import real_reference

    prm = P.load(params_path)
    esec = prm.evaluate
    profile = prm.eval_profile(dataset)
    try:
        train = load_split(dataset, "train", prm.data.root)
    except DataError as exc:
        raise UcganError(f"--ref {dataset}: the dataset is not prepared here ({exc}); run `ucgan prepare --dataset {dataset}` "
                         "(or `dvc repro prepare@" + dataset + "`) first") from exc
    try:
        test = load_split(dataset, "test", prm.data.root)
    except DataError:
        test = None
    if train.modality != "image" or train.value_range is None:
        raise UcganError(f"--ref {dataset}: {train.modality} data has no image reference statistics; "
                         "`ucgan fid` compares image folders (use `ucgan evaluate` for points and vectors)")
    split_name, real, x_real, y_real, subsampled = real_reference(train, test, profile)
    ext = InceptionExtractor(real.value_range, device=device, batch_size=batch_size)
    base_key = {
        "dataset": dataset,
        "content_hash": real.manifest.get("content_hash") or content_hash(real.x, real.y),
        "split": split_name,
        "subset": {"n": int(len(y_real)), "seed": profile.seed} if subsampled else "all",
        "extractor": ext.id,
        "preprocessing": ext.preprocessing,
    }
    cache = StatsCache(esec.cache_dir)
    held: dict[str, np.ndarray] = {}

    def feats() -> np.ndarray:
        if "f" not in held:
            held["f"] = ext.extract(x_real, desc=f"reference {dataset}/{split_name}")
        return held["f"]

    k = real.num_classes
    all_stats = cache.get_or_compute({**base_key, "class": "all"}, lambda: GaussianStats.from_features(feats()))

    def class_stats(y: int) -> GaussianStats:
        return GaussianStats.from_features(feats()[y_real == y])

    per: list[GaussianStats] = []
    for y in (range(k) if per_class else ()):
        if not np.any(y_real == y):
            per.append(GaussianStats(mu=np.zeros(ext.dim), sigma=None, n=0))
            continue
        per.append(cache.get_or_compute({**base_key, "class": y},
                                        functools.partial(class_stats, y)))
    names = [str(n) for n in real.manifest.get("class_names", range(k))]
    return ReferenceStats(dataset, split_name, all_stats, per, names, cache.hits, cache.misses)


__all__ = ["ReferenceStats", "reference_stats"]
