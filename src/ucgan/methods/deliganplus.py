"""DeLiGAN+ (SLOGAN, Hwang et al., ICLR 2022, appendix D.5): DeLiGAN with an encoder network.

DeLiGAN (:mod:`ucgan.methods.deligan`) has no encoder, so its clustering metrics come from D's
features. DeLiGAN+ adds an encoder E, built and optimised as SLOGAN's encoder is (the appendix-E
encoder network, Adam at G's learning rate, updated together with G), so that cluster assignment
uses E as it does for SLOGAN. Eq. 69: with c_i the component drawn for the i-th latent,

    min_{G, E, mu, sigma} max_D  1/B sum_i [ D(x_i) - D(G(z_i, c_i)) - lambda_CE c_i^T log E(G(z_i, c_i)) ]

E outputs K logits (the number of mixture components) and lambda_CE = 10; ``assign(x) = argmax E(x)``.
The critic, the sigma regulariser, the uniform mixing and the initialisation are DeLiGAN's.

``encoder_loss: u2c`` is SLOGAN's Table 4/8 ablation "DeLiGAN with l_U2C" instead of D.5's
cross-entropy: E outputs a latent-sized embedding trained with SLOGAN's U2C loss and angular margin
(:func:`ucgan.methods.slogan.u2c_loss`) against the selected component's mean, which is DeLiGAN's
explicit reparameterisation (the component is known, so the prototype is mu_c itself, not SLOGAN's
Gumbel-softmax mix of means); assignment is then SLOGAN's argmax_c cos(E(x), mu_c). The same
weight ``encoder_weight`` applies (SLOGAN's lambda: 4 on MNIST-2).

``rho_update: true`` (with ``encoder_loss: u2c``: SLOGAN Table 4 / 8, "DeLiGAN with l_U2C and implicit
rho update") also learns the mixing weights pi = softmax(rho): components are drawn from pi and rho
takes SLOGAN's Eq. 7 step ``rho -= rho_lr * mean_b (q(c|z_b) - pi_c) l_adv(z_b)``, with the
responsibilities q(c|z) of the diagonal mixture and the per-sample adversarial loss (the paper
reports that the prior then collapses onto one component). :meth:`mixing` returns pi in that case.

Departures: as DeLiGAN's (benchmark networks, WGAN critic with Lipschitz penalty, K = number of
classes). D.5 does not say how E is optimised; we use a separate Adam at G's learning rate, as for
SLOGAN's E (appendix E.1). The U2C variant keeps lambda and the margin constant (SLOGAN decays them).
E keeps SLOGAN's spectral norm on the 2-D/vector MLPs (``encoder_spectral_norm: false`` drops it): with
cross-entropy its Lipschitz-bounded logits make lambda_CE = 10 push samples apart; on a 1:3 ring (3,000
steps, seed 0) 2/8 modes were covered with SN, 3/8 without, and 8/8 with ``encoder_weight: 1``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..nets import build_discriminator, build_encoder
from . import register
from .base import DataInfo
from .deligan import DeLiGAN, DeLiGANConfig
from .slogan import u2c_loss


@dataclasses.dataclass(frozen=True)
class DeLiGANPlusConfig(DeLiGANConfig):
    encoder_loss: Literal["ce", "u2c"] = "ce"  # ce = appendix D.5 (Eq. 69); u2c = SLOGAN's "DeLiGAN with l_U2C"
    encoder_weight: float = 10.0                # lambda_CE (D.5: 10); for u2c, SLOGAN's lambda
    u2c_scale: float = 4.0                      # s of the U2C loss (u2c only)
    u2c_margin: float = 0.5                     # m, additive angular margin (u2c only)
    encoder_spectral_norm: bool = True          # SLOGAN's encoder (Table 11/13: SN on the MLPs); false = plain trunk
    rho_update: bool = False                    # learn the mixing weights by SLOGAN's Eq. 7 (ablation; off = D.5)
    rho_lr: float = 0.002                       # gamma of the rho step (SLOGAN MNIST-2: 0.002)

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.encoder_weight >= 0, f"{where}.encoder_weight", "must be >= 0")
        require(self.rho_lr > 0, f"{where}.rho_lr", "must be positive")
        require(self.u2c_scale > 0, f"{where}.u2c_scale", "must be positive")
        require(0 <= self.u2c_margin < 1.5, f"{where}.u2c_margin", "must be in [0, 1.5)")


class MixingLogits(nn.Module):
    """rho (a buffer: it is updated by the Eq. 7 estimate, not by an optimiser); pi = softmax(rho)."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.register_buffer("rho", torch.full((k,), 1.0 / k))

    @property
    def pi(self) -> torch.Tensor:
        return torch.softmax(self.rho, dim=0)


