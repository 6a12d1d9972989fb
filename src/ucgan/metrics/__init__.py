"""Evaluation suite: feature extractors, Fréchet distance, FID/ICFID, NMI, ratio error, mode
metrics and attribute control accuracy.

The evaluate stage calls :func:`evaluate_method`; library users can call the pieces directly::

    from ucgan.metrics import frechet_distance, icfid
    res = icfid(real_features_per_class, fake_features_per_cluster, matching="greedy")
    res.value, res.per_class, res.assignment, res.fid_matrix
"""
from __future__ import annotations

from .attribute import AttributeAccuracy, attribute_accuracy, chamfer_distance
from .cache import StatsCache, cache_key
from .clustering_metrics import MixingError, kmeans_labels, kmeans_nmi, mixing_error, nmi
from .extractors import (
    EncoderExtractor,
    FeatureExtractor,
    InceptionExtractor,
    RawExtractor,
    build_extractor,
    cleanfid_feature_fn,
    to_uint8,
)
from .fid import ICFIDResult, fid, icfid, icfid_from_matrix, match_greedy, match_hungarian
from .frechet import GaussianStats, RunningStats, fid_from_stats, fid_matrix, frechet_distance, frechet_distance_torch
from .modes import ModeMetrics, mode_metrics
from .suite import EvalProfile, evaluate_method, json_safe

__all__ = [
    "AttributeAccuracy", "EncoderExtractor", "EvalProfile", "FeatureExtractor", "GaussianStats", "ICFIDResult",
    "InceptionExtractor", "MixingError", "ModeMetrics", "RawExtractor", "RunningStats", "StatsCache",
    "attribute_accuracy", "build_extractor", "cache_key", "chamfer_distance", "cleanfid_feature_fn",
    "evaluate_method", "fid", "fid_from_stats", "fid_matrix", "frechet_distance", "frechet_distance_torch", "icfid",
    "icfid_from_matrix", "json_safe", "kmeans_labels", "kmeans_nmi", "match_greedy", "match_hungarian",
    "mixing_error", "mode_metrics", "nmi", "to_uint8",
]
