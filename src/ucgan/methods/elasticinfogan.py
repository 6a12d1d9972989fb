"""Elastic-InfoGAN (Ojha, Singh, Hsieh and Lee, "Elastic-InfoGAN: Unsupervised Disentangled
Representation Learning in Class-Imbalanced Data", NeurIPS 2020).

InfoGAN whose categorical prior is *learned*: the prior's logits are trainable, and each code fed to
G is a Gumbel-softmax sample ``softmax((log pi + g) / tau)`` with tau = 0.1, so the adversarial and
information losses reach the prior through G's input (the prior is optimised with G's optimiser, as
in the official code). Q predicts the code from D's trunk features (a hidden layer then K logits)
and is trained with InfoGAN's cross-entropy against the sampled code. The identity-preserving
transformations add a contrastive loss (NT-Xent, temperature 1, weight 10: the official code's
setting) between Q's hidden representations of a real sample and of its transformed copy, so
samples that differ only by a nuisance transformation get the same code. The adversarial loss is
the non-saturating GAN loss. :meth:`mixing` returns the learned prior ``softmax(logits)``.

Where this implementation departs from the paper:

* Networks: the benchmark's appendix-E G and D (:mod:`ucgan.nets`); Q is a head on D's penultimate
  features (Linear ``q_hidden * width`` + BN + LReLU, then K logits), as the official code puts Q on
  D's shared front end. D's trunk is trained by the adversarial loss only (official code).
* Transformations. Images: random rotation within +-20 degrees and zoom in [0.9, 1.1] (the official
  MNIST pipeline; its elastic grid distortion and the paper's flip/crop/gamma options are not used).
  Points and vectors have no identity-preserving transformation the paper defines; we add Gaussian
  jitter of std ``aug_noise`` (CGPGAN, who compares with Elastic-InfoGAN on 2-D data, switches the
  contrastive term off: ``contrastive_weight: 0``).
* At sampling time the code is a hard one-hot drawn from the learned prior (the official code
  trains and samples with the soft Gumbel-softmax vector).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..nets.common import LRELU_SLOPE, init_weights, scaled
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .losses import d_nonsaturating, g_nonsaturating


@dataclasses.dataclass(frozen=True)
class ElasticInfoGANConfig(MethodConfig):
    """Elastic-InfoGAN hyperparameters (``num_components`` = categories, 0 = number of classes)."""

    lr: float = 2.0e-4                  # D (official: 2e-4)
    g_lr_mult: float = 1.0              # G, Q and the prior at g_lr_mult * lr (official: same 2e-4)
    prior_lr_mult: float = 1.0          # the prior's logits at prior_lr_mult * G's rate (official: 1)
    betas: tuple[float, float] = (0.5, 0.999)
    gumbel_tau: float = 0.1             # Gumbel-softmax temperature (paper/official: 0.1)
    lambda_cat: float = 1.0             # weight of the categorical information loss (InfoGAN: 1)
    contrastive_weight: float = 10.0    # weight of the transformation contrastive loss (official: 10; 0 = off)
    contrastive_tau: float = 1.0        # NT-Xent temperature (official run script: 1)
    q_hidden: int = 128                 # Q's hidden width at width 1 (official: 128)
    aug_rotate: float = 20.0            # images: max rotation in degrees (official: 20)
    aug_zoom: float = 0.1               # images: zoom factor in [1 - aug_zoom, 1 + aug_zoom] (official: 0.1)
    aug_noise: float = 0.02             # points/vectors: std of the Gaussian jitter (ours)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "g_lr_mult", "prior_lr_mult", "gumbel_tau", "contrastive_tau"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("lambda_cat", "contrastive_weight", "aug_rotate", "aug_noise"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(0 <= self.aug_zoom < 1, f"{where}.aug_zoom", "must be in [0, 1)")
        require(self.q_hidden >= 1, f"{where}.q_hidden", "must be >= 1")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


class QHead(nn.Module):
    """Q on D's features: hidden (Linear + BN + LReLU), then K logits; forward -> (hidden, logits)."""

    def __init__(self, in_dim: int, hidden: int, k: int) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(LRELU_SLOPE))
        self.logits = nn.Linear(hidden, k)
        init_weights(self)

    def forward(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(f)
        return h, self.logits(h)


class CategoricalPrior(nn.Module):
    """Learnable categorical prior pi = softmax(logits), uniform at the start."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(k))

    @property
    def pi(self) -> torch.Tensor:
        return F.softmax(self.logits, dim=0)

    def relaxed(self, n: int, tau: float) -> torch.Tensor:
        """n Gumbel-softmax samples (n, K) of the prior (differentiable w.r.t. the logits)."""
        log_pi = F.log_softmax(self.logits, dim=0).expand(n, -1)
        return F.gumbel_softmax(log_pi, tau=tau, hard=False)

    def draw(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n category ids from the prior."""
        return torch.multinomial(self.pi.detach(), n, replacement=True, generator=generator)


def nt_xent(a: torch.Tensor, b: torch.Tensor, tau: float) -> torch.Tensor:
    """NT-Xent (SimCLR) on the 2N views: each view's positive is its pair, the other 2N - 2 are negatives."""
    n = a.shape[0]
    h = F.normalize(torch.cat([a, b], dim=0), dim=1)
    sim = (h @ h.t()) / tau
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=h.device), float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(h.device)
    return F.cross_entropy(sim, target)


