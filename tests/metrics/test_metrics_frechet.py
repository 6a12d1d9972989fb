"""Fréchet distance: closed forms, a scipy.linalg.sqrtm reference, streaming statistics, torch path."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from ucgan.metrics.frechet import (
    GaussianStats,
    RunningStats,
    fid_from_stats,
    fid_matrix,
    frechet_distance,
    frechet_distance_torch,
)


def _random_spd(rng: np.random.Generator, d: int, rank: int | None = None) -> np.ndarray:
    a = rng.standard_normal((d, rank or 2 * d))
    return a @ a.T / a.shape[1] + (0.0 if rank else 1e-3) * np.eye(d)


def _reference(mu1, s1, mu2, s2) -> float:
    """Textbook FID with scipy's (non-symmetric) sqrtm: used only as the test oracle."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def test_identical_is_exactly_zero():
    rng = np.random.default_rng(0)
    s = _random_spd(rng, 16, rank=3)  # rank-deficient, like few samples in high dimension
    mu = rng.standard_normal(16)
    assert frechet_distance(mu, s, mu, s.copy()) == 0.0


def test_shifted_means_give_squared_distance():
    rng = np.random.default_rng(1)
    s = _random_spd(rng, 8)
    mu = rng.standard_normal(8)
    shift = np.arange(8) * 0.1
    assert frechet_distance(mu, s, mu + shift, s) == pytest.approx(float(shift @ shift), rel=1e-9, abs=1e-10)


def test_diagonal_gaussians_closed_form():
    v1 = np.array([1.0, 4.0, 0.25, 9.0])
    v2 = np.array([4.0, 1.0, 1.0, 0.0])  # a zero variance (degenerate) coordinate is fine
    mu1, mu2 = np.zeros(4), np.ones(4)
    expected = 4.0 + float(((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum())
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected, rel=1e-12)


def test_matches_scipy_sqrtm_reference_64d():
    rng = np.random.default_rng(2)
    for _ in range(3):
        s1, s2 = _random_spd(rng, 64), _random_spd(rng, 64)
        mu1, mu2 = rng.standard_normal(64), rng.standard_normal(64) * 0.1
        ours = frechet_distance(mu1, s1, mu2, s2)
        ref = _reference(mu1, s1, mu2, s2)
        assert abs(ours - ref) / abs(ref) < 1e-6
        assert abs(frechet_distance_torch(mu1, s1, mu2, s2) - ref) / abs(ref) < 1e-6


def test_symmetric_in_its_arguments():
    rng = np.random.default_rng(3)
    s1, s2 = _random_spd(rng, 32), _random_spd(rng, 32)
    mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_running_stats_match_numpy_and_chunking():
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((1000, 5)) * [1, 2, 3, 4, 5] + 1000.0).astype(np.float32)  # large offset
    whole = GaussianStats.from_features(x)
    acc = RunningStats()
    for part in np.array_split(x, 7):
        acc.update(part)
    parts = acc.finalize()
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(whole.mu, x64.mean(0), rtol=1e-12)
    np.testing.assert_allclose(whole.sigma, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(parts.sigma, whole.sigma, rtol=1e-9, atol=1e-9)
    assert whole.sigma.dtype == np.float64 and parts.n == 1000


def test_fewer_than_two_samples_is_inf():
    one = GaussianStats.from_features(np.ones((1, 3)))
    ok = GaussianStats.from_features(np.random.default_rng(0).standard_normal((10, 3)))
    assert not one.valid and fid_from_stats(one, ok) == float("inf")


def test_fid_matrix_equals_pairwise_and_torch():
    rng = np.random.default_rng(5)
    real = [GaussianStats.from_features(rng.standard_normal((50, 6)) + i) for i in range(3)]
    fake = [GaussianStats.from_features(rng.standard_normal((40, 6)) * 1.5 + i) for i in range(4)]
    fake.append(GaussianStats.from_features(np.zeros((1, 6))))  # starved
    d = fid_matrix(real, fake)
    for i, r in enumerate(real):
        for j, f in enumerate(fake):
            assert d[i, j] == pytest.approx(fid_from_stats(r, f), rel=1e-10) or (np.isinf(d[i, j]) and j == 4)
    np.testing.assert_allclose(fid_matrix(real, fake, device="cpu"), d, rtol=1e-9)


def test_lowrank_route_equals_full_route_for_few_samples():
    from ucgan.metrics.fid import fid, icfid
    from ucgan.metrics.frechet import frechet_distance_lowrank

    rng = np.random.default_rng(6)
    x1, x2 = rng.standard_normal((7, 40)), rng.standard_normal((12, 40)) * 2 + 0.5
    full = fid_from_stats(GaussianStats.from_features(x1), GaussianStats.from_features(x2))
    # rank-deficient covariances: the d x d route carries ~sqrt(machine eps) per null direction
    # (square roots of round-off eigenvalues), the low-rank route does not; hence 1e-6, not 1e-12
    assert frechet_distance_lowrank(x1, x2) == pytest.approx(full, rel=1e-6)
    assert fid(x1, x2) == frechet_distance_lowrank(x1, x2) and fid(x1, x1.copy()) == 0.0
    sets = [rng.standard_normal((5, 30)) + i for i in range(3)]
    low = icfid(sets[:2], sets)
    high = icfid([GaussianStats.from_features(s) for s in sets[:2]], sets)
    np.testing.assert_allclose(low.fid_matrix, high.fid_matrix, rtol=1e-6)
    np.testing.assert_array_equal(low.assignment, high.assignment)


def test_covariance_of_starved_stats_is_a_clear_error():
    one = GaussianStats.from_features(np.ones((1, 3)))
    assert not one.valid
    with pytest.raises(ValueError, match="at least 2"):
        one.covariance()
    two = GaussianStats.from_features(np.arange(6.0).reshape(2, 3))
    assert two.covariance() is two.sigma
