"""Self-Conditioned GAN (Liu et al., §3, Algorithm 1): a class-conditional GAN whose classes are
k-means clusters of the discriminator's own features, re-computed during training.

* **Conditioning** (§4.1): G gets ``[z, e_y / ||e_y||]`` (a learned unit-norm class embedding);
  D has k outputs and only the one of the sample's cluster is used (the mask). Loss: the standard
  non-saturating GAN loss (§4.1), optionally with R1 on reals (their ImageNet/Places setting).
* **Clustering** (Eq. 1-2): the last hidden layer of a *frozen snapshot* of D, taken at clustering
  time, on a fixed random subset of the training data. The first clustering happens before any
  training, on the random D (k-means++, ``kmeans_n_init`` restarts); every ``recluster_every`` steps
  k-means is re-run from the means of the *old* clusters under the *new* features (Eq. 2).
* **Matching** (Eq. 3): new clusters are matched to old ones by the Hungarian algorithm minimising
  the number of samples each old cluster loses, ``|pi_old_c \\ pi_new_rho(c)|`` (scipy's
  ``linear_sum_assignment``), so each conditional G/D head keeps (almost) the same target.
* **Labels / sampling**: every real batch is labelled online by the snapshot + centres; the fakes of
  that step use the same labels, so clusters are drawn in proportion to their size (Alg. 1). The
  shares of the clusters on the clustering subset are :meth:`mixing`; ``sample(n)`` draws from them.
* **Online variant** (§3, appendix A): the clustering is kept fixed for ``online_start`` steps, then
  re-fitted once and updated every step by online k-means on the current D features of the real
  batch (per-centre learning rate 1 / samples seen).

The number of clusters k is ``num_components`` (0 = number of classes, see :class:`SCGANConfig`).
Table 6's ablations are switches: ``match_clusters: false`` (no Eq. 3 matching), ``init_from_old:
false`` (re-clustering from k-means++ instead of the old means), both off; params.yaml names them as
variants (``scgan-nomatch``, ``scgan-noinit``, ``scgan-nomatch-noinit``).
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..config import require
from ..nets import build_discriminator, build_generator
from ..nets.paper2d import BNReLUGenerator, maxout_discriminator
from . import register
from .base import D_PREACTIVATION, DataInfo, Method, MethodConfig, update
from .losses import class_logit, d_nonsaturating, g_nonsaturating, zero_centered_penalty


@dataclasses.dataclass(frozen=True)
class SCGANConfig(MethodConfig):
    """Self-Conditioned GAN hyperparameters (defaults: the paper's image settings, official code).

    ``num_components`` is k. The paper over-clusters (k = 100 for images, 50 for the 2-D mixtures)
    and so would its code; the *benchmark* default is 0 = the number of classes, so that ICFID
    matches one cluster to one class exactly as for every other method (with k > classes, ICFID
    compares each class with only one of several clusters that share it). Set k explicitly to run
    the paper's over-clustered setting; ``mixing_learned_grouped`` in the metrics then sums clusters
    per class.
    """

    embed_dim: int = 256            # unit-norm class embedding concatenated to z (2-D: 32)
    arch: Literal["shared", "paper"] = "shared"  # paper: 4x400 BN-ReLU G + 3x200 maxout D (2-D only)
    lr: float = 1.0e-4              # Adam, G and D
    betas: tuple[float, float] = (0.0, 0.99)   # official 2-D code: (0.8, 0.999)
    r1_weight: float = 0.0          # gamma * E||grad D(x_real)||^2 (ImageNet/Places: 0.1)
    recluster_every: int = 25000    # steps between re-clusterings (2-D code: 5000; also at step 0)
    cluster_samples: int = 25000    # size of the fixed clustering subset (2-D: 10000)
    kmeans_n_init: int = 10         # k-means++ restarts of the first clustering (appendix A)
    clustering: Literal["batch", "online"] = "batch"
    match_clusters: bool = True     # Eq. 3 Hungarian matching of new to old clusters (Table 6 ablation: off)
    init_from_old: bool = True      # Eq. 2 k-means from the old clusters' means (Table 6 ablation: off = k-means++)
    online_start: int = 25000       # online variant: steps with the fixed first clustering

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.embed_dim > 0, f"{where}.embed_dim", "must be positive")
        require(self.lr > 0, f"{where}.lr", "must be positive")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")
        require(self.r1_weight >= 0, f"{where}.r1_weight", "must be >= 0")
        require(self.recluster_every > 0, f"{where}.recluster_every", "must be positive")
        require(self.cluster_samples > 0, f"{where}.cluster_samples", "must be positive")
        require(self.kmeans_n_init > 0, f"{where}.kmeans_n_init", "must be positive")
        require(self.online_start >= 0, f"{where}.online_start", "must be >= 0")


class EmbeddingConditionedGenerator(nn.Module):
    """``G(z, y) = body([z, e_y / ||e_y||])`` with a learned class embedding ``e`` (§4.1)."""

    def __init__(self, k: int, embed_dim: int, body: nn.Module) -> None:
        super().__init__()
        self.embed = nn.Embedding(k, embed_dim)
        self.body = body

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat([z, F.normalize(self.embed(y), dim=1)], dim=1))


def hungarian_match(new: np.ndarray, old: np.ndarray, k: int) -> np.ndarray:
    """``mapping`` with ``mapping[new_id] = old_id`` minimising Eq. 3, the samples lost by the old
    clusters: cost(new c, old c') = |pi_old_c'| - |pi_old_c' ∩ pi_new_c|."""
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (np.asarray(new, np.int64), np.asarray(old, np.int64)), 1)
    cost = counts.sum(0, keepdims=True) - counts
    rows, cols = linear_sum_assignment(cost)
    mapping = np.empty(k, dtype=np.int64)
    mapping[rows] = cols
    return mapping


@register
class SCGAN(Method):
    """Self-Conditioned GAN (Liu et al.): conditional GAN on k-means clusters of D's features."""

    name = "scgan"
    representation_name = D_PREACTIVATION
    Config = SCGANConfig

    def __init__(self, cfg: SCGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: SCGANConfig = cfg
        k = self.num_components
        if cfg.arch == "paper":
            require(info.modality == "points" and len(info.shape) == 1, f"methods.{self.name}.arch",
                    f"'paper' (the 2-D maxout nets) is for 2-D points; dataset {info.dataset!r} is "
                    f"{info.modality} {info.shape}: set arch: shared")
            body = BNReLUGenerator(cfg.latent_dim + cfg.embed_dim, info.shape[0], value_range=info.value_range)
            D = maxout_discriminator(info.shape[0], k)
        else:
            body = build_generator(info, cfg.latent_dim + cfg.embed_dim, cfg.width)
            D = build_discriminator(info, k, cfg.width)
        self.G = self.network("G", EmbeddingConditionedGenerator(k, cfg.embed_dim, body), ema=True)
        self.D = self.network("D", D)
        # the frozen snapshot the clusters are defined in (always eval, no gradients)
        self.D_snap = self.network("D_snapshot", copy.deepcopy(self.D), frozen=True)
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr, betas=cfg.betas)
        f = self.D.feature_dim
        self.centers = torch.zeros(k, f, device=device)         # k-means centres (snapshot feature space)
        self.mapping = torch.arange(k, device=device)            # k-means id -> cluster label (Eq. 3)
        self.shares = torch.full((k,), 1.0 / k, device=device)   # cluster sizes / N: P_pi
        self.counts = torch.zeros(k, device=device)              # online k-means: samples per centre
        self.clustered = False
        self.online = False
        self._train_x: torch.Tensor | None = None
        self._cluster_idx: torch.Tensor | None = None            # subset of the attached training data
        self._buffer: torch.Tensor | None = None                 # fallback: real batches seen so far
        self.last_recluster: dict[str, float] = {}

    # ------------------------------------------------------------------ the clustering subset
    def attach(self, resources: Mapping[str, Any]) -> None:
        x = resources.get("train_x")
        if x is not None:
            self._train_x = torch.as_tensor(np.asarray(x), dtype=torch.float32)

    def _cluster_set(self, real: torch.Tensor | None) -> torch.Tensor:
        """The fixed random subset that is clustered (appendix A): ``cluster_samples`` points of the
        attached training data; without ``train_x`` (direct use of the loop) the real batches seen
        so far, up to the same size (the official code also clusters the first loader batches)."""
        n_max = self.cfg.cluster_samples
        if self._train_x is not None:
            if self._cluster_idx is None:
                n = len(self._train_x)
                self._cluster_idx = torch.randperm(n)[: min(n, n_max)]
            return self._train_x[self._cluster_idx].to(self.device)
        if self._buffer is None:  # first clustering; later batches are kept by train_step
            self._remember(real)
        require(self._buffer is not None and len(self._buffer) >= self.num_components, f"methods.{self.name}",
                f"clustering needs at least k={self.num_components} samples; attach the training data "
                "(method.attach({'train_x': x}), as `ucgan train` does) or raise batch_size")
        return self._buffer

    def _remember(self, real: torch.Tensor | None) -> None:
        """Fallback clustering set: keep real batches (no training data attached) up to ``cluster_samples``."""
        if self._train_x is not None or real is None:
            return
        if self._buffer is None or len(self._buffer) < self.cfg.cluster_samples:
            r = real.detach()
            self._buffer = r if self._buffer is None else torch.cat([self._buffer, r])[: self.cfg.cluster_samples]

    # ------------------------------------------------------------------ features and labels
    @torch.no_grad()
    def _feats(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        bs = 4096 if self.info.modality != "image" else 256
        was = net.training
        net.eval()
        try:
            return torch.cat([net.features(x[i : i + bs].to(self.device)) for i in range(0, len(x), bs)])
        finally:
            net.train(was)

    @torch.no_grad()
    def _labels_from_feats(self, f: torch.Tensor) -> torch.Tensor:
        return self.mapping[torch.cdist(f, self.centers).argmin(1)]

    @torch.no_grad()
    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """Cluster label of each sample: nearest centre in the snapshot's (online: current D's) features."""
        return self._labels_from_feats(self._feats(self.D if self.online else self.D_snap, x))

    @torch.no_grad()
    def recluster(self, real: torch.Tensor | None = None) -> dict[str, float]:
        """Re-partition the clustering subset on the current D's features (Alg. 1, Eq. 1-3)."""
        from threadpoolctl import threadpool_limits

        # sklearn's OpenMP/BLAS pools would otherwise spawn one thread per core on top of torch's
        # (seconds instead of milliseconds on a shared machine): use torch's thread budget.
        with threadpool_limits(limits=torch.get_num_threads()):
            return self._recluster(real)

    def _recluster(self, real: torch.Tensor | None) -> dict[str, float]:
        from sklearn.cluster import KMeans

        k = self.num_components
        x = self._cluster_set(real)
        old = self.labels(x).cpu().numpy() if self.clustered else None
        self.D_snap.load_state_dict(self.D.state_dict())
        feats = self._feats(self.D_snap, x).double().cpu().numpy()
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
        if old is None or not self.cfg.init_from_old:  # first clustering (or the no-init ablation): k-means++
            km = KMeans(n_clusters=k, init="k-means++", n_init=self.cfg.kmeans_n_init, random_state=seed).fit(feats)
        else:  # Eq. 2: start from the old clusters' means under the new features
            rng = np.random.default_rng(seed)
            init = np.stack([feats[old == c].mean(0) if (old == c).any() else feats[rng.integers(len(feats))]
                             for c in range(k)])
            km = KMeans(n_clusters=k, init=init, n_init=1).fit(feats)
        if old is None or not self.cfg.match_clusters:  # the no-matching ablation keeps k-means' own ids
            mapping = np.arange(k)
        else:
            mapping = hungarian_match(km.labels_, old, k)
        lost = 0 if old is None else int((mapping[km.labels_] != old).sum())
        labels = mapping[km.labels_]
        self.centers = torch.as_tensor(km.cluster_centers_, dtype=torch.float32, device=self.device)
        self.mapping = torch.as_tensor(mapping, dtype=torch.long, device=self.device)
        counts = np.bincount(labels, minlength=k).astype(np.float64)
        self.shares = torch.as_tensor(counts / counts.sum(), dtype=torch.float32, device=self.device)
        self.counts = torch.as_tensor(np.bincount(km.labels_, minlength=k), dtype=torch.float32, device=self.device)
        self.clustered = True
        self.last_recluster = {"lost": float(lost), "lost_share": lost / len(labels),
                               "empty": float((counts == 0).sum()), "n": float(len(labels))}
        return self.last_recluster

    @torch.no_grad()
    def _online_update(self, real: torch.Tensor) -> torch.Tensor:
        """Online k-means on the current D features of ``real``: centre c moves to the running mean
        of the samples it was given (learning rate 1/count). Returns the batch's labels."""
        f = self._feats(self.D, real)
        kid = torch.cdist(f, self.centers).argmin(1)
        k = self.num_components
        n_c = torch.bincount(kid, minlength=k).float()
        sums = torch.zeros_like(self.centers).index_add_(0, kid, f)
        self.counts += n_c
        hit = n_c > 0
        step = (n_c[hit] / self.counts[hit]).unsqueeze(1)
        self.centers[hit] += step * (sums[hit] / n_c[hit].unsqueeze(1) - self.centers[hit])
        y = self.mapping[kid]
        self.shares.mul_(0.999).add_(torch.bincount(y, minlength=k).float() / len(y), alpha=0.001)
        return y

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        out: dict[str, torch.Tensor] = {}
        if self.clustered:
            self._remember(real)
        if cfg.clustering == "batch":
            if not self.clustered or step % cfg.recluster_every == 0:
                out.update({f"recluster_{k}": torch.tensor(v) for k, v in self.recluster(real).items()})
            y = self.labels(real)
        else:
            if not self.clustered or (step >= cfg.online_start and not self.online):
                out.update({f"recluster_{k}": torch.tensor(v) for k, v in self.recluster(real).items()})
                self.online = step >= cfg.online_start
            y = self._online_update(real) if self.online else self.labels(real)

        z = torch.randn(real.shape[0], cfg.latent_dim, device=self.device)
        with torch.no_grad():
            fake = self.G(z, y)
        if cfg.r1_weight > 0:
            real = real.detach().requires_grad_(True)
        d_real = class_logit(self.D(real), y)
        d_loss = d_nonsaturating(d_real, class_logit(self.D(fake), y))
        r1 = zero_centered_penalty(d_real, real) if cfg.r1_weight > 0 else d_loss.new_zeros(())
        update(d_loss + cfg.r1_weight * r1, self.opt_d)

        g_loss = g_nonsaturating(class_logit(self.D(self.G(z, y)), y))
        update(g_loss, self.opt_g)
        out.update({"d_loss": d_loss.detach(), "r1": r1.detach(), "g_loss": g_loss.detach(),
                    "clusters_used": (self.shares > 0).sum().float()})
        return out

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)
        return self.G(z, self.components(n, component, generator, probs=self.shares))

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        return self.labels(x)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x)

    def mixing(self) -> np.ndarray:
        """Cluster sizes on the clustering subset as shares (P_pi of Alg. 1)."""
        p = self.shares.detach().double().cpu().numpy()
        return p / p.sum()

    # ------------------------------------------------------------------ state
    def extra_state(self) -> dict[str, Any]:
        empty = torch.zeros(0)
        return {
            "centers": self.centers.clone(), "mapping": self.mapping.clone(), "shares": self.shares.clone(),
            "counts": self.counts.clone(), "clustered": self.clustered, "online": self.online,
            "cluster_idx": self._cluster_idx.clone() if self._cluster_idx is not None else empty.long(),
            "buffer": self._buffer.detach().cpu().clone() if self._buffer is not None else empty,
        }

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        self.centers = state["centers"].to(self.device).float()
        self.mapping = state["mapping"].to(self.device).long()
        self.shares = state["shares"].to(self.device).float()
        self.counts = state["counts"].to(self.device).float()
        self.clustered, self.online = bool(state["clustered"]), bool(state["online"])
        idx, buf = state["cluster_idx"], state["buffer"]
        self._cluster_idx = idx.long().cpu() if idx.numel() else None
        self._buffer = buf.to(self.device) if buf.numel() else None
