"""ClusterGAN (Mukherjee, Asnani, Lin and Kannan, "ClusterGAN: Latent Space Clustering in Generative
Adversarial Networks", AAAI 2019).

The latent is ``z = [z_n, z_c]``: continuous noise z_n ~ N(0, sigma^2 I) with sigma = 0.1 and a
one-hot code z_c drawn uniformly from K categories. An encoder E inverts G: it outputs an estimate
of z_n (linear) and K logits for z_c. G and E are trained together on

    L_G,E = -D(G(z)) + beta_n ||z_n - E_n(G(z))||^2 + beta_c CE(z_c, E_c(G(z)))

with beta_n = beta_c = 10 (the paper's and official code's MNIST setting), and D is a WGAN-GP critic
(penalty weight 10, 5 critic steps per generator step, Adam 1e-4 with betas (0.5, 0.9), as the
official code). A real sample is assigned to ``argmax E_c(x)``; the k-means features are
``[E_n(x), softmax(E_c(x))]`` (the paper clusters the encoder's output). Mixing is uniform
(:meth:`mixing` returns None).

Where this implementation departs from the paper:

* Networks: the benchmark's appendix-E networks (:mod:`ucgan.nets`) for G, D and E, not the
  paper's; E is the appendix-E encoder trunk with ``latent_dim + K`` outputs, *without* the spectral
  norm SLOGAN's 2-D encoder has (``encoder_spectral_norm``; the official ClusterGAN encoder has none).
  Why it matters: with spectral norm the encoder's logits are Lipschitz-bounded, so the beta_c = 10
  cross-entropy can only fall by pushing G's samples apart, off the modes. Measured on a 1:3
  8-Gaussian ring (3,000 steps, the ring8-1to3 settings, seed 0): with spectral norm FID 0.87 and 0/8
  modes covered, without it FID 0.016 and 5/8.
* The squared error is averaged over z_n's dimensions (the official code's ``reduce_mean``), the
  paper writes the sum; with beta_n = 10 this is the official weighting.
* The params.yaml CPU profile runs one critic step per generator step and the TTUR learning rates
  of the other methods, so every method gets the same number of updates; the class defaults
  (``n_critic: 5``, ``lr: 1e-4``, ``d_lr_mult: 1``, ``betas: [0.5, 0.9]``) are the official code's.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn.functional as F

from ..config import require
from ..nets import build_discriminator
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .losses import PENALTIES, critic_steps, g_wasserstein


@dataclasses.dataclass(frozen=True)
class ClusterGANConfig(MethodConfig):
    """ClusterGAN hyperparameters (``latent_dim`` = size of z_n; ``num_components`` = K, 0 = classes)."""

    lr: float = 1e-4                     # G and E (official: 1e-4)
    d_lr_mult: float = 1.0               # D at d_lr_mult * lr (official: same rate)
    betas: tuple[float, float] = (0.5, 0.9)
    penalty: Literal["gp", "lp"] = "gp"  # WGAN-GP (paper) or the one-sided Lipschitz penalty
    penalty_weight: float = 10.0
    n_critic: int = 5                    # critic steps per G/E step (official: 5)
    sigma_n: float = 0.1                 # std of z_n (paper: 0.1)
    beta_n: float = 10.0                 # weight of the z_n cycle loss (paper/official: 10)
    beta_c: float = 10.0                 # weight of the z_c cross-entropy (paper/official: 10)
    encoder_spectral_norm: bool = False  # spectral norm on E's layers (official E: none; SLOGAN's 2-D E: SN)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "d_lr_mult", "sigma_n"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("penalty_weight", "beta_n", "beta_c"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.n_critic >= 1, f"{where}.n_critic", "must be >= 1")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


@register
class ClusterGAN(Method):
    """ClusterGAN (Mukherjee et al., AAAI 2019): one-hot + Gaussian latent, encoder inverting G, WGAN-GP critic."""

    name = "clustergan"
    Config = ClusterGANConfig

    def __init__(self, cfg: ClusterGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: ClusterGANConfig = cfg
        k, d = self.num_components, cfg.latent_dim
        self.G, self.D = self.generator_and_critic(d + k)
        # E: the appendix-E encoder trunk with [z_n estimate, K logits] outputs; without spectral norm by
        # default, as the official encoder (see the module doc)
        self.E = self.network("E", build_discriminator(info, d + k, cfg.width, spectral_norm=cfg.encoder_spectral_norm))
        self.opt_ge = self.optimizer("GE", (self.G, self.E), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._penalty = PENALTIES[cfg.penalty]

    # ------------------------------------------------------------------ helpers
    def _latent(self, n: int, component: int | None = None, generator: torch.Generator | None = None):
        """(z_n (n, d) ~ N(0, sigma_n^2 I), z_c ids (n,), G input [z_n, onehot(z_c)])."""
        return self.code_latent(n, component, generator, scale=self.cfg.sigma_n)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_n(x) (N, d), E_c(x) logits (N, K))."""
        e = self.E(x)
        return e[:, : self.cfg.latent_dim], e[:, self.cfg.latent_dim:]

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = real.shape[0]
        d_adv, pen = critic_steps(self.D, self.opt_d, real, lambda: self.G(self._latent(b)[2]), self._penalty,
                                  cfg.penalty_weight, cfg.n_critic)
        with frozen(self.D):
            zn, c, g_in = self._latent(b)
            x = self.G(g_in)
            g_adv = g_wasserstein(self.D(x))
            en, ec = self._encode(x)
            cyc_n = (zn - en).pow(2).mean()
            cyc_c = F.cross_entropy(ec, c)
            update(g_adv + cfg.beta_n * cyc_n + cfg.beta_c * cyc_c, self.opt_ge)
        acc = (ec.detach().argmax(1) == c).float().mean()
        return {"d_loss": d_adv.detach(), "penalty": pen.detach(), "g_loss": g_adv.detach(),
                "cycle_n": cyc_n.detach(), "cycle_c": cyc_c.detach(), "code_acc": acc}

    # ------------------------------------------------------------------ inference (mixing: uniform z_c, the base's None)
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self._latent(n, component, generator)[2])

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """argmax of E's code logits."""
        return self._encode(x)[1].argmax(dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        en, ec = self._encode(x)
        return torch.cat([en, F.softmax(ec, dim=1)], dim=1)
