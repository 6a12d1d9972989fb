"""Evaluation suite: feature extractors, Fréchet distance, FID/ICFID, NMI, ratio error, mode
metrics and attribute control accuracy.

The evaluate stage calls :func:`evaluate_method`; library users can call the pieces directly::

    from ucgan.metrics import frechet_distance, icfid
    res = icfid(real_features_per_class, fake_features_per_cluster, matching="greedy")
    res.value, res.per_class, res.assignment, res.fid_matrix

Names are imported lazily (PEP 562): importing one submodule (``ucgan fid`` imports
:mod:`ucgan.metrics.folders`) must not pull in torch, SciPy and scikit-learn through this package.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # attribute.py
    "AttributeAccuracy": "attribute", "attribute_accuracy": "attribute", "chamfer_distance": "attribute",
    # cache.py
    "StatsCache": "cache", "cache_key": "cache",
    # clustering_metrics.py
    "MixingError": "clustering_metrics", "kmeans_labels": "clustering_metrics", "kmeans_nmi": "clustering_metrics",
    "mixing_error": "clustering_metrics", "nmi": "clustering_metrics",
    # extractors.py
    "EncoderExtractor": "extractors", "FeatureExtractor": "extractors", "InceptionExtractor": "extractors",
    "RawExtractor": "extractors", "build_extractor": "extractors", "cleanfid_feature_fn": "extractors",
    "to_uint8": "extractors",
    # fid.py
    "ICFIDResult": "fid", "fid": "fid", "icfid": "fid", "icfid_from_matrix": "fid", "match_greedy": "fid",
    "match_hungarian": "fid",
    # frechet.py
    "GaussianStats": "frechet", "RunningStats": "frechet", "fid_from_stats": "frechet", "fid_matrix": "frechet",
    "frechet_distance": "frechet", "frechet_distance_torch": "frechet",
    # modes.py
    "ModeMetrics": "modes", "mode_metrics": "modes",
    # suite.py
    "EvalProfile": "suite", "evaluate_method": "suite", "json_safe": "suite",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
