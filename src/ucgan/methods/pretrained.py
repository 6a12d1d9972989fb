"""The pipeline's frozen pieces that encoder-conditioned methods train on (InfoSCC-GAN, LSC-GAN,
PGMGAN): the pretrain stage's encoder, the cluster stage's k-means labels, shares and classifier.

Loaders, checks and :class:`FrozenPipeline`, the mixin that holds them on a method (attach, the
checkpointed part of their state, and the assign / features / mixing they give): one copy, so the
three methods check the same things and save the same keys. :class:`ClusterConditioned` adds the
declarations of the two methods whose attributes are the cluster stage's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, DataError


def module_fingerprint(module: nn.Module) -> float:
    """A cheap checksum of a module's floating-point state: detects a model file evaluated with
    another encoder/classifier than the one it was trained with."""
    total = 0.0
    for t in module.state_dict().values():
        if t.dtype.is_floating_point:
            total += float(t.detach().double().abs().sum()) + 0.5 * float(t.detach().double().sum())
    return total


def same_fingerprint(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def _path(resources: Mapping[str, Any], key: str, where: str) -> Path:
    if not resources.get(key):
        raise ConfigError(f"{where} needs the resource {key!r} (the train/evaluate stages pass the "
                          f"pretrain/cluster outputs); call attach() with it")
    p = Path(resources[key])
    if not p.is_file():
        raise DataError(f"{where}: {p} does not exist; run `ucgan pretrain` and `ucgan cluster` for this "
                        "dataset (or `dvc repro cluster@<dataset>`) first")
    return p


def load_frozen_encoder(resources: Mapping[str, Any], device: torch.device, where: str) -> nn.Module:
    """The pretrain stage's encoder: data-range tensors -> backbone features, eval mode, frozen."""
    from ..encoders import load_encoder

    return load_encoder(_path(resources, "encoder_path", where), device)