def diagonal_responsibilities(z: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
    """q(c|z) of the mixture sum_c pi_c N(z; mu_c, diag sigma_c^2), shape (B, K)."""
    var = sigma.pow(2).clamp_min(1e-12)                                   # (K, d)
    diff = z[:, None, :] - mu[None]                                       # (B, K, d)
    log_n = -0.5 * (diff.pow(2) / var + var.log() + math.log(2 * math.pi)).sum(-1)
    return torch.softmax(log_n + pi.clamp_min(1e-30).log(), dim=1)


@register
class DeLiGANPlus(DeLiGAN):
    """DeLiGAN+ (Hwang et al., ICLR 2022, app. D.5): DeLiGAN with an encoder trained by cross-entropy (or U2C) on G's samples."""

    name = "deliganplus"
    Config = DeLiGANPlusConfig

    def __init__(self, cfg: DeLiGANPlusConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: DeLiGANPlusConfig = cfg
        out = self.num_components if cfg.encoder_loss == "ce" else cfg.latent_dim
        self.E = self.network("E", build_encoder(info, out, cfg.width) if cfg.encoder_spectral_norm
                              else build_discriminator(info, out, cfg.width))
        self.opt_e = self.optimizer("E", self.E, lr=cfg.lr, betas=cfg.betas)
        self.mix = self.network("mix", MixingLogits(self.num_components)) if cfg.rho_update else None

    def _draw(self, n: int, component: int | None = None,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        probs = None if self.mix is None else self.mix.pi
        return self.latent.sample(n, component, generator, probs=probs)

    @torch.no_grad()
    def _after_g_step(self, z: torch.Tensor, c: torch.Tensor, d_fake: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.mix is None:
            return {}
        pi = self.mix.pi
        resp = diagonal_responsibilities(z, self.latent.mu.detach(), self.latent.sigma.detach(), pi)
        l_adv = -d_fake  # per-sample adversarial loss of G
        self.mix.rho.sub_(self.cfg.rho_lr * ((resp - pi).t() @ l_adv) / z.shape[0])
        return {"pi_max": self.mix.pi.max()}

    def _extra_g_loss(self, x: torch.Tensor, z: torch.Tensor, c: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if cfg.encoder_loss == "ce":
            return {"e_ce": cfg.encoder_weight * F.cross_entropy(self.E(x), c)}
        proto = self.latent.mu[c]
        return {"u2c": cfg.encoder_weight * u2c_loss(self.E(x), proto, cfg.u2c_scale, cfg.u2c_margin).mean()}

    def _g_side_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_g, self.opt_e]

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """argmax_c E(x) (cross-entropy encoder) or argmax_c cos(E(x), mu_c) (U2C encoder)."""
        e = self.E(x)
        if self.cfg.encoder_loss == "ce":
            return e.argmax(dim=1)
        return (F.normalize(e, dim=1) @ F.normalize(self.latent.mu, dim=1).t()).argmax(dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.E(x)

    def mixing(self) -> np.ndarray | None:
        """pi = softmax(rho) with ``rho_update``; else None (DeLiGAN's uniform mixing)."""
        return None if self.mix is None else self.mix.pi.detach().double().cpu().numpy()
