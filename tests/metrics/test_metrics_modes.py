"""Synthetic mode metrics (Self-Conditioned GAN §4.2 / its evaluation code) on hand-made samples."""
from __future__ import annotations

import numpy as np
import pytest

from ucgan.errors import DataError
from ucgan.metrics.modes import mode_metrics

CENTERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
STD = 0.01


def test_known_counts_coverage_quality_and_kl():
    samples = np.array([
        [0.0, 0.0], [0.02, -0.02],   # mode 0, high quality (within 3 std = 0.03 per coordinate)
        [1.0, 0.029],                # mode 1, high quality (box, per coordinate)
        [1.0, 0.5 - 0.01],           # nearest mode 1, not high quality
        [0.04, 0.0],                 # nearest mode 0, outside the box (0.04 > 0.03)
        [0.0, 1.0 + 0.031],          # nearest mode 2, outside the box
    ])
    m = mode_metrics(samples, CENTERS, STD)
    assert m.num_modes == 4 and m.modes_covered == 2
    assert m.high_quality_share == pytest.approx(3 / 6)
    p = np.array([3, 2, 1, 0]) / 6
    expected = sum(pi * np.log(4 * pi) for pi in p if pi > 0)  # SCGAN: sum p log(K p)
    assert m.reverse_kl_uniform == pytest.approx(expected)
    assert m.reverse_kl == pytest.approx(expected)  # uniform truth by default
    np.testing.assert_allclose(m.nearest_mode_shares, p)


def test_perfect_generator_with_true_imbalanced_shares():
    rng = np.random.default_rng(0)
    shares = np.array([0.1, 0.2, 0.3, 0.4])
    counts = (shares * 10000).astype(int)
    x = np.concatenate([c + rng.standard_normal((n, 2)) * STD for c, n in zip(CENTERS, counts)])
    m = mode_metrics(x, CENTERS, STD, true_shares=shares)
    assert m.modes_covered == 4 and m.high_quality_share > 0.98
    assert m.reverse_kl == pytest.approx(0.0, abs=1e-12)
    assert m.reverse_kl_uniform > 0.05  # a uniform target would wrongly penalise the right ratios


def test_per_mode_and_per_dim_std():
    x = np.array([[0.05, 0.0]])
    assert mode_metrics(x, CENTERS, np.array([0.02, 0.01, 0.01, 0.01])).high_quality_share == 1.0
    assert mode_metrics(x, CENTERS, np.array([[0.01, 0.02]] * 4)).high_quality_share == 0.0
    with pytest.raises(DataError):
        mode_metrics(x, CENTERS, np.array([0.1, 0.1, 0.1]))
