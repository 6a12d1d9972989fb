"""The comparable evaluation protocol: what makes one line of the report measured like the next.

* **Independent extractor.** A method declares the pipeline artifacts it consumes
  (:attr:`ucgan.methods.base.Method.consumes`). A generator trained through an encoder (InfoSCC-GAN's
  classification regularisation) or conditioned on it (LSC-GAN) is scored too kindly by that same
  encoder, so :func:`check_extractor_independent` refuses the pair. The CPU profile scores images
  with a separate evaluation encoder (``ucgan pretrain --role eval``: own stage, own seed, never
  given to a method); the paper profile uses Inception.
* **NMI** (SLOGAN §4.3 and appendix A): k-means with k = K on the method's own representation of the
  test split (:meth:`~ucgan.methods.base.Method.representation`); for methods without an encoder the
  discriminator's penultimate layer before its activation (:func:`penultimate_preactivation`).
* **ICFID with equal N** (SLOGAN Algorithm 2): N real samples per class and N fakes per component,
  N = the smallest test-class count unless configured (:func:`icfid_n`).
* **k-NN precision and recall** (Kynkäänniemi et al., NeurIPS 2019, k = 3): :func:`knn_precision_recall`.
* **Cluster purity** (Self-Conditioned GAN, Liu et al. CVPR 2020, Table 5): :func:`purity`.
* **Inception Score** (Salimans et al. 2016) from class probabilities: :func:`inception_score`.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, cast

import numpy as np
import torch
from torch import nn

from .. import layout
from ..errors import UcganError

#: Extractor names and the pipeline artifact each one *is* (a method that consumed the artifact
#: cannot be scored with it). ``eval-encoder`` is trained by its own stage for evaluation only.
EXTRACTOR_ARTIFACT: Mapping[str, str | None] = {
    "encoder": "encoder",
    "eval-encoder": None,
    "inception": None,
    "raw": None,
}

_ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.ELU, nn.SiLU, nn.GELU, nn.Tanh, nn.Softplus)


def check_extractor_independent(
    method: Any, extractor: str, extractor_id: str = "", consumed_ids: Sequence[str] = (), variant: str = "",
) -> None:
    """Raise :class:`UcganError` when ``method`` consumed the feature extractor it is about to be scored with.

    Two checks: by name (extractor ``encoder`` is the pretrain stage's encoder, which methods with
    ``"encoder"`` in :attr:`consumes` train through), and by weights (``extractor_id`` equal to the
    fingerprint of a network the method consumed, e.g. an eval encoder pointed at the same file).
    """
    consumes = tuple(getattr(method, "consumes", ()))
    name = variant or getattr(method, "name", type(method).__name__)
    artifact = EXTRACTOR_ARTIFACT.get(extractor)
    same_weights = bool(extractor_id) and any(cid and cid in extractor_id for cid in consumed_ids)
    if (artifact is not None and artifact in consumes) or same_weights:
        raise UcganError(
            f"refusing to score {name} with extractor {extractor!r}{f' ({extractor_id})' if extractor_id else ''}: "
            f"{name} consumes the pipeline's {', '.join(consumes)} (it trained through or conditioned on that "
            "network), so that network would score it too kindly and its numbers would not be comparable. "
            "Fix: set evaluate.datasets.<dataset>.extractor to 'eval-encoder' (the independent encoder of "
            "`ucgan pretrain --role eval`, stage eval-encoder) or 'inception'."
        )


def penultimate_preactivation(disc: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The discriminator's penultimate layer *before* its nonlinearity, flattened to (N, F).

    SLOGAN appendix A clusters "the penultimate layer's pre-activation" of D for methods without an
    encoder. The appendix-E bodies end ``..., Linear/Conv, LeakyReLU[, Flatten]``, so the input of the
    body's last activation module is that pre-activation; bodies without a separate activation
    (maxout) already end in it and their output is used.
    """
    body = getattr(disc, "body", disc)
    acts = [m for m in body.modules() if isinstance(m, _ACTIVATIONS)]
    if not acts:
        net = cast("Callable[[torch.Tensor], torch.Tensor]", disc.features if hasattr(disc, "features") else body)
        out = net(x)
        return out.reshape(len(out), -1)
    captured: list[torch.Tensor] = []
    handle = acts[-1].register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach()))
    try:
        with torch.no_grad():
            body(x)
    finally:
        handle.remove()
    pre = captured[-1]
    return pre.reshape(len(pre), -1)


def icfid_n(test_class_counts: Sequence[int] | np.ndarray, configured: int = 0) -> int:
    """N of Algorithm 2: the configured ``icfid_n`` or the smallest test-class count (>= 2 for a covariance)."""
    counts = np.asarray(test_class_counts, dtype=np.int64)
    n = int(configured) if configured else int(counts.min()) if counts.size else 0
    if n < 2:
        raise UcganError(f"ICFID needs N >= 2 samples per class, got N = {n} (test-class counts {counts.tolist()}); "
                         "set evaluate.default.icfid_n or give every class at least 2 test samples")
    return n


