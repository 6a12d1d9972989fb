"""CGPGAN: classifier gradient penalty GAN with a dynamic prior (Cho, Algorithm 1, Eq. 7-13).

A class-conditional G(z, c), a discriminator D with one output per category, and a separate
classifier Q (same trunk as D, no shared layers, §4.1):

* **D** (Eq. 8, 11): CAGAN loss, i.e. the non-saturating loss on the output of the real sample's
  category ``argmax onehot(Q(x))`` and of the fake's code ``c``, plus R2 on fakes
  ``lambda_r2 * E||grad_x' D(x') . c||^2`` (§3 recommends R2 over R1 because fakes have true labels).
* **Q** (Eq. 7, 10): trained on fakes only: ``lambda_cls * CE(c, Q(x'))`` + the classifier gradient
  penalty ``lambda_creg * E||grad_x' (1 - Q(x') . c)^2||^2`` that keeps its decision boundaries
  from falling into narrow density minima (larger weight = fewer, wider categories).
* **G** (Eq. 9, 12): adversarial loss only, on a fresh (z, c) — no classification loss, which is
  what separates CGPGAN from InfoGAN.
* **Prior** (Alg. 1 line 25): ``P(C) <- decay * P(C) + (1 - decay) * mean_batch Q(x_real)``; Q(x_real)
  is *prob-normalized* (Eq. 13) until ``prior_start`` so the batch mean, and hence P(C), stays uniform
  and training cannot collapse to the trivial one-category solution before Q means something.
* ``num_components`` is d_c and over-complete (16, §4.1): categories whose P(C) falls under
  ``min_share`` (1 %, the paper's figures) are reported unused (:meth:`unused_components`,
  ``used_categories`` in the logged losses).

``prior_lr`` (not in the paper) lets a shortened schedule fit the networks at a higher rate while
P(C) is fixed and run the prior phase at the paper's rate.

Update order follows the official code: D and Q from the same fakes, then G on new ones, then P(C).
G's input is the code standardised to zero mean / unit variance, ``(onehot * K - 1)/sqrt(K - 1)``,
concatenated with z.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import require
from ..nets import build_discriminator, build_generator
from ..nets.paper2d import PaperMLPGenerator, paper_mlp_discriminator
from . import register
from .base import DataInfo, Method, MethodConfig, update
from .losses import class_logit, d_nonsaturating, g_nonsaturating, zero_centered_penalty


@dataclasses.dataclass(frozen=True)
class CGPGANConfig(MethodConfig):
    """CGPGAN hyperparameters; defaults are the paper's gauss4 settings (§4.1) where they exist.

    ``num_components`` is d_c (over-complete: 16 as in the paper, whatever the number of classes).
    ``prior_start`` is a *fraction* of the run: the paper updates P(C) after epoch 30 of 100.
    """

    batch_size: int = 16
    latent_dim: int = 256
    num_components: int = 16
    arch: Literal["shared", "paper"] = "shared"  # paper: 4x512 equalised-lr MLPs (2-D data only)
    hidden: int = 512                # paper arch: units per hidden layer
    depth: int = 4                   # paper arch: hidden layers
    equalized_lr: bool = True        # paper arch: equalised learning rate on every weight
    lr: float = 1.0e-4               # AdamW for G, D and Q
    weight_decay: float = 1.0e-4
    betas: tuple[float, float] = (0.0, 0.99)
    lambda_cls: float = 1.0
    lambda_creg: float = 0.1         # classifier gradient penalty weight (Eq. 7, 10)
    r2_weight: float = 1.0           # lambda_r2
    prior_decay: float = 0.999       # EMA decay of the P(C) update
    prior_start: float = 0.3         # fraction of training with prob-normalize and a fixed uniform P(C)
    prior_lr: float = 0.0            # learning rate once P(C) is updated (0 = lr): lets a short schedule fit
                                     # fast while P(C) is fixed and run the prior phase at the paper's rate
    min_share: float = 0.01          # categories below this P(C) are reported unused

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.num_components != 1, f"{where}.num_components",
                "must be >= 2 (the standardised code divides by sqrt(d_c - 1)); 0 = number of classes")
        require(self.lr > 0, f"{where}.lr", "must be positive")
        require(self.prior_lr >= 0, f"{where}.prior_lr", "must be >= 0 (0 = same as lr)")
        require(self.weight_decay >= 0, f"{where}.weight_decay", "must be >= 0")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")
        require(self.lambda_cls >= 0, f"{where}.lambda_cls", "must be >= 0")
        require(self.lambda_creg >= 0, f"{where}.lambda_creg", "must be >= 0")
        require(self.r2_weight >= 0, f"{where}.r2_weight", "must be >= 0")
        require(0.0 <= self.prior_decay < 1.0, f"{where}.prior_decay", "must be in [0, 1)")
        require(0.0 <= self.prior_start <= 1.0, f"{where}.prior_start",
                "is a fraction of the training steps in [0, 1] (the paper: 0.3)")
        require(0.0 <= self.min_share < 1.0, f"{where}.min_share", "must be in [0, 1)")
        require(self.hidden >= 1 and self.depth >= 1, f"{where}.hidden/depth", "must be >= 1")


def prob_normalize(p: torch.Tensor) -> torch.Tensor:
    """Eq. 13: ``p - batch_mean(p) + 1/d_c``; the batch mean of the result is exactly uniform."""
    return p - p.mean(0, keepdim=True) + 1.0 / p.shape[1]


def classifier_gradient_penalty(q_logits: torch.Tensor, codes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Eq. 10: ``E ||grad_x (1 - softmax(Q(x)) . c)^2||_2^2`` with ``x`` the fakes (requires grad).

    ``codes`` one-hot (N, K). The penalty is large where a fake sits near a decision boundary of Q
    (its own-code probability changes fast there), so it flattens Q's boundaries (§3).
    """
    own = (F.softmax(q_logits, dim=1) * codes).sum(1)
    (g,) = torch.autograd.grad((1.0 - own).pow(2).sum(), x, create_graph=True)
    return g.flatten(1).pow(2).sum(1).mean()


