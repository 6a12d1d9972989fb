"""Latent-space-conditioned GAN (LSC-GAN, Durall et al., VISAPP 2021): G conditioned on encoder features.

From the paper:

* **generator input** ``n = [z; f]``: Gaussian noise concatenated with the feature-extractor code
  ``f = E(x)`` of a real sample (§3.3, Fig. 2);
* **batches** by Algorithm 1: features of the real batch, all pairwise L1 distances, and for each
  sample its nearest and its farthest neighbour in the batch;
* **pair discriminator** on couples of images and the **triple coupled loss** (Eq. 2-5):
  ``lambda_a L_adv`` (real + fake, labelled false), ``lambda_s L_same`` (real + nearest real, true),
  ``lambda_d L_diff`` (real + farthest real, false), with ablation switches ``use_same``/``use_diff``
  (Table 3); the generator minimises ``L_adv`` only; ``n`` generator steps per discriminator step
  (Algorithm 2: G every iteration, D when ``i mod n = 0``, G first).

No official code is public; every choice below is **ours**:

* the feature extractor is the pipeline's pretrain-stage encoder (whatever ``pretrain.backbone``
  says: SimCLR CNN/MLP, or ``alexnet_random`` for the paper's untrained AlexNet) and clusters are the
  cluster stage's k-means labels; features are standardised (train mean/std) before entering G;
* the couples: a fake generated from the *nearest neighbour's* features takes the neighbour's place,
  ``x_adv = [x_i, G(z, f_nn(i))]``, ``x_same = [x_i, x_nn(i)]``, ``x_diff = [x_i, x_fn(i)]``, so the
  discriminator sees the same anchor in all three and must judge the second image; couples are
  channel-stacked (images) or concatenated (vectors) and fed to the shared appendix-E discriminator
  with doubled input channels, spectrally normalised (the paper builds on SNGAN);
* losses are the logistic ones of Eq. 1-5 written with logits; the generator uses the
  non-saturating form ``-log D(x_adv)`` of minimising ``L_adv``; the D step reuses the fakes of the
  G step of the same iteration (detached);
* generating from component ``c`` draws ``f`` from the stored features of training samples in
  encoder-space cluster ``c`` (a share-preserving bank of at most ``bank_size`` rows, kept in the
  model file); the unconditional mixture draws from the whole bank, so ``mixing()`` is the clusters'
  training shares; ``assign(x)`` is the cluster stage's classifier on ``E(x)``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import ConfigError, DataError
from ..nets import build_discriminator, build_generator
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .pretrained import ClusterConditioned, encode


def pair_indices(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1: index of the nearest and of the farthest other sample of each row (L1 distance).

    Ties go to the lowest index. Needs at least two rows.
    """
    if features.shape[0] < 2:
        raise ConfigError("LSC-GAN pairs need batches of at least 2 samples; raise batch_size")
    d = torch.cdist(features.flatten(1), features.flatten(1), p=1)
    eye = torch.eye(d.shape[0], dtype=torch.bool, device=d.device)
    nearest = d.masked_fill(eye, float("inf")).argmin(dim=1)
    farthest = d.masked_fill(eye, float("-inf")).argmax(dim=1)
    return nearest, farthest


