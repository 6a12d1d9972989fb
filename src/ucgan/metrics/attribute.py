"""Attribute control accuracy (InfoSCC-GAN) and a feature-space Chamfer distance.

Attribute control accuracy asks: when we generate from component ``c``, does a classifier trained
on *labelled* real data (evaluation only, never seen by the GAN) recognise the class ``c`` was
matched to? It complements ICFID: ICFID measures distribution match, this measures control.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
import torch

Classifier = Callable[[torch.Tensor], Any]


@dataclasses.dataclass(frozen=True)
class AttributeAccuracy:
    """``per_component[c]``: share of samples of component ``c`` labelled as its matched class
    (NaN for components matched to no class); ``mean``: mean over matched components."""

    per_component: np.ndarray
    component_to_class: np.ndarray
    mean: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute_accuracy_independent": self.mean,
            "attribute_accuracy_independent_per_component": [None if np.isnan(v) else float(v) for v in self.per_component],
        }


def predict_ids(classifier: Classifier, x: torch.Tensor) -> np.ndarray:
    """Class ids from a classifier that returns logits/probabilities ``(N, K)`` or ids ``(N,)``."""
    with torch.no_grad():
        out = classifier(x)
    out = out.detach().cpu() if isinstance(out, torch.Tensor) else torch.as_tensor(np.asarray(out))
    if out.ndim == 2:
        return out.argmax(dim=1).numpy().astype(np.int64)
    if out.ndim == 1:
        return out.numpy().astype(np.int64)
    raise ValueError(f"classifier output must be (N, K) scores or (N,) ids, got shape {tuple(out.shape)}")


def component_to_class(assignment: np.ndarray, num_components: int) -> np.ndarray:
    """Invert ICFID's class -> component assignment; unmatched components get -1."""
    inv = np.full(num_components, -1, dtype=np.int64)
    for y, c in enumerate(np.asarray(assignment, dtype=np.int64)):
        if c >= 0:
            inv[c] = y
    return inv


def attribute_accuracy_from_predictions(
    predictions_per_component: list[np.ndarray], comp_to_class: np.ndarray
) -> AttributeAccuracy:
    """Accuracy from predicted class ids of each component's samples."""
    acc = np.full(len(predictions_per_component), np.nan)
    for c, pred in enumerate(predictions_per_component):
        y = int(comp_to_class[c])
        if y >= 0 and len(pred):
            acc[c] = float(np.mean(np.asarray(pred) == y))
    matched = ~np.isnan(acc)
    return AttributeAccuracy(acc, np.asarray(comp_to_class), float(acc[matched].mean()) if matched.any() else float("nan"))


def attribute_accuracy(
    classifier: Classifier,
    sample_fn: Callable[[int, int], torch.Tensor],
    assignment: np.ndarray,
    num_components: int,
    n_per_component: int = 1000,
    batch_size: int = 256,
) -> AttributeAccuracy:
    """Generate ``n_per_component`` samples per component with ``sample_fn(n, c)`` (data range) and
    classify them; a sample is correct when labelled as the class ICFID matched to ``c``.
    Components no class was matched to are skipped (NaN), since they have no intended attribute."""
    inv = component_to_class(assignment, num_components)
    preds: list[np.ndarray] = []
    for c in range(num_components):
        if inv[c] < 0:
            preds.append(np.zeros(0, dtype=np.int64))
            continue
        parts = []
        for s in range(0, n_per_component, batch_size):
            parts.append(predict_ids(classifier, sample_fn(min(batch_size, n_per_component - s), c)))
        preds.append(np.concatenate(parts))
    return attribute_accuracy_from_predictions(preds, inv)


@dataclasses.dataclass
class LabelClassifier:
    """An evaluation-only classifier of the true labels (never shown to a GAN).

    ``kind`` names it in every metrics file; ``test_accuracy`` on the held-out split bounds what
    attribute control accuracy can mean (a 90 % classifier cannot certify 99 % control).
    """

    kind: str
    test_accuracy: float
    model: Any

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.detach().cpu().numpy().reshape(len(x), -1)
        return torch.as_tensor(self.model.predict(flat))


def fit_label_classifier(train: Any, test: Any | None, max_train: int = 10000, seed: int = 0) -> LabelClassifier:
    """Fit the default label classifier of a split: 15-nearest-neighbours on 2-D points (the mixture
    components are compact blobs), L2-regularised logistic regression on pixels or vector features
    otherwise (multinomial, ``C=0.1``: ~97 % on MNIST digits, no network to train). At most
    ``max_train`` training samples (seeded) keep it to seconds on a laptop."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    x, y = np.asarray(train.x), np.asarray(train.y)
    if len(y) > max_train:
        idx = np.sort(np.random.default_rng(seed).choice(len(y), max_train, replace=False))
        x, y = x[idx], y[idx]
    x = x.reshape(len(x), -1)
    if train.modality == "points":
        k = min(15, len(y))  # tiny custom datasets: fewer training points than neighbours
        kind, model = f"knn{k}-raw", KNeighborsClassifier(n_neighbors=k)
    else:
        kind, model = "logreg-raw", LogisticRegression(max_iter=2000, C=0.1)
    model.fit(x, y)
    held = test if test is not None and len(test.y) else train
    acc = float(np.mean(model.predict(np.asarray(held.x).reshape(len(held.x), -1)) == np.asarray(held.y)))
    return LabelClassifier(kind, acc, model)


def chamfer_distance(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> float:
    """Symmetric Chamfer distance ``mean_a min_b |a-b| + mean_b min_a |a-b|`` (Euclidean).

    InfoSCC-GAN reports it on a 3-D t-SNE of encoder features; t-SNE is slow and not reproducible
    across sample sets, so here it is computed on the features directly (numbers are therefore
    not comparable with the paper's, only between methods evaluated here).
    """
    ta = torch.as_tensor(np.asarray(a, np.float64)).reshape(len(a), -1)
    tb = torch.as_tensor(np.asarray(b, np.float64)).reshape(len(b), -1)
    if len(ta) == 0 or len(tb) == 0:
        return float("nan")

    def one_way(p: torch.Tensor, r: torch.Tensor) -> float:
        mins = [torch.cdist(p[s : s + chunk], r).min(dim=1).values for s in range(0, len(p), chunk)]
        return float(torch.cat(mins).mean())

    return one_way(ta, tb) + one_way(tb, ta)
