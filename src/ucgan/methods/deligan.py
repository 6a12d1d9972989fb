"""DeLiGAN (Gurumurthy, Sarvadevabhatla and Babu, "DeLiGAN: Generative Adversarial Networks for
Diverse and Limited Data", CVPR 2017).

The latent is a mixture of K Gaussians with learnable means and per-dimension standard deviations,
sampled by explicit reparameterisation ``z = mu_k + sigma_k * eps`` (eps ~ N(0, I)) with the
component k drawn *uniformly*: the mixing weights are not learned, so :meth:`DeLiGAN.mixing`
returns None. Means start at U(-1, 1) and standard deviations at 0.2 (the paper and its official
code); mu and sigma are trained with G's optimiser on G's loss plus the sigma regulariser
``lambda * mean_{k,d} (1 - sigma_kd)^2`` that keeps the components from shrinking to points.

DeLiGAN has no encoder: ``assign`` returns None and the evaluation clusters D's penultimate
pre-activation features with k-means (SLOGAN §4.3 / appendix A: "the pre-activation of the
penultimate layer of D was used for the clustering metrics").

Where this implementation departs from the paper:

* Networks and adversarial loss are the benchmark's (SLOGAN's comparison protocol: "the same network
  architecture and hyperparameters"): the appendix-E nets chosen by :mod:`ucgan.nets`, a WGAN critic
  with the one-sided Lipschitz penalty (or WGAN-GP) and TTUR learning rates. The paper used a
  non-saturating GAN with minibatch discrimination and a loss-threshold schedule that alternates G
  and D updates; neither is used here.
* K is the number of classes (``num_components``; the benchmark's protocol), not one component per
  batch element (the official MNIST code uses K = batch size = 50).
* The regulariser's weight: the paper writes ``lambda * sum_i (1 - sigma_i)^2`` without a value for
  lambda; we use the official MNIST code's form, the mean over all K x d entries divided by 3
  (``sigma_weight: 0.333``).
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
from torch import nn

from ..config import require
from . import register
from .base import DataInfo, Method, MethodConfig, component_ids, frozen, update
from .losses import PENALTIES, critic_steps, g_wasserstein


@dataclasses.dataclass(frozen=True)
class DeLiGANConfig(MethodConfig):
    """DeLiGAN hyperparameters (``num_components`` = mixture components, 0 = number of classes)."""

    lr: float = 1e-4                    # G (and mu, sigma); D at d_lr_mult * lr (TTUR, as the other WGANs here)
    d_lr_mult: float = 4.0
    betas: tuple[float, float] = (0.5, 0.999)
    penalty: Literal["lp", "gp"] = "lp"  # one-sided Lipschitz penalty (Petzka) or WGAN-GP
    penalty_weight: float = 10.0
    n_critic: int = 1
    mu_init: float = 1.0                # means start at U(-mu_init, mu_init) (paper: U(-1, 1))
    sigma_init: float = 0.2             # standard deviations start at 0.2 (paper)
    sigma_weight: float = 1.0 / 3.0     # lambda of the sigma regulariser on the mean over K x d (official code)
    latent_lr_mult: float = 1.0         # mu and sigma learn at latent_lr_mult * lr (official code: 1)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "d_lr_mult", "sigma_init", "latent_lr_mult"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("penalty_weight", "mu_init", "sigma_weight"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.n_critic >= 1, f"{where}.n_critic", "must be >= 1")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


class MixtureLatent(nn.Module):
    """K learnable Gaussians: ``mu`` (K, d) and per-dimension ``sigma`` (K, d); uniform mixing.

    sigma is used as is (not through a positivity transform), as in the official code: only
    |sigma| matters for the distribution, since eps is symmetric.
    """

    def __init__(self, k: int, dim: int, mu_init: float, sigma_init: float) -> None:
        super().__init__()
        self.mu = nn.Parameter(torch.empty(k, dim).uniform_(-mu_init, mu_init))
        self.sigma = nn.Parameter(torch.full((k, dim), float(sigma_init)))

    @property
    def k(self) -> int:
        return self.mu.shape[0]

    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None,
               probs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(z (n, d), component ids (n,)): components uniform (or drawn from ``probs``), or all ``component``."""
        dev = self.mu.device
        c = component_ids(n, self.k, dev, component, generator, probs)
        eps = torch.randn(n, self.mu.shape[1], device=dev, generator=generator, dtype=self.mu.dtype)
        return self.mu[c] + self.sigma[c] * eps, c

    def sigma_regulariser(self) -> torch.Tensor:
        """mean_{k,d} (1 - sigma_kd)^2 (the paper's regulariser, averaged as the official code does)."""
        return (1.0 - self.sigma).pow(2).mean()


@register
class DeLiGAN(Method):
    """DeLiGAN (Gurumurthy et al., CVPR 2017): learnable Gaussian-mixture latent, uniform mixing, sigma regulariser, no encoder."""

    name = "deligan"
    Config = DeLiGANConfig

    def __init__(self, cfg: DeLiGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: DeLiGANConfig = cfg
        latent = MixtureLatent(self.num_components, cfg.latent_dim, cfg.mu_init, cfg.sigma_init)  # drawn before G, D
        self.G, self.D = self.generator_and_critic(cfg.latent_dim)
        self.latent = self.network("latent", latent)  # after G and D: the checkpoint's order
        self.opt_g = self.optimizer("G", [{"params": self.G}, {"params": self.latent, "lr": cfg.lr * cfg.latent_lr_mult}],
                                    lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._penalty = PENALTIES[cfg.penalty]

    # ------------------------------------------------------------------ hooks for subclasses
    def _draw(self, n: int, component: int | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents and their components (DeLiGAN: uniform components)."""
        return self.latent.sample(n, component, generator)

    def _after_g_step(self, z: torch.Tensor, c: torch.Tensor, d_fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """Called after G's update with the latents and the critic's (detached) values of their samples."""
        return {}

    def _extra_g_loss(self, x: torch.Tensor, z: torch.Tensor, c: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra terms minimised with G's loss (weighted, scalar), keyed by name. DeLiGAN: none."""
        return {}

    def _g_side_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_g]

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = real.shape[0]
        d_adv, pen = critic_steps(self.D, self.opt_d, real, lambda: self.G(self._draw(b)[0]), self._penalty,
                                  cfg.penalty_weight, cfg.n_critic)
        with frozen(self.D):  # only G's (and mu, sigma's) gradients are needed here
            z, c = self._draw(b)
            x = self.G(z)
            d_fake = self.D(x).reshape(-1)
            g_adv = g_wasserstein(d_fake)
            sigma_reg = self.latent.sigma_regulariser()
            extra = self._extra_g_loss(x, z, c)
            total = g_adv + cfg.sigma_weight * sigma_reg + sum(extra.values(), torch.zeros((), device=self.device))
            update(total, *self._g_side_optimizers())
        extra = extra | self._after_g_step(z.detach(), c, d_fake.detach())
        out = {"d_loss": d_adv.detach(), "penalty": pen.detach(), "g_loss": g_adv.detach(),
               "sigma_reg": sigma_reg.detach(), "sigma_mean": self.latent.sigma.detach().abs().mean()}
        return out | {k: v.detach() for k, v in extra.items()}

    # ------------------------------------------------------------------ inference
    # no encoder: assign is None and the evaluation runs k-means on `features`; mixing is uniform (None)
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self._draw(n, component, generator)[0])

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """D's penultimate pre-activation features (SLOGAN's NMI protocol for DeLiGAN)."""
        return self.D.features(x)