def load_clusters(resources: Mapping[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(train_labels, shares)`` of the cluster stage (k-means inner attributes, cluster 0 = largest)."""
    p = _path(resources, "clusters_path", where)
    try:
        with np.load(p, allow_pickle=False) as f:
            labels, shares = f["train_labels"].astype(np.int64), f["shares"].astype(np.float64)
    except (KeyError, ValueError, OSError) as exc:
        raise DataError(f"{p} is not a cluster-stage output ({exc}); re-run `ucgan cluster`") from exc
    return labels, shares


def load_frozen_classifier(resources: Mapping[str, Any], device: torch.device, feature_dim: int,
                           where: str) -> nn.Module:
    """The cluster stage's linear classifier on encoder features (frozen, eval mode)."""
    from ..clustering import load_classifier

    p = _path(resources, "classifier_path", where)
    clf = load_classifier(p, device)
    if int(clf.linear.in_features) != int(feature_dim):
        raise DataError(f"{p} expects {clf.linear.in_features}-d features but the encoder gives {feature_dim}; "
                        "it was trained on another encoder: re-run `ucgan cluster` after `ucgan pretrain`")
    return clf


def classifier_from_state(state: Mapping[str, torch.Tensor], device: torch.device) -> nn.Module:
    """Rebuild a frozen :class:`~ucgan.clustering.probe.FeatureClassifier` from its state dict."""
    from ..clustering.probe import FeatureClassifier

    k, d = state["linear.weight"].shape
    clf = FeatureClassifier(int(d), int(k))
    clf.load_state_dict(dict(state))
    clf.requires_grad_(False)
    return clf.to(device).eval()


@torch.no_grad()
def encode(encoder: nn.Module, x: np.ndarray | torch.Tensor, device: torch.device, batch: int = 512) -> torch.Tensor:
    """Encoder features of data-range samples, batch-wise, on ``device``."""
    xt = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([encoder(xt[i:i + batch].to(device)) for i in range(0, len(xt), batch)])


def check_components(k_found: int, k_method: int, where: str, source: str) -> None:
    if k_found != k_method:
        raise ConfigError(
            f"{where}: the method generates from num_components={k_method} attributes but {source} has "
            f"{k_found}; set methods.<method>.num_components to {k_found} or re-run the cluster stage with "
            f"cluster.k = {k_method}"
        )


class FrozenPipeline:
    """Mixin (listed before :class:`~ucgan.methods.base.Method`) for a method conditioned on the frozen
    encoder ``E`` and classifier ``C`` of the pretrain/cluster stages, with the clusters' training
    shares ``_shares``.

    Gives ``assign`` (C's cluster of E(x)), ``features`` (E(x)), ``mixing`` (the shares) and the
    checkpointed part (shares, classifier weights, encoder fingerprint): the encoder itself is not
    saved, it is re-attached from the pipeline at evaluation and its fingerprint must match.
    """

    needs_encoder: ClassVar[bool] = True
    #: what errors call E + C when they are missing (PGMGAN: its partitioner)
    frozen_parts: ClassVar[str] = "the frozen encoder/classifier"

    def _init_frozen(self, shares_device: torch.device | None = None) -> None:
        """Nothing attached yet: uniform shares until :meth:`_attach_clusters` or a loaded state."""
        self.E: nn.Module | None = None
        self.C: nn.Module | None = None
        self._encoder_fp: float | None = None
        k = self.num_components
        self._shares = torch.full((k,), 1.0 / k, dtype=torch.float64, device=shares_device)

    @property
    def _where(self) -> str:
        return f"{self.name} ({self.info.dataset or 'dataset'})"

    def _attach_needs(self) -> str:
        """The attach() resources that load E and C (named in the error when they are missing)."""
        return "encoder_path, clusters_path and classifier_path"

    def _frozen_pair(self) -> tuple[nn.Module, nn.Module]:
        if self.E is None or self.C is None:
            raise ConfigError(f"{self.name}: {self.frozen_parts} of the pretrain/cluster stages is not loaded; call "
                              f"attach() with {self._attach_needs()} (the train stage does) or load a trained state")
        return self.E, self.C

    def _attach_encoder(self, resources: Mapping[str, Any]) -> nn.Module:
        self.E = load_frozen_encoder(resources, self.device, self._where)
        self._encoder_fp = module_fingerprint(self.E)
        return self.E

    def _attach_clusters(self, resources: Mapping[str, Any]) -> np.ndarray:
        """Load the cluster stage's classifier (on E's features) and shares, checked against K and the
        training split; returns the training labels. Needs :meth:`_attach_encoder` first."""
        assert self.E is not None
        where, k = self._where, self.num_components
        labels, shares = load_clusters(resources, where)
        check_components(len(shares), k, where, str(resources["clusters_path"]))
        train_x = resources.get("train_x")
        if train_x is not None and len(train_x) != len(labels):
            raise DataError(f"{where}: clusters.npz labels {len(labels)} training samples but the split has "
                            f"{len(train_x)}; re-run `ucgan cluster` on the current data")
        self.C = load_frozen_classifier(resources, self.device, int(self.E.feature_dim), where)
        check_components(self.C.num_classes, k, where, str(resources["classifier_path"]))
        self._shares = torch.as_tensor(shares / shares.sum(), dtype=torch.float64, device=self._shares.device)
        return labels

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder-space cluster of real data: the cluster stage's classifier on ``E(x)``."""
        enc, cla = self._frozen_pair()
        return cla(enc(x)).argmax(1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self._frozen_pair()[0](x)

    def mixing(self) -> np.ndarray:
        """The clusters' (or labels') shares of the training split, which the method generates in."""
        return self._shares.cpu().numpy().astype(np.float64)

    def extra_state(self) -> dict[str, Any]:
        _, cla = self._frozen_pair()
        return {"shares": self._shares.detach().cpu(),
                "classifier": {k: v.detach().cpu() for k, v in cla.state_dict().items()},
                "encoder_fingerprint": float(self._encoder_fp or 0.0)}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if state:
            self._check_encoder(state)
            self._restore_clusters(state)

    def _check_encoder(self, state: Mapping[str, Any]) -> None:
        """A model file must be evaluated with the encoder it was trained with (same fingerprint)."""
        fp = state.get("encoder_fingerprint")
        if self.E is not None and fp and self._encoder_fp is not None and not same_fingerprint(fp, self._encoder_fp):
            raise DataError(f"{self.name}: this model was trained with another encoder than the current "
                            "encoder.pt; re-run the train stage (dvc repro) after pretrain")

    def _restore_clusters(self, state: Mapping[str, Any]) -> None:
        self._shares = torch.as_tensor(state["shares"], dtype=torch.float64, device=self._shares.device)
        self.C = classifier_from_state(state["classifier"], self.device)


class ClusterConditioned(FrozenPipeline):
    """A :class:`FrozenPipeline` method whose attributes *are* the cluster stage's (InfoSCC-GAN, LSC-GAN).

    Declares what follows from that for evaluation: it consumed the encoder, clusters and classifier
    (so it is scored with an independent encoder), its attributes come from the cluster stage (its NMI
    is not presented as learned), and its representation is the consumed encoder.
    """

    consumes: ClassVar[tuple[str, ...]] = ("encoder", "clusters", "classifier")
    attributes_from: ClassVar[str] = "cluster-stage"
    representation_name: ClassVar[str] = "pretrain-stage SimCLR encoder (consumed, not learned)"
