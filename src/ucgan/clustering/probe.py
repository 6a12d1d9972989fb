"""Linear classifiers on frozen encoder features.

Two different uses, kept apart on purpose:

* :class:`FeatureClassifier` is *part of the method* (InfoSCC-GAN stage 2): a linear layer trained
  on encoder features and the k-means pseudo-labels; it is saved as tensors only and reloaded by
  the GAN to regularise conditional generation.
* :func:`linear_probe_accuracy` is *evaluation only*: how linearly separable the true classes are
  in a representation (sklearn logistic regression, train split -> test split).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from ..io import torch_load, torch_save

FORMAT = 1


class FeatureClassifier(nn.Module):
    """``logits = W ((h - mean) / std) + b``: standardisation is inside, so callers feed raw encoder features."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        self.linear = nn.Linear(in_dim, num_classes)

    @property
    def num_classes(self) -> int:
        return self.linear.out_features

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.linear((h - self.mean) / self.std)


def train_classifier(
    h: np.ndarray, labels: np.ndarray, num_classes: int, *, epochs: int = 100, lr: float = 1e-2,
    weight_decay: float = 1e-6, batch_size: int = 256, seed: int = 0,
) -> FeatureClassifier:
    """Cross-entropy training of a :class:`FeatureClassifier` on frozen features (Adam, minibatches).

    InfoSCC-GAN trains one ``nn.Linear`` on precomputed features with Adam and CE; we standardise
    the features first so one learning rate works for every backbone.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(h, dtype=torch.float32)
    y = torch.as_tensor(labels, dtype=torch.long)
    torch.manual_seed(seed)
    clf = FeatureClassifier(x.shape[1], num_classes)
    clf.mean.copy_(x.mean(0))
    clf.std.copy_(x.std(0).clamp_min(1e-6))
    opt = torch.optim.Adam(clf.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(x)
    bs = min(batch_size, n)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(clf(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return clf.eval()


@torch.no_grad()
def predict(clf: nn.Module, h: np.ndarray, batch: int = 4096) -> np.ndarray:
    x = torch.as_tensor(h, dtype=torch.float32)
    dev = next(clf.parameters()).device
    return np.concatenate([clf(x[i:i + batch].to(dev)).argmax(1).cpu().numpy() for i in range(0, len(x), batch)])


def save_classifier(path: str | Path, clf: FeatureClassifier, meta: Mapping[str, Any] | None = None) -> None:
    """Tensors + plain data only (loads with ``weights_only=True``)."""
    torch_save(path, {
        "format": FORMAT, "in_dim": int(clf.linear.in_features), "num_classes": int(clf.num_classes),
        "state": {k: v.detach().cpu() for k, v in clf.state_dict().items()}, "meta": dict(meta or {}),
    })


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> FeatureClassifier:
    """The cluster stage's classifier: encoder features (``load_encoder`` output) -> pseudo-label logits.

    Returned in eval mode with frozen parameters (gradients still flow to its input, which is what
    InfoSCC-GAN's classification regulariser needs). ``clf.meta`` holds the stored metadata.
    """
    from ..errors import DataError

    obj = torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"{path} is not a ucgan classifier (format {FORMAT}); re-run `ucgan cluster`.")
    clf = FeatureClassifier(int(obj["in_dim"]), int(obj["num_classes"]))
    clf.load_state_dict(obj["state"])
    clf.meta = dict(obj.get("meta", {}))  # type: ignore[assignment]
    clf.requires_grad_(False)
    return clf.to(device).eval()


def linear_probe_accuracy(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, *, max_iter: int = 1000,
) -> float:
    """Test accuracy of a logistic regression trained on standardised ``train_x`` and true labels.

    Evaluation only (it uses the ground truth): the usual SimCLR "linear evaluation" on frozen features.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(train_y)) < 2:
        return float("nan")
    scaler = StandardScaler().fit(train_x)
    clf = LogisticRegression(max_iter=max_iter, C=1.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning on near-separable features is harmless here
        clf.fit(scaler.transform(train_x), train_y)
    return float((clf.predict(scaler.transform(test_x)) == test_y).mean())
