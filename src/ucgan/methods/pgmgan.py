"""PGMGAN (Armandpour, Sadeghian, Li and Zhou, "Partition-Guided GANs", CVPR 2021), at the scale of
this project's networks.

A *partitioner* splits the data space into K parts, and a conditional generator G(z, k) learns one
part each, guided by the partitioner:

* **Partitioner.** The paper trains it with a contrastive (self-supervised) objective: SimCLR
  features, then SCAN clustering and self-labelling. Here it is the pipeline's own stages 1-2: the
  SimCLR encoder of ``ucgan pretrain`` (contrastive) and the linear classifier that ``ucgan cluster``
  fits on k-means partitions of its features. It is frozen during GAN training, as in the paper.
* **Conditional GAN.** Real samples are labelled by the partitioner; a projection discriminator
  ``D(x, k) = psi(phi(x)) + <embed(k), phi(x)>`` judges (sample, part) pairs, and each batch of fakes
  uses the labels of the real batch, so parts are generated in the proportion the data has them
  (:meth:`mixing` returns those shares). Hinge loss, Adam 2e-4 with betas (0, 0.999) (official).
* **Guide.** G also minimises ``w * mean_i mean_j relu(l_j(G(z_i, k_i)) - l_{k_i}(G(z_i, k_i)))``,
  the partitioner logits l of its own samples: a sample of part k is pushed inside part k's region.
  The gradient reaches G through the frozen partitioner. w starts at 6 and is annealed linearly by
  1.2e-4 per step down to 1e-4 (the official stacked-MNIST setting).

``assign`` is the partitioner's label, ``features`` the encoder's features.

What is scaled down or departs from the paper: the partitioner is SimCLR + k-means + a linear
classifier instead of SimCLR + SCAN + self-labelling (no neighbour-consistency training, no
invertible-ResNet backbone); K is the number of classes (the benchmark's protocol; the paper
over-partitions, e.g. 200 parts); G and D are the appendix-E networks (:mod:`ucgan.nets`) with the
part as a one-hot input to G and a projection head on D, not BigGAN's conditional batch norm; the
official code's 2 critic steps per G step are ``n_critic: 2`` (the params.yaml CPU profile uses 1).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..nets import build_discriminator, build_generator
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .losses import critic_steps, d_hinge, g_wasserstein
from .pretrained import ClusterConditioned


@dataclasses.dataclass(frozen=True)
class PGMGANConfig(MethodConfig):
    """PGMGAN hyperparameters (``num_components`` = parts K; must equal the cluster stage's k)."""

    lr: float = 2e-4                     # G (official: 2e-4)
    d_lr_mult: float = 1.0               # D at d_lr_mult * lr (official: same)
    betas: tuple[float, float] = (0.0, 0.999)
    n_critic: int = 2                    # D steps per G step (official: 2)
    guide_weight: float = 6.0            # w at step 0 (official stacked MNIST: 6)
    guide_anneal: float = 1.2e-4         # w decreases by this much per step ... (official: 1.2e-4)
    guide_min: float = 1e-4              # ... down to this (official: 1e-4)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "d_lr_mult"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("guide_weight", "guide_anneal", "guide_min"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.n_critic >= 1, f"{where}.n_critic", "must be >= 1")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


def guide_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Partition guide: mean over samples of mean_j relu(l_j - l_y) (0 when y has the largest logit)."""
    own = logits.gather(1, y.view(-1, 1))
    return F.relu(logits - own).mean(dim=1).mean()


class ProjectionDiscriminator(nn.Module):
    """``D(x, k) = head(phi(x)) + <embed(k), phi(x)>`` on the appendix-E critic trunk (Miyato & Koyama 2018)."""

    def __init__(self, base: nn.Module, k: int) -> None:
        super().__init__()
        self.base = base
        self.embed = nn.Embedding(k, base.feature_dim)
        nn.init.xavier_uniform_(self.embed.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        f = self.base.features(x)
        return self.base.head(f).reshape(-1) + (self.embed(y) * f).sum(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)


@register
class PGMGAN(ClusterConditioned, Method):
    """PGMGAN (Armandpour et al., CVPR 2021): conditional GAN on a frozen contrastive partitioner, with the partition guide.

    The partitioner here is the pipeline's (the pretrain stage's encoder + the cluster stage's
    classifier), so PGMGAN consumes them like InfoSCC-GAN: evaluation uses an independent extractor and
    its attributes are reported as the cluster stage's, not as learned.
    """

    name = "pgmgan"
    Config = PGMGANConfig
    frozen_parts = "the partitioner (frozen encoder + classifier)"

    def __init__(self, cfg: PGMGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: PGMGANConfig = cfg
        k = self.num_components
        self.G = self.network("G", build_generator(info, cfg.latent_dim + k, cfg.width), ema=True)
        self.D = self.network("D", ProjectionDiscriminator(build_discriminator(info, 1, cfg.width), k))
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._init_frozen(device)  # the partitioner and the part shares: attach() / load_extra_state()

    # ------------------------------------------------------------------ partitioner
    def attach(self, resources: Mapping[str, Any]) -> None:
        """Load the partitioner: the pretrain stage's encoder and the cluster stage's classifier and shares."""
        self._attach_encoder(resources)
        self._attach_clusters(resources)

    def partition_logits(self, x: torch.Tensor) -> torch.Tensor:
        enc, cla = self._frozen_pair()
        return cla(enc(x))

    def guide_weight(self, step: int) -> float:
        cfg = self.cfg
        return max(cfg.guide_min, cfg.guide_weight - cfg.guide_anneal * step)

    # ------------------------------------------------------------------ training
    def _fake(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self.coded_noise(y, generator)[1])

    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        with torch.no_grad():
            y = self.partition_logits(real).argmax(1)  # parts of the real batch; the fakes reuse them
        d_loss, _ = critic_steps(lambda x: self.D(x, y), self.opt_d, real, lambda: self._fake(y),
                                 n_critic=cfg.n_critic, loss=d_hinge)
        with frozen(self.D):
            x = self._fake(y)
            g_adv = g_wasserstein(self.D(x, y))  # hinge G loss: -D(G(z, k), k)
            guide = guide_loss(self.partition_logits(x), y)
            w = self.guide_weight(step)
            update(g_adv + w * guide, self.opt_g)
        return {"d_loss": d_loss.detach(), "g_loss": g_adv.detach(), "guide": guide.detach(),
                "guide_weight": torch.tensor(w)}

    # ------------------------------------------------------------------ inference (assign / features / mixing / state: FrozenPipeline)
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._fake(self.components(n, component, generator, probs=self._shares.float()), generator)
