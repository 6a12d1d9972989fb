"""k-means pseudo-labels, the pseudo-label classifier (InfoSCC-GAN stage 2), Hungarian matching,
linear probes and LSC-GAN neighbour statistics.

Public API: :func:`cluster`, :func:`load_classifier`, :class:`ClusterConfig`, :func:`load_cluster_config`.
"""
from __future__ import annotations

from typing import Any

from .config import ClassifierConfig, ClusterConfig, EvaluationConfig, load_cluster_config

__all__ = ["ClassifierConfig", "ClusterConfig", "EvaluationConfig", "cluster", "load_classifier", "load_cluster_config"]


def __getattr__(name: str) -> Any:
    if name == "cluster":
        from .stage import cluster

        return cluster
    if name == "load_classifier":
        from .probe import load_classifier

        return load_classifier
    raise AttributeError(name)