def couple(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """One discriminator input from two samples: channels stacked (images) / features concatenated."""
    return torch.cat([a, b], dim=1)


def stratified_bank(labels: np.ndarray, k: int, size: int, seed: int = 0) -> np.ndarray:
    """Row indices of at most ``size`` samples keeping every cluster's share (each cluster >= 1 row)."""
    n = len(labels)
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    out = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        take = max(1, int(round(size * len(rows) / n)))
        out.append(rng.choice(rows, min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(out))


@dataclasses.dataclass(frozen=True)
class LSCGANConfig(MethodConfig):
    """Hyperparameters. The paper gives none of these values; defaults are ours (SNGAN-like Adam)."""

    lambda_a: float = 1.0          # weight of L_adv (Eq. 5)
    lambda_s: float = 1.0          # weight of L_same
    lambda_d: float = 1.0          # weight of L_diff
    use_same: bool = True          # ablation (Table 3): prototype A/C drop L_same
    use_diff: bool = True          # ablation (Table 3): prototype B drops L_diff
    g_steps_per_d: int = 1         # n of Algorithm 2
    lr: float = 2e-4
    d_lr_mult: float = 1.0
    betas: tuple[float, float] = (0.5, 0.999)
    spectral_norm: bool = True     # on the pair discriminator (SNGAN baseline of §4.2)
    standardize_features: bool = True
    bank_size: int = 4096          # stored training features to sample conditions from (per model file)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lambda_a", "lambda_s", "lambda_d"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.lambda_a > 0, f"{where}.lambda_a", "must be positive (L_adv is the only term that trains G)")
        require(self.g_steps_per_d >= 1, f"{where}.g_steps_per_d", "must be >= 1")
        require(self.lr > 0 and self.d_lr_mult > 0, f"{where}.lr", "lr and d_lr_mult must be positive")
        require(self.bank_size >= 1, f"{where}.bank_size", "must be >= 1")
        require(self.batch_size >= 2, f"{where}.batch_size", "must be >= 2 (Algorithm 1 pairs samples of a batch)")


@register
class LSCGAN(ClusterConditioned, Method):
    """Latent-space-conditioned GAN: G([z; E(x)]) with a pair discriminator and the triple coupled loss."""

    name = "lscgan"
    Config = LSCGANConfig

    def __init__(self, cfg: LSCGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: LSCGANConfig = cfg
        pair_shape = (2 * info.shape[0],) + tuple(info.shape[1:])
        pair_info = dataclasses.replace(info, shape=pair_shape)
        self.D = self.network("D", build_discriminator(pair_info, 1, cfg.width, spectral_norm=cfg.spectral_norm))
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        # G's input size depends on the encoder's feature size: built by attach().
        self.G: nn.Module | None = None
        self.opt_g: torch.optim.Optimizer | None = None
        self.feature_dim = 0
        self._bank: torch.Tensor | None = None
        self._bank_labels: torch.Tensor | None = None
        self._mean: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        self._init_frozen()  # shares kept on the CPU (mixing reads them there)

    # ------------------------------------------------------------------ pipeline artifacts
    def attach(self, resources: Mapping[str, Any]) -> None:
        """Load the frozen encoder and classifier, build G for the encoder's feature size, and (with
        ``train_x``) the feature bank of the training split."""
        enc = self._attach_encoder(resources)
        self._build_generator(int(enc.feature_dim))
        labels = self._attach_clusters(resources)
        train_x = resources.get("train_x")
        if train_x is None:
            return  # evaluation: the bank comes from the stored state
        k = self.num_components
        if np.bincount(labels, minlength=k).min() == 0:
            raise DataError(f"{self._where}: a k-means cluster of {resources['clusters_path']} is empty; re-run "
                            "`ucgan cluster` with a smaller cluster.k")
        rows = stratified_bank(labels, k, self.cfg.bank_size)
        feats = encode(enc, np.asarray(train_x)[rows], self.device)
        self._set_bank(feats, torch.as_tensor(labels[rows], device=self.device))

    def _build_generator(self, feature_dim: int) -> None:
        if self.G is not None:
            if feature_dim != self.feature_dim:
                raise DataError(f"{self.name}: the encoder now gives {feature_dim}-d features, the generator was "
                                f"built for {self.feature_dim}; rebuild the method (re-run the train stage)")
            return
        self.feature_dim = feature_dim
        self.G = self.network("G", build_generator(self.info, self.cfg.latent_dim + feature_dim, self.cfg.width), ema=True)
        self.opt_g = self.optimizer("G", self.G, lr=self.cfg.lr, betas=self.cfg.betas)

    def _set_bank(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        self._bank, self._bank_labels = feats.float(), labels.long()
        if self.cfg.standardize_features:
            self._mean = feats.mean(0)
            self._std = feats.std(0).clamp_min(1e-6) if len(feats) > 1 else torch.ones_like(feats[0])
        else:
            self._mean, self._std = torch.zeros_like(feats[0]), torch.ones_like(feats[0])

    def _require_g(self) -> nn.Module:
        if self.G is None:
            raise ConfigError(f"{self.name}: the generator is built from the encoder's feature size; call attach() "
                              "with encoder_path (the train/evaluate stages do) or load a trained state first")
        return self.G

    def _ensure_built(self) -> None:
        self._require_g()

    def _require(self) -> tuple[nn.Module, nn.Module]:
        """G and E for training: needs attach() with train_x (the feature bank)."""
        G = self._require_g()
        if self.E is None or self._bank is None:
            raise ConfigError(f"{self.name}: not attached; call attach() with encoder_path, clusters_path, "
                              "classifier_path and train_x (the train stage does)")
        return G, self.E

    def _condition(self, f: torch.Tensor) -> torch.Tensor:
        assert self._mean is not None and self._std is not None
        return (f - self._mean) / self._std

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        G, E = self._require()
        assert self.opt_g is not None
        b = real.shape[0]
        with torch.no_grad():
            f = E(real)
        nearest, farthest = pair_indices(f)  # Algorithm 1
        z = torch.randn(b, cfg.latent_dim, device=self.device)
        fake = G(torch.cat([z, self._condition(f[nearest])], dim=1))

        # generator: minimise L_adv (non-saturating form)
        with frozen(self.D):
            g_loss = F.softplus(-self.D(couple(real, fake))).mean()
            update(g_loss, self.opt_g)
        out = {"g_loss": g_loss.detach()}

        # discriminator every n-th iteration: triple coupled loss (Eq. 5), one forward on all couples
        if step % cfg.g_steps_per_d == 0:
            pairs = [couple(real, fake.detach())]
            if cfg.use_same:
                pairs.append(couple(real, real[nearest]))
            if cfg.use_diff:
                pairs.append(couple(real, real[farthest]))
            logits = self.D(torch.cat(pairs)).reshape(len(pairs), b)
            l_adv = F.softplus(logits[0]).mean()          # -log(1 - D(x_adv))
            d_loss = cfg.lambda_a * l_adv
            out["d_adv"] = l_adv.detach()
            i = 1
            if cfg.use_same:
                l_same = F.softplus(-logits[i]).mean()    # -log D(x_same)
                d_loss = d_loss + cfg.lambda_s * l_same
                out["d_same"] = l_same.detach()
                i += 1
            if cfg.use_diff:
                l_diff = F.softplus(logits[i]).mean()     # -log(1 - D(x_diff))
                d_loss = d_loss + cfg.lambda_d * l_diff
                out["d_diff"] = l_diff.detach()
            update(d_loss, self.opt_d)
            out["d_loss"] = d_loss.detach()
        return out

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        G = self._require_g()
        if self._bank is None or self._bank_labels is None:
            raise ConfigError(f"{self.name}: no feature bank; attach() with train_x or load a trained state first")
        if component is None:
            rows = torch.arange(len(self._bank), device=self.device)
        else:
            if not 0 <= component < self.num_components:
                raise ValueError(f"component {component} out of range 0..{self.num_components - 1}")
            rows = torch.nonzero(self._bank_labels == component).flatten()
        pick = rows[torch.randint(len(rows), (n,), device=self.device, generator=generator)]
        z = torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)
        return G(torch.cat([z, self._condition(self._bank[pick])], dim=1))

    # ------------------------------------------------------------------ state (assign / features / mixing: FrozenPipeline)
    def extra_state(self) -> dict[str, Any]:
        self._require_g()
        if self._bank is None or self.C is None:
            raise ConfigError(f"{self.name}: nothing to save before attach() with train_x")
        return {
            "feature_dim": self.feature_dim,
            "bank": self._bank.detach().cpu(), "bank_labels": self._bank_labels.detach().cpu(),
            "mean": self._mean.detach().cpu(), "std": self._std.detach().cpu(),
            **super().extra_state(),
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        self._check_encoder(state)
        self._build_generator(int(state["feature_dim"]))
        self._bank = state["bank"].to(self.device).float()
        self._bank_labels = state["bank_labels"].to(self.device).long()
        self._mean, self._std = state["mean"].to(self.device), state["std"].to(self.device)
        self._restore_clusters(state)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        # G is built from the stored feature size first, so a state loads even before attach().
        self.load_extra_state(state.get("extra", {}))
        super().load_state_dict(state)
