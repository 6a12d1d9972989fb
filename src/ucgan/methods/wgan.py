"""WGAN baseline with the same networks and Lipschitz penalty as SLOGAN, unconditional.

It learns no attributes: ``sample(component=c)`` ignores ``c``. Its NMI follows SLOGAN §4.3 for
methods without an encoder: k-means on D's penultimate features of real test data.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch import nn

from ..config import require
from ..nets import build_discriminator, build_generator
from . import register
from .base import DataInfo, Method, MethodConfig
from .losses import critic_steps, g_wasserstein, gradient_penalty, lipschitz_penalty


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
    """Unconditional WGAN with the Lipschitz penalty: the baseline without attributes."""

    name = "wgan"
    representation_name = "D penultimate pre-activation"
    conditional = False
    Config = WGANConfig

    def __init__(self, cfg: WGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: WGANConfig = cfg
        self.G = build_generator(info, cfg.latent_dim, cfg.width).to(device)
        self.D = build_discriminator(info, 1, cfg.width).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._penalty = lipschitz_penalty if cfg.penalty == "lp" else gradient_penalty

    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        b = real.shape[0]
        d_adv, pen = critic_steps(self.D, self.opt_d, real,
                                  lambda: self.G(torch.randn(b, self.cfg.latent_dim, device=self.device)),
                                  self._penalty, self.cfg.penalty_weight, self.cfg.n_critic)
        z = torch.randn(b, self.cfg.latent_dim, device=self.device)
        self.D.requires_grad_(False)  # only G's gradients are needed here
        g_loss = g_wasserstein(self.D(self.G(z)))
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        return {"d_loss": d_adv.detach(), "penalty": pen.detach(), "g_loss": g_loss.detach()}

    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)
        return self.G(z)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x)

    @torch.no_grad()
    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """D's penultimate layer before its activation (SLOGAN appendix A, methods without an encoder)."""
        from ..metrics.protocol import penultimate_preactivation

        return penultimate_preactivation(self.D, x)

    @property
    def num_components(self) -> int:
        # Unconditional: it "generates from" K identical components so per-cluster metrics still run
        # (ICFID of an unconditional model = FID of its samples against each class).
        return self.cfg.num_components or self.info.num_classes

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G, "D": self.D}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def ema_modules(self) -> dict[str, nn.Module]:
        return {"G": self.G}

    def extra_state(self) -> dict[str, Any]:
        return {}
