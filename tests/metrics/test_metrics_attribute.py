"""Attribute control accuracy and the Chamfer distance."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ucgan.metrics.attribute import attribute_accuracy, chamfer_distance


def test_attribute_accuracy_with_logits_and_ids():
    # component c generates points at x = c; the classifier says class = round(x) except 2 -> 0
    def sample_fn(n, c):
        return torch.full((n, 1), float(c))

    def clf_logits(x):
        ids = x[:, 0].round().long()
        ids = torch.where(ids == 2, torch.zeros_like(ids), ids)
        return torch.nn.functional.one_hot(ids, 3).float()

    assignment = np.array([1, 0, 2])  # class 0 <- component 1, class 1 <- component 0, class 2 <- component 2
    r = attribute_accuracy(clf_logits, sample_fn, assignment, num_components=4, n_per_component=10, batch_size=4)
    # component 0 -> class 1 but predicted 0: wrong; component 1 -> class 0, predicted 1: wrong;
    # component 2 -> class 2, predicted 0: wrong; component 3 unmatched
    assert np.isnan(r.per_component[3]) and r.mean == 0.0
    r2 = attribute_accuracy(lambda x: x[:, 0].round().long(), sample_fn, np.array([0, 1, 2]), 3, n_per_component=5)
    np.testing.assert_allclose(r2.per_component, [1.0, 1.0, 1.0])
    assert r2.to_dict()["attribute_accuracy_independent"] == 1.0


def test_chamfer_distance():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    assert chamfer_distance(a, a) == 0.0
    assert chamfer_distance(a, a + [0.0, 2.0]) == pytest.approx(4.0)