@register
class ElasticInfoGAN(Method):
    """Elastic-InfoGAN (Ojha et al., NeurIPS 2020): learned categorical prior by Gumbel-softmax, Q, transformation contrastive loss."""

    name = "elasticinfogan"
    Config = ElasticInfoGANConfig

    def __init__(self, cfg: ElasticInfoGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: ElasticInfoGANConfig = cfg
        k = self.num_components
        self.G, self.D = self.generator_and_critic(cfg.latent_dim + k)
        self.Q = self.network("Q", QHead(self.D.feature_dim, scaled(cfg.q_hidden, cfg.width), k))
        self.prior = self.network("prior", CategoricalPrior(k))
        g_lr = cfg.lr * cfg.g_lr_mult
        self.opt_g = self.optimizer("G", [{"params": (self.G, self.Q)},
                                          {"params": self.prior, "lr": g_lr * cfg.prior_lr_mult}], lr=g_lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr, betas=cfg.betas)

    # ------------------------------------------------------------------ transformations
    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """An identity-preserving transformation of each sample (see the module doc)."""
        cfg = self.cfg
        if self.info.modality == "image" and x.dim() == 4:
            n = x.shape[0]
            ang = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(cfg.aug_rotate)
            zoom = 1.0 + (torch.rand(n, device=x.device) * 2 - 1) * cfg.aug_zoom
            cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
            theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                                 torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
            grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
            # border padding repeats the edge (the background), whatever the value range
            return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        out = x + cfg.aug_noise * torch.randn_like(x)
        if self.info.value_range is not None:
            out = out.clamp(*self.info.value_range)
        return out

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = real.shape[0]
        code = self.prior.relaxed(b, cfg.gumbel_tau)
        z = torch.randn(b, cfg.latent_dim, device=self.device)
        fake = self.G(torch.cat([z, code], dim=1))

        # ---- D (adversarial only)
        d_adv = d_nonsaturating(self.D(real).reshape(-1), self.D(fake.detach()).reshape(-1))
        update(d_adv, self.opt_d)

        with frozen(self.D):  # ---- G, Q and the prior
            f_fake = self.D.features(fake)
            g_adv = g_nonsaturating(self.D.head(f_fake).reshape(-1))
            _, q_fake = self.Q(f_fake)
            info = F.cross_entropy(q_fake, code.detach().argmax(dim=1))
            total = g_adv + cfg.lambda_cat * info
            contrastive = torch.zeros((), device=self.device)
            if cfg.contrastive_weight > 0:
                with torch.no_grad():  # D's trunk is not trained by this loss (official code)
                    f_real, f_aug = self.D.features(real), self.D.features(self.augment(real))
                h_real, _ = self.Q(f_real)
                h_aug, _ = self.Q(f_aug)
                contrastive = nt_xent(h_real, h_aug, cfg.contrastive_tau)
                total = total + cfg.contrastive_weight * contrastive
            update(total, self.opt_g)
        pi = self.prior.pi.detach()
        return {"d_loss": d_adv.detach(), "g_loss": g_adv.detach(), "q_loss": info.detach(),
                "contrastive": contrastive.detach(), "pi_max": pi.max(), "pi_min": pi.min()}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self.code_latent(n, component, generator, probs=self.prior.pi.detach())[2])

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """argmax of Q's category logits on real data."""
        return self.Q(self.D.features(x))[1].argmax(dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x)

    def mixing(self) -> np.ndarray:
        """The learned prior softmax(logits)."""
        return self.prior.pi.detach().double().cpu().numpy()
