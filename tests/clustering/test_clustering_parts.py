"""k-means pseudo-labels, scores, neighbour statistics and the tensors-only classifier."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ucgan.clustering.kmeans import Representation, cluster_accuracy, fit_kmeans, nmi, order_by_size
from ucgan.clustering.neighbours import chance_share, same_class_neighbour_share
from ucgan.clustering.probe import linear_probe_accuracy, load_classifier, predict, save_classifier, train_classifier


def _blobs(counts=(300, 100, 50), d=5, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 10, size=(len(counts), d))
    x = np.concatenate([rng.normal(c, 0.5, size=(n, d)) for c, n in zip(centers, counts)])
    y = np.concatenate([np.full(n, i) for i, n in enumerate(counts)])
    return x.astype(np.float32), y


def test_kmeans_recovers_imbalanced_blobs_and_orders_by_size():
    x, y = _blobs()
    km = fit_kmeans(x, 3, n_init=4, seed=0)
    labels, centers, old_to_new = order_by_size(km.labels_, km.cluster_centers_, 3)
    assert nmi(y, labels) == pytest.approx(1.0)
    assert np.bincount(labels).tolist() == [300, 100, 50]      # 0 = largest cluster
    assert np.array_equal(labels, y)                             # blobs were generated in size order
    assert np.allclose(centers[old_to_new[km.labels_[0]]], km.cluster_centers_[km.labels_[0]])


def test_cluster_accuracy_is_permutation_invariant():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert cluster_accuracy(y, np.array([0, 0, 0, 1, 2, 2])) == pytest.approx(5 / 6)


def test_representation_fits_on_train_only():
    rep = Representation(standardize=True, l2=True).fit(np.array([[0.0, 0.0], [2.0, 4.0]]))
    out = rep.transform(np.array([[1.0, 2.0], [3.0, 2.0]]))
    assert np.allclose(out[0], 0.0)                              # the train mean maps to 0 (norm guarded)
    assert np.allclose(np.linalg.norm(out[1]), 1.0)


def test_neighbour_shares_on_known_answer():
    # 1-D points 0, 1, 3 with classes A, A, B: 1st neighbours 1->A, 0->A, 1->A (for 3): 2 of 3 match;
    # 2nd neighbours 3->B, 3->B, 0->A: none match.
    x = np.array([[0.0], [1.0], [3.0]])
    y = np.array([0, 0, 1])
    assert same_class_neighbour_share(x, y, (1, 2)) == {1: pytest.approx(2 / 3), 2: 0.0}
    x, y = _blobs()
    shares = same_class_neighbour_share(x, y, (1, 2, 5), "l2")
    assert shares == {1: 1.0, 2: 1.0, 5: 1.0}
    assert chance_share(np.array([0, 0, 0, 1])) == pytest.approx(0.625)


def test_classifier_round_trip_tensors_only(tmp_path):
    x, y = _blobs()
    x = x * 100 + 50                                              # raw scale: standardisation is inside
    clf = train_classifier(x, y, 3, epochs=20, seed=0)
    before = predict(clf, x)
    assert (before == y).mean() > 0.99
    save_classifier(tmp_path / "c.pt", clf, {"k": 3, "input": "backbone"})
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(raw) == {"format", "in_dim", "num_classes", "state", "meta"}
    loaded = load_classifier(tmp_path / "c.pt")
    assert np.array_equal(predict(loaded, x), before)
    assert loaded.meta == {"k": 3, "input": "backbone"}
    h = torch.as_tensor(x[:3]).requires_grad_(True)
    torch.nn.functional.cross_entropy(loaded(h), torch.tensor([0, 0, 0])).backward()
    assert h.grad is not None and all(not p.requires_grad for p in loaded.parameters())


def test_linear_probe_accuracy():
    x, y = _blobs()
    assert linear_probe_accuracy(x[::2], y[::2], x[1::2], y[1::2]) == 1.0