def per_class_subsample(y: np.ndarray, num_classes: int, n: int, seed: int) -> np.ndarray:
    """Indices of ``n`` samples of every class, drawn without replacement (seeded), sorted.

    A class with fewer than ``n`` samples raises: Algorithm 2 compares equal-size sets, and padding
    by replacement would shrink that class's covariance.
    """
    rng = np.random.default_rng(seed)
    out = []
    for c in range(num_classes):
        idx = np.flatnonzero(y == c)
        if len(idx) < n:
            raise UcganError(f"class {c} has {len(idx)} real samples in the reference split, fewer than "
                             f"icfid_n = {n}; lower evaluate.*.icfid_n (0 = smallest test-class count)")
        out.append(np.sort(rng.choice(idx, n, replace=False)))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def _kth_nn_radius(x: np.ndarray, k: int, chunk: int = 2048) -> np.ndarray:
    """Distance of every row of ``x`` to its k-th nearest other row."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        d = torch.cdist(xt[s : s + chunk], xt)
        # k+1: the row itself is at distance 0
        out[s : s + chunk] = torch.topk(d, k + 1, dim=1, largest=False).values[:, k].numpy()
    return out


def _covered(query: np.ndarray, ref: np.ndarray, radii: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """For each query row: is it inside the k-NN ball of some reference row?"""
    q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float64))
    r = torch.from_numpy(np.ascontiguousarray(ref, dtype=np.float64))
    rad = torch.from_numpy(radii)
    out = np.empty(len(query), dtype=bool)
    for s in range(0, len(query), chunk):
        out[s : s + chunk] = (torch.cdist(q[s : s + chunk], r) <= rad[None, :]).any(dim=1).numpy()
    return out


def knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) in a feature space.

    The real manifold is the union of balls around each real feature with radius its distance to its
    k-th nearest real neighbour; precision = share of fakes inside it. Recall swaps the roles.
    """
    real = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
    fake = np.asarray(fake, dtype=np.float64).reshape(len(fake), -1)
    if len(real) <= k or len(fake) <= k:
        raise ValueError(f"k-NN precision/recall with k={k} needs more than {k} real and fake samples, "
                         f"got {len(real)} and {len(fake)}")
    precision = float(_covered(fake, real, _kth_nn_radius(real, k)).mean())
    recall = float(_covered(real, fake, _kth_nn_radius(fake, k)).mean())
    return precision, recall


def purity(y_true: np.ndarray, clusters: np.ndarray) -> float:
    """Cluster purity: each cluster votes for its majority class; share of samples in the majority.

    Self-Conditioned GAN (Table 5) reports it next to NMI; it is blind to several clusters sharing
    one class, which is why NMI stays the headline number (SLOGAN appendix D.6).
    """
    y = np.asarray(y_true, dtype=np.int64).ravel()
    c = np.asarray(clusters, dtype=np.int64).ravel()
    if y.shape != c.shape or not len(y):
        raise ValueError(f"purity needs two equal, non-empty label arrays, got {y.shape} and {c.shape}")
    total = 0
    for k in np.unique(c):
        total += int(np.bincount(y[c == k]).max())
    return total / len(y)


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score, mean and std over ``splits`` folds: exp E_x KL(p(y|x) || p(y))."""
    p = np.asarray(probs, dtype=np.float64)
    scores = []
    for part in np.array_split(p, max(1, min(splits, len(p)))):
        py = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(py + 1e-12))).sum(axis=1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


#: Output folder of the eval-encoder stage (``ucgan pretrain --role eval``), one per dataset.
EVAL_ENCODER_ROOT = layout.encoder_dir("", "eval").as_posix().rstrip("/")


def eval_encoder_path(dataset: str) -> str:
    """``models/eval-encoders/<dataset>/encoder.pt``: the independent evaluation encoder."""
    return (layout.encoder_dir(dataset, "eval") / "encoder.pt").as_posix()


def eval_encoder_resources(
    method: Any, variant: str, dataset: str, extractor: str, resources: Mapping[str, Any], device: Any,
) -> tuple[Any, tuple[str, ...]]:
    """Load the encoder that scores ``method`` and the fingerprints of the networks it consumed.

    Refuses (before loading anything) the pretrain stage's encoder for a method that consumed it.
    """
    from pathlib import Path

    from ..encoders import load_encoder
    from .extractors import module_fingerprint

    check_extractor_independent(method, extractor, variant=variant)
    if extractor == "encoder":
        path = Path(resources["encoder_path"])
        fix = f"run `dvc repro pretrain@{dataset}` first"
    else:
        path = Path(eval_encoder_path(dataset))
        fix = f"run `dvc repro eval-encoder@{dataset}` (or `ucgan pretrain --role eval --dataset {dataset}`) first"
    if not path.is_file():
        raise UcganError(f"evaluate.extractor {extractor!r} needs {path}; {fix}")
    consumed: list[str] = []
    pre = Path(resources["encoder_path"])
    if "encoder" in tuple(getattr(method, "consumes", ())) and pre.is_file():
        consumed.append(module_fingerprint(load_encoder(pre, device)))
    return load_encoder(path, device), tuple(consumed)
