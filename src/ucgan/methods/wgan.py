"""WGAN baseline with the same networks and Lipschitz penalty as SLOGAN, unconditional.

It learns no attributes: ``sample(component=c)`` ignores ``c``. Its NMI follows SLOGAN §4.3 for
methods without an encoder: k-means on D's penultimate features of real test data.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch

from ..config import require
from . import register
from .base import D_PREACTIVATION, DataInfo, Method, MethodConfig, frozen, update
from .losses import PENALTIES, critic_steps, g_wasserstein


@dataclasses.dataclass(frozen=True)
class WGANConfig(MethodConfig):
    lr: float = 1e-4                    # eta: G learning rate; D uses d_lr_mult * eta (TTUR, SLOGAN E.1)
    d_lr_mult: float = 4.0
    betas: tuple[float, float] = (0.5, 0.999)
    penalty: Literal["lp", "gp"] = "lp"  # one-sided Lipschitz penalty (Petzka) or WGAN-GP
    penalty_weight: float = 10.0
    n_critic: int = 1

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.lr > 0, f"{where}.lr", "must be positive")
        require(self.d_lr_mult > 0, f"{where}.d_lr_mult", "must be positive")
        require(self.penalty_weight >= 0, f"{where}.penalty_weight", "must be >= 0")
        require(self.n_critic >= 1, f"{where}.n_critic", "must be >= 1")


@register
class WGAN(Method):
    """Unconditional WGAN with the Lipschitz penalty: the baseline without attributes.

    It "generates from" K identical components (``num_components``, default the number of classes)
    so per-cluster metrics still run: ICFID of an unconditional model = FID of its samples against
    each class.
    """

    name = "wgan"
    representation_name = D_PREACTIVATION
    conditional = False
    Config = WGANConfig

    def __init__(self, cfg: WGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: WGANConfig = cfg
        self.G, self.D = self.generator_and_critic(cfg.latent_dim)
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._penalty = PENALTIES[cfg.penalty]

    def _noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)

    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        b = real.shape[0]
        d_adv, pen = critic_steps(self.D, self.opt_d, real, lambda: self.G(self._noise(b)),
                                  self._penalty, self.cfg.penalty_weight, self.cfg.n_critic)
        z = self._noise(b)
        with frozen(self.D):
            g_loss = g_wasserstein(self.D(self.G(z)))
            update(g_loss, self.opt_g)
        return {"d_loss": d_adv.detach(), "penalty": pen.detach(), "g_loss": g_loss.detach()}

    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self._noise(n, generator))

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x)
