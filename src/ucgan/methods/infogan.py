"""InfoGAN (Chen et al. 2016) with a categorical code: the baseline that assumes balanced attributes.

G gets ``[z, onehot(c), u]`` with c ~ *uniform* over K categories, u ~ U(-1, 1)^``continuous_codes``
and z ~ N(0, I) (the incompressible noise). Q predicts c (softmax) and u (the mean of a unit-variance
Gaussian) from G's samples; the variational mutual-information bound is maximised by minimising
``lambda_cat * CE(c, Q_c) + lambda_cont * 0.5 * ||u - Q_u||^2`` in both Q's and G's updates (CGPGAN
Eq. 1-4). With ``share_trunk`` (InfoGAN's choice) Q is extra outputs of D's last layer; otherwise a
separate network (the CGPGAN paper's InfoGAN baseline, §4.1). Adversarial loss: non-saturating.

The uniform prior is the point of the baseline: with imbalanced attributes the categories cannot
match the classes one-to-one, so :meth:`mixing` returns None (the evaluation then records the
uniform shares the method assumes).

``prior: [p_1, ..., p_K]`` fixes the categorical prior to a given vector instead (InfoGAN "with the
optimal prior", CGPGAN Fig. 3 with the true .1/.2/.3/.4): codes are drawn from it and
:meth:`mixing` returns it. Only an explicit vector is accepted (the method never sees labels);
it is normalised to sum to 1. Empty (the default) keeps the uniform prior, bit for bit.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..config import require
from ..nets import build_discriminator, build_generator
from ..nets.paper2d import PaperMLPGenerator, paper_mlp_discriminator
from . import register
from .base import DataInfo, Method, MethodConfig, update
from .losses import d_nonsaturating, g_nonsaturating


@dataclasses.dataclass(frozen=True)
class InfoGANConfig(MethodConfig):
    """InfoGAN hyperparameters (``num_components`` = categories of the code, 0 = number of classes)."""

    continuous_codes: int = 0        # extra U(-1, 1) codes (InfoGAN's MNIST setting: 2)
    lambda_cat: float = 1.0          # weight of the categorical MI term (InfoGAN: 1)
    lambda_cont: float = 0.1         # weight of the continuous MI term (InfoGAN: 0.1)
    share_trunk: bool = True         # Q = extra heads on D (InfoGAN) or a separate net (CGPGAN §4.1)
    arch: Literal["shared", "paper"] = "shared"  # paper: CGPGAN's 4x512 MLPs (2-D only)
    lr: float = 2.0e-4               # D (and Q)
    g_lr_mult: float = 5.0           # G lr = g_lr_mult * lr (InfoGAN: 1e-3 vs 2e-4)
    betas: tuple[float, float] = (0.5, 0.999)
    prior: tuple[float, ...] = ()    # fixed categorical prior, one share per category ([] = uniform, InfoGAN)

    def validate(self, where: str) -> None:
        super().validate(where)
        require(all(p >= 0 for p in self.prior) and (not self.prior or sum(self.prior) > 0), f"{where}.prior",
                "must be non-negative shares with a positive sum (or [] for the uniform prior)")
        require(self.continuous_codes >= 0, f"{where}.continuous_codes", "must be >= 0")
        require(self.lambda_cat >= 0 and self.lambda_cont >= 0, f"{where}.lambda_cat/lambda_cont", "must be >= 0")
        require(self.lr > 0 and self.g_lr_mult > 0, f"{where}.lr/g_lr_mult", "must be positive")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


@register
class InfoGAN(Method):
    """InfoGAN with a uniform (or given) categorical code (+ optional continuous codes) and a Q head."""

    name = "infogan"
    representation_name = "Q(x) (InfoGAN code head)"
    Config = InfoGANConfig

    def __init__(self, cfg: InfoGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: InfoGANConfig = cfg
        k, u = self.num_components, cfg.continuous_codes
        require(not cfg.prior or len(cfg.prior) == k, f"methods.{self.name}.prior",
                f"has {len(cfg.prior)} shares for {k} categories (num_components, 0 = number of classes)")
        p = np.asarray(cfg.prior, dtype=np.float64)
        self._prior_np = p / p.sum() if cfg.prior else None
        self._prior = None if self._prior_np is None else torch.tensor(self._prior_np, dtype=torch.float32, device=device)
        g_in = cfg.latent_dim + k + u
        q_out = k + u
        if cfg.arch == "paper":
            require(info.modality == "points" and len(info.shape) == 1, f"methods.{self.name}.arch",
                    f"'paper' (4x512 MLPs) is for 2-D points; dataset {info.dataset!r} is {info.modality} "
                    f"{info.shape}: set arch: shared")
            G = PaperMLPGenerator(g_in, info.shape[0], value_range=info.value_range)
            make_d = lambda n: paper_mlp_discriminator(info.shape[0], n)  # noqa: E731
        else:
            G = build_generator(info, g_in, cfg.width)
            make_d = lambda n: build_discriminator(info, n, cfg.width)  # noqa: E731
        self.G = self.network("G", G, ema=True)
        # D's column 0 is the adversarial logit; Q's columns are [K category logits, u means].
        self.D = self.network("D", make_d(1 + q_out if cfg.share_trunk else 1))
        self.Q = None if cfg.share_trunk else self.network("Q", make_d(q_out))
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr * cfg.g_lr_mult, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr, betas=cfg.betas)
        self.opt_q = None if self.Q is None else self.optimizer("Q", self.Q, lr=cfg.lr, betas=cfg.betas)

    # ------------------------------------------------------------------ helpers
    def _codes(self, n: int, component: int | None, generator: torch.Generator | None):
        c = self.components(n, component, generator, probs=self._prior)
        u = torch.rand(n, self.cfg.continuous_codes, device=self.device, generator=generator) * 2 - 1
        z = torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)
        return c, u, torch.cat([z, self.one_hot(c), u], dim=1)

    def _adv_and_q(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(adversarial logit (N,), Q outputs (N, K + U))."""
        out = self.D(x)
        if self.Q is None:
            return out[:, 0], out[:, 1:]
        return out[:, 0], self.Q(x)

    def _info_loss(self, q: torch.Tensor, c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        k = self.num_components
        loss = self.cfg.lambda_cat * F.cross_entropy(q[:, :k], c)
        if u.shape[1]:
            loss = loss + self.cfg.lambda_cont * 0.5 * (q[:, k:] - u).pow(2).sum(1).mean()
        return loss

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        b = real.shape[0]
        c, u, g_in = self._codes(b, None, None)
        with torch.no_grad():
            fake = self.G(g_in)
        a_fake, q_fake = self._adv_and_q(fake)
        d_adv = d_nonsaturating(self.D(real)[:, 0], a_fake)
        q_loss = self._info_loss(q_fake, c, u)
        update(d_adv + q_loss, self.opt_d, *([self.opt_q] if self.opt_q is not None else []))

        c, u, g_in = self._codes(b, None, None)
        a_fake, q_fake = self._adv_and_q(self.G(g_in))
        g_adv = g_nonsaturating(a_fake)
        g_info = self._info_loss(q_fake, c, u)
        update(g_adv + g_info, self.opt_g)
        return {"d_loss": d_adv.detach(), "q_loss": q_loss.detach(), "g_loss": g_adv.detach(),
                "g_info": g_info.detach()}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self._codes(n, component, generator)[2])

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """argmax of Q's category logits on real data."""
        return self._adv_and_q(x)[1][:, : self.num_components].argmax(1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.features(x)

    @torch.no_grad()
    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """Q's output (categorical logits and continuous codes): InfoGAN's encoder (SLOGAN appendix A)."""
        return self._adv_and_q(x)[1]

    def mixing(self) -> np.ndarray | None:
        """The given prior when ``prior`` is set, else None (the uniform prior it assumes)."""
        return None if self._prior_np is None else self._prior_np.copy()
