"""NMI (incl. the k-means protocol) and learned-vs-true mixing error."""
from __future__ import annotations

import numpy as np
import pytest

from ucgan.metrics.clustering_metrics import kmeans_nmi, mixing_error, nmi


def test_nmi_is_permutation_invariant():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert nmi(y, np.array([2, 2, 0, 0, 1, 1])) == pytest.approx(1.0)
    assert nmi(y, np.zeros(6, dtype=int)) == pytest.approx(0.0)


def test_kmeans_nmi_on_separable_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=float)
    y = np.repeat([0, 1, 2], [300, 100, 30])  # imbalanced
    x = centers[y] + rng.standard_normal((len(y), 3))
    r = kmeans_nmi(x, y, k=3, seeds=(0, 1))
    assert r.mean == pytest.approx(1.0) and len(r.per_seed) == 2 and r.k == 3


def test_mixing_error_known_shares():
    true = np.array([0.25, 0.75])
    r = mixing_error(true, np.array([0.7, 0.3]), np.array([1, 0]))
    np.testing.assert_allclose(r.learned, [0.3, 0.7])
    assert r.l1 == pytest.approx(0.1) and r.unmatched == 0.0


def test_mixing_error_counts_unmatched_components():
    # class 0 (0.5) split over components 0 and 2; only component 0 is matched to it
    r = mixing_error(np.array([0.5, 0.5]), np.array([0.25, 0.5, 0.25]), np.array([0, 1]),
                     fid_matrix=np.array([[1.0, 9.0, 2.0], [9.0, 1.0, 8.0]]))
    np.testing.assert_allclose(r.learned, [0.25, 0.5])
    assert r.unmatched == pytest.approx(0.25) and r.l1 == pytest.approx(0.5)
    np.testing.assert_allclose(r.learned_grouped, [0.5, 0.5])
    assert r.l1_grouped == pytest.approx(0.0)


def test_mixing_error_rejects_non_distribution():
    with pytest.raises(ValueError, match="probability"):
        mixing_error(np.array([0.5, 0.5]), np.array([0.9, 0.9]), np.array([0, 1]))
