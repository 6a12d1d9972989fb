"""ICFID (SLOGAN Algorithm 2) and its matchings."""
from __future__ import annotations

import numpy as np
import pytest

from ucgan.errors import ConfigError
from ucgan.metrics.fid import fid, icfid, icfid_from_matrix, match_greedy, match_hungarian


def _blobs(rng, centers, n=300, d=4):
    return [rng.standard_normal((n, d)) * 0.5 + c for c in centers]


CENTERS = [np.full(4, 0.0), np.full(4, 3.0), np.full(4, -3.0), np.array([3.0, -3.0, 3.0, -3.0])]


def test_known_assignment_with_shuffled_clusters():
    rng = np.random.default_rng(0)
    real = _blobs(rng, CENTERS)
    perm = np.array([2, 0, 3, 1])  # cluster j generates class perm[j]
    fake = _blobs(rng, [CENTERS[p] for p in perm])
    res = icfid(real, fake)
    expected = np.argsort(perm)  # class y -> cluster j with perm[j] == y
    np.testing.assert_array_equal(res.assignment, expected)
    assert res.fid_matrix.shape == (4, 4)
    assert res.value == pytest.approx(res.per_class.mean())
    assert res.value < 0.2  # matched pairs: same distribution, only sampling noise
    for y, c in enumerate(res.assignment):
        assert res.per_class[y] == pytest.approx(fid(real[y], fake[c]), rel=1e-9)


def test_more_clusters_than_classes():
    rng = np.random.default_rng(1)
    real = _blobs(rng, CENTERS[:2])
    # 6 clusters: decoys far away, the true ones at positions 4 and 1
    centers = [np.full(4, 10.0), CENTERS[1], np.full(4, -10.0), np.full(4, 20.0), CENTERS[0], np.full(4, 7.0)]
    res = icfid(real, _blobs(rng, centers), matching="greedy")
    np.testing.assert_array_equal(res.assignment, [4, 1])
    assert res.fid_matrix.shape == (2, 6) and len(res.per_class) == 2
    res_h = icfid(real, _blobs(rng, centers), matching="hungarian")
    np.testing.assert_array_equal(res_h.assignment, [4, 1])


def test_greedy_and_hungarian_differ_on_crafted_matrix():
    d = np.array([[1.0, 2.0], [1.5, 100.0]])
    g = icfid_from_matrix(d, "greedy")  # class 0 grabs cluster 0 first, class 1 is left with 100
    h = icfid_from_matrix(d, "hungarian")  # 2 + 1.5 < 1 + 100
    np.testing.assert_array_equal(g.assignment, [0, 1])
    np.testing.assert_array_equal(h.assignment, [1, 0])
    assert g.value == pytest.approx(50.5) and h.value == pytest.approx(1.75)


def test_starved_cluster_never_matched_unless_unavoidable():
    d = np.array([[np.inf, 5.0, 7.0], [np.inf, 6.0, 1.0]])
    assert list(match_greedy(d)) == [1, 2]
    assert list(match_hungarian(d)) == [1, 2]
    forced = np.array([[np.inf, 3.0], [np.inf, 4.0]])
    assert list(match_greedy(forced)) == [1, 0]
    res = icfid_from_matrix(forced, "hungarian")
    assert sorted(res.assignment) == [0, 1] and res.value == np.inf


def test_starved_cluster_from_features_gets_inf():
    rng = np.random.default_rng(2)
    real = _blobs(rng, CENTERS[:2])
    fake = [rng.standard_normal((1, 4)), *_blobs(rng, CENTERS[:2])]
    res = icfid(real, fake)
    assert np.isinf(res.fid_matrix[:, 0]).all()
    np.testing.assert_array_equal(res.assignment, [1, 2])


def test_fewer_clusters_than_classes():
    res = icfid_from_matrix(np.array([[1.0], [2.0]]))
    assert list(res.assignment) == [0, -1] and np.isinf(res.per_class[1]) and np.isinf(res.value)


def test_unknown_matching_is_config_error():
    with pytest.raises(ConfigError, match="hungarian"):
        icfid_from_matrix(np.ones((2, 2)), "optimal")  # type: ignore[arg-type]
