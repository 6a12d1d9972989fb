"""On-disk cache of real-data feature statistics.

Real statistics do not depend on the method or the seed, yet extracting Inception features is the
slowest part of evaluation on a CPU (~0.1 s per image). Every evaluate stage of a dataset therefore
shares one cache entry per (dataset content, split, class, extractor, preprocessing, ...). The key
is a SHA-256 over those parts, so a changed dataset or extractor can never hit a stale entry;
entries are written atomically (a crash never leaves a half-written file a teammate could read).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..io import save_npz
from .frechet import GaussianStats

log = logging.getLogger(__name__)

#: Bump when the meaning of stored statistics changes (e.g. covariance normalisation).
CACHE_VERSION = 1


def cache_key(key_parts: Mapping[str, Any]) -> str:
    """Stable hex key of a JSON-serialisable mapping (sorted keys; order of insertion is irrelevant)."""
    try:
        text = json.dumps({"v": CACHE_VERSION, **dict(key_parts)}, sort_keys=True, default=str)
    except TypeError as exc:  # pragma: no cover - default=str makes this rare
        raise ValueError(f"statistics cache key parts must be JSON-serialisable: {exc}") from exc
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StatsCache:
    """``root/<key[:2]>/<key>.npz`` holding ``mu``, ``sigma``, ``n`` and the key parts as JSON.

    ``root=None`` disables caching (every call computes), which keeps callers free of branches.
    ``hits`` / ``misses`` count lookups of this instance (useful in logs and tests).
    """

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = None if root is None else Path(root)
        self.hits = 0
        self.misses = 0

    def path(self, key_parts: Mapping[str, Any]) -> Path | None:
        if self.root is None:
            return None
        key = cache_key(key_parts)
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key_parts: Mapping[str, Any]) -> GaussianStats | None:
        """Cached statistics or None; unreadable entries are treated as missing (and overwritten)."""
        p = self.path(key_parts)
        if p is None or not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as f:
                n = int(f["n"])
                mu = np.array(f["mu"], dtype=np.float64)
                sigma = np.array(f["sigma"], dtype=np.float64) if n >= 2 else None
        except Exception as exc:  # corrupt/partial foreign file: recompute rather than fail
            log.warning("ignoring unreadable statistics cache entry %s (%s); recomputing", p, exc)
            return None
        return GaussianStats(mu=mu, sigma=sigma, n=n)

    def store(self, key_parts: Mapping[str, Any], stats: GaussianStats) -> None:
        p = self.path(key_parts)
        if p is None:
            return
        sigma = stats.sigma if stats.sigma is not None else np.zeros((0, 0))
        save_npz(
            p,
            mu=np.asarray(stats.mu, np.float64),
            sigma=np.asarray(sigma, np.float64),
            n=np.asarray(stats.n, dtype=np.int64),
            key=np.array(json.dumps(dict(key_parts), sort_keys=True, default=str)),
        )

    def get_or_compute(
        self, key_parts: Mapping[str, Any], compute_fn: Callable[[], GaussianStats]
    ) -> GaussianStats:
        """Statistics for ``key_parts`` from disk, or from ``compute_fn()`` (then stored)."""
        cached = self.load(key_parts)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        stats = compute_fn()
        if not isinstance(stats, GaussianStats):
            raise TypeError(f"compute_fn must return GaussianStats, got {type(stats).__name__}")
        self.store(key_parts, stats)
        return stats