def standardized_onehot(c: torch.Tensor, k: int) -> torch.Tensor:
    """One-hot code scaled to zero mean and unit variance over a uniform code (official code's G input)."""
    return (F.one_hot(c, k).float() * k - 1.0) / (k - 1.0) ** 0.5


@register
class CGPGAN(Method):
    """CGPGAN (Cho): CAGAN loss on Q's argmax labels, classifier gradient penalty, dynamic prior P(C)."""

    name = "cgpgan"
    representation_name = "Q(x) logits (CGPGAN classifier)"
    own_classifier = True
    min_component_share = 0.01  # the paper leaves out categories whose P(C) fell under 1%
    Config = CGPGANConfig

    def __init__(self, cfg: CGPGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: CGPGANConfig = cfg
        k = self.num_components
        require(k >= 2, f"methods.{self.name}.num_components", f"d_c must be >= 2, got {k} (0 = number of classes)")
        if cfg.arch == "paper":
            require(info.modality == "points" and len(info.shape) == 1, f"methods.{self.name}.arch",
                    f"'paper' (CGPGAN's 4x512 MLPs) is for 2-D points; dataset {info.dataset!r} is "
                    f"{info.modality} {info.shape}: set arch: shared")
            dim = info.shape[0]
            G = PaperMLPGenerator(cfg.latent_dim + k, dim, cfg.hidden, cfg.depth, cfg.equalized_lr, info.value_range)
            D = paper_mlp_discriminator(dim, k, cfg.hidden, cfg.depth, cfg.equalized_lr)
            Q = paper_mlp_discriminator(dim, k, cfg.hidden, cfg.depth, cfg.equalized_lr)
        else:
            G = build_generator(info, cfg.latent_dim + k, cfg.width)
            D = build_discriminator(info, k, cfg.width)
            Q = build_discriminator(info, k, cfg.width)
        self.G = self.network("G", G, ema=True)
        self.D = self.network("D", D)
        self.Q = self.network("Q", Q)
        opt = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.opt_g = self.optimizer("G", self.G, torch.optim.AdamW, **opt)
        self.opt_d = self.optimizer("D", self.D, torch.optim.AdamW, **opt)
        self.opt_q = self.optimizer("Q", self.Q, torch.optim.AdamW, **opt)
        self.prior = torch.full((k,), 1.0 / k, device=device)

    # ------------------------------------------------------------------ helpers
    def _codes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.components(n, None, generator, probs=self.prior)

    def _generate(self, c: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(c.shape[0], self.cfg.latent_dim, device=self.device, generator=generator)
        return self.G(torch.cat([standardized_onehot(c, self.num_components), z], dim=1))

    def normalizing(self, step: int, total_steps: int) -> bool:
        """True while Q(x_real) is prob-normalized and P(C) therefore stays uniform (Alg. 1 line 9)."""
        return step < int(round(self.cfg.prior_start * total_steps))

    def unused_components(self) -> list[int]:
        """Categories whose P(C) is under ``min_share`` (omitted in the paper's figures)."""
        return [int(i) for i in torch.nonzero(self.prior < self.cfg.min_share).flatten()]

    # ------------------------------------------------------------------ training
    def dq_losses(
        self, real: torch.Tensor, step: int, total_steps: int
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        """Alg. 1 lines 1-16: (D loss, Q loss, diagnostics, Q(x_real) as used for P(C)).

        The D loss reaches only D's parameters and the Q loss only Q's (the fakes are detached from G).
        """
        cfg, b = self.cfg, real.shape[0]
        with torch.no_grad():
            p_real = F.softmax(self.Q(real), dim=1)
        if self.normalizing(step, total_steps):
            p_real = prob_normalize(p_real)
        y_real = self.one_hot(p_real.argmax(1))   # argmax onehot(Q(x)) (Eq. 11)
        c = self._codes(b)
        codes = self.one_hot(c)
        with torch.no_grad():
            fake = self._generate(c)
        fake.requires_grad_(True)
        d_fake = class_logit(self.D(fake), codes)
        d_adv = d_nonsaturating(class_logit(self.D(real), y_real), d_fake)
        r2 = zero_centered_penalty(d_fake, fake) if cfg.r2_weight > 0 else d_fake.new_zeros(())
        q_logits = self.Q(fake)
        cls = F.cross_entropy(q_logits, c)
        creg = classifier_gradient_penalty(q_logits, codes, fake) if cfg.lambda_creg > 0 else cls.new_zeros(())
        diag = {"d_loss": d_adv.detach(), "r2": r2.detach(), "q_cls": cls.detach(), "q_creg": creg.detach()}
        return d_adv + cfg.r2_weight * r2, cfg.lambda_cls * cls + cfg.lambda_creg * creg, diag, p_real

    def g_loss(self, n: int) -> torch.Tensor:
        """Alg. 1 lines 19-23 (Eq. 9, 12): the adversarial loss only, on fresh codes and noise."""
        c = self._codes(n)
        return g_nonsaturating(class_logit(self.D(self._generate(c)), self.one_hot(c)))

    @torch.no_grad()
    def update_prior(self, p_real: torch.Tensor) -> None:
        """Alg. 1 line 25: P(C) <- decay * P(C) + (1 - decay) * mean_batch Q(x_real) (uniform while normalising)."""
        d = self.cfg.prior_decay
        self.prior.mul_(d).add_(p_real.mean(0), alpha=1.0 - d)
        self.prior.clamp_(min=0.0).div_(self.prior.sum())

    def _set_lr(self, step: int, total_steps: int) -> None:
        lr = self.cfg.lr if self.normalizing(step, total_steps) or not self.cfg.prior_lr else self.cfg.prior_lr
        for opt in self.optimizers().values():
            for group in opt.param_groups:
                group["lr"] = lr

    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        self._set_lr(step, total_steps)
        d_loss, q_loss, diag, p_real = self.dq_losses(real, step, total_steps)
        update(d_loss + q_loss, self.opt_d, self.opt_q)   # disjoint parameters: one backward serves both
        g = self.g_loss(real.shape[0])
        update(g, self.opt_g)
        self.update_prior(p_real)
        return {**diag, "g_loss": g.detach(),
                "used_categories": (self.prior >= self.cfg.min_share).sum().float(),
                "prior_entropy": -(self.prior * self.prior.clamp_min(1e-12).log()).sum()}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._generate(self.components(n, component, generator, probs=self.prior), generator)

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """argmax Q(x): the category CGPGAN gives a real sample (its clustering, §3)."""
        return self.Q(x).argmax(1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.Q.features(x)

    @torch.no_grad()
    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """Q's output on real data: CGPGAN's encoder of a sample's category (SLOGAN appendix A)."""
        return self.Q(x)

    def mixing(self) -> np.ndarray:
        """The learned prior P(C) (over all d_c categories, unused ones included)."""
        p = self.prior.detach().double().cpu().numpy()
        return p / p.sum()

    # ------------------------------------------------------------------ state
    def extra_state(self) -> dict[str, Any]:
        return {"prior": self.prior.detach().clone()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if "prior" in state:
            self.prior.copy_(state["prior"].to(self.device))
