"""Statistics cache: hits return identical statistics, any changed key part recomputes."""
from __future__ import annotations

import numpy as np

from ucgan.metrics.cache import StatsCache, cache_key
from ucgan.metrics.frechet import GaussianStats

KEY = {"content_hash": "abc", "split": "test", "class": 3, "extractor": "raw", "preprocessing": "flatten"}


def _stats(seed: int) -> GaussianStats:
    return GaussianStats.from_features(np.random.default_rng(seed).standard_normal((20, 5)))


def test_hit_returns_identical_statistics(tmp_path):
    cache = StatsCache(tmp_path)
    calls = []
    first = cache.get_or_compute(KEY, lambda: calls.append(1) or _stats(0))
    again = StatsCache(tmp_path).get_or_compute(dict(reversed(list(KEY.items()))), lambda: calls.append(1) or _stats(1))
    assert calls == [1]
    assert np.array_equal(first.mu, again.mu) and np.array_equal(first.sigma, again.sigma) and again.n == 20
    assert cache.misses == 1 and cache.hits == 0
    assert len(list(tmp_path.rglob("*.npz"))) == 1 and not list(tmp_path.rglob("*.tmp"))


def test_different_key_recomputes(tmp_path):
    cache = StatsCache(tmp_path)
    a = cache.get_or_compute(KEY, lambda: _stats(0))
    b = cache.get_or_compute({**KEY, "extractor": "inception"}, lambda: _stats(1))
    c = cache.get_or_compute({**KEY, "class": 4}, lambda: _stats(2))
    assert cache.misses == 3 and not np.array_equal(a.mu, b.mu) and not np.array_equal(b.mu, c.mu)
    assert cache_key(KEY) != cache_key({**KEY, "split": "train"})


def test_corrupt_entry_is_recomputed_and_starved_stats_roundtrip(tmp_path):
    cache = StatsCache(tmp_path)
    cache.get_or_compute(KEY, lambda: _stats(0))
    cache.path(KEY).write_bytes(b"not an npz")
    fresh = cache.get_or_compute(KEY, lambda: _stats(5))
    assert np.array_equal(fresh.mu, _stats(5).mu)
    one = GaussianStats.from_features(np.ones((1, 3)))
    cache.get_or_compute({"k": 1}, lambda: one)
    back = StatsCache(tmp_path).get_or_compute({"k": 1}, lambda: _stats(9))
    assert back.n == 1 and back.sigma is None


def test_disabled_cache_always_computes():
    cache = StatsCache(None)
    cache.get_or_compute(KEY, lambda: _stats(0))
    cache.get_or_compute(KEY, lambda: _stats(0))
    assert cache.misses == 2 and cache.path(KEY) is None
