"""CD-GAN (Pan, Tang, Chen and Xu, "Contrastive Disentanglement in Generative Adversarial Networks",
2021; later extended as CoDeGAN).

The latent is ``[z_n, onehot(z_c)]`` with z_n ~ N(0, I) and z_c uniform over K categories. An
encoder E maps an image to an estimate of z_n and to an L2-normalised class feature f_c. The
categorical code is disentangled by a *supervised contrastive* loss on the class features of
generated samples (Khosla et al. 2020, temperature 0.07): G's samples and a transformed copy of each
(random resized crop, area 0.7-1, on images) form 2B views; views generated from the same z_c are
positives, all others negatives. So samples of one code only need *similar features*, not similar
images (the paper's point against InfoGAN's classification loss). The updates follow the official
code: G minimises ``-D(G(z)) + beta_1 L_con + beta_2 ||z_n - E_n(G(z))||^2`` (beta_1 = 75,
beta_2 = 5e-4), E minimises ``L_con + (beta_2 / beta_1) ||z_n - E_n||^2`` on its own batch of
``e_batch_mult`` x B latents (official: 256 = 4 x 64), and D is a WGAN-GP critic; Adam 1e-4 with
betas (0.5, 0.9) and weight decay 2.5e-5 on G and E.

CD-GAN has no assignment rule of its own: the paper clusters E's class features with k-means, which
is what the evaluation does with :meth:`features` (``assign`` returns None). Mixing is uniform.

Where this implementation departs from the paper:

* Networks: the benchmark's appendix-E G, D and E (:mod:`ucgan.nets`); E is the appendix-E encoder
  trunk with ``latent_dim + feature_dim`` outputs (official MNIST: 30 + 120), without spectral norm
  by default as the official encoder (``encoder_spectral_norm``).
* The crop is drawn per sample (the official code applies one random crop to the whole batch), with
  torchvision's default aspect ratios (3/4 to 4/3). Points and vectors have no crop: the second view
  is the sample with Gaussian jitter of std ``aug_noise`` (ours).
* The few-label variant of the paper (limited supervision) is not implemented: the benchmark is
  unsupervised. The params.yaml CPU profile gives E the same batch as the other networks
  (``e_batch_mult: 1``) and D the TTUR rate of the other methods.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F

from ..config import require
from ..nets import build_discriminator
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .losses import PENALTIES, critic_steps, g_wasserstein


@dataclasses.dataclass(frozen=True)
class CDGANConfig(MethodConfig):
    """CD-GAN hyperparameters (``latent_dim`` = size of z_n; ``num_components`` = K, 0 = classes)."""

    lr: float = 1e-4                     # G and E (official: 1e-4)
    d_lr_mult: float = 1.0               # D at d_lr_mult * lr (official: same rate)
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 2.5e-5         # on G and E (official)
    penalty: Literal["gp", "lp"] = "gp"  # WGAN-GP (official) or the one-sided Lipschitz penalty
    penalty_weight: float = 10.0
    n_critic: int = 1
    feature_dim: int = 120               # size of E's class feature (official MNIST: 120)
    temperature: float = 0.07            # supervised-contrastive temperature (official)
    beta_1: float = 75.0                 # weight of the contrastive loss in G's loss (official MNIST)
    beta_2: float = 5e-4                 # weight of the z_n reconstruction in G's loss (official MNIST)
    e_batch_mult: int = 4                # E's batch = e_batch_mult * batch_size (official: 256 vs 64)
    crop_min_area: float = 0.7           # images: random resized crop keeps this share of the area at least
    aug_noise: float = 0.02              # points/vectors: std of the jitter making the second view (ours)
    encoder_spectral_norm: bool = False  # spectral norm on E's layers (official E: none; SLOGAN's 2-D E: SN)

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "d_lr_mult", "temperature", "beta_1"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("weight_decay", "penalty_weight", "beta_2", "aug_noise"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.n_critic >= 1, f"{where}.n_critic", "must be >= 1")
        require(self.feature_dim >= 1, f"{where}.feature_dim", "must be >= 1")
        require(self.e_batch_mult >= 1, f"{where}.e_batch_mult", "must be >= 1")
        require(0 < self.crop_min_area <= 1, f"{where}.crop_min_area", "must be in (0, 1]")
        require(all(0.0 <= b < 1.0 for b in self.betas), f"{where}.betas", "each beta must be in [0, 1)")


def supcon_loss(f: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the "L_out" form) of L2-normalised features.

    For each anchor i: -mean_{p in P(i)} log(exp(f_i.f_p / t) / sum_{a != i} exp(f_i.f_a / t)),
    P(i) = the other samples with i's label; anchors without a positive are skipped.
    """
    n = f.shape[0]
    logits = (f @ f.t()) / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=f.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    per_anchor = -(log_prob.masked_fill(~pos, 0.0).sum(1)) / n_pos.clamp_min(1)
    has = n_pos > 0
    return per_anchor[has].mean() if bool(has.any()) else f.sum() * 0.0


def random_resized_crop(x: torch.Tensor, min_area: float) -> torch.Tensor:
    """Per-sample random resized crop back to the input size (area in [min_area, 1], aspect 3/4-4/3)."""
    n = x.shape[0]
    dev = x.device
    area = min_area + (1.0 - min_area) * torch.rand(n, device=dev)
    log_r = (torch.rand(n, device=dev) * 2 - 1) * math.log(4 / 3)
    w = torch.sqrt(area * torch.exp(log_r)).clamp(max=1.0)
    h = torch.sqrt(area / torch.exp(log_r)).clamp(max=1.0)
    tx = (torch.rand(n, device=dev) * 2 - 1) * (1 - w)
    ty = (torch.rand(n, device=dev) * 2 - 1) * (1 - h)
    zero = torch.zeros_like(w)
    theta = torch.stack([torch.stack([w, zero, tx], 1), torch.stack([zero, h, ty], 1)], 1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@register
class CDGAN(Method):
    """CD-GAN (Pan et al. 2021): one-hot + Gaussian latent, supervised contrastive loss on E's class features of fakes."""

    name = "cdgan"
    Config = CDGANConfig

    def __init__(self, cfg: CDGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: CDGANConfig = cfg
        k, d = self.num_components, cfg.latent_dim
        self.G, self.D = self.generator_and_critic(d + k)
        self.E = self.network("E", build_discriminator(info, d + cfg.feature_dim, cfg.width,
                                                       spectral_norm=cfg.encoder_spectral_norm))
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self.opt_e = self.optimizer("E", self.E, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
        self._penalty = PENALTIES[cfg.penalty]

    # ------------------------------------------------------------------ helpers
    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_n(x), L2-normalised class feature E_c(x))."""
        e = self.E(x)
        return e[:, : self.cfg.latent_dim], F.normalize(e[:, self.cfg.latent_dim:], dim=1)

    def view(self, x: torch.Tensor) -> torch.Tensor:
        """The second (transformed) view of generated samples, without gradient (official code)."""
        with torch.no_grad():
            if self.info.modality == "image" and x.dim() == 4:
                return random_resized_crop(x, self.cfg.crop_min_area)
            out = x + self.cfg.aug_noise * torch.randn_like(x)
            return out if self.info.value_range is None else out.clamp(*self.info.value_range)

    def _code_losses(self, x: torch.Tensor, zn: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(supervised contrastive loss over the 2B views, z_n reconstruction MSE)."""
        b = x.shape[0]
        en, fc = self._encode(torch.cat([x, self.view(x)], dim=0))
        con = supcon_loss(fc, torch.cat([c, c]), self.cfg.temperature)
        return con, F.mse_loss(en[:b], zn)

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = real.shape[0]
        d_adv, pen = critic_steps(self.D, self.opt_d, real, lambda: self.G(self.code_latent(b)[2]), self._penalty,
                                  cfg.penalty_weight, cfg.n_critic)

        with frozen(self.D, self.E):  # ---- G (E fixed)
            zn, c, g_in = self.code_latent(b)
            x = self.G(g_in)
            g_adv = g_wasserstein(self.D(x))
            con_g, mse_g = self._code_losses(x, zn, c)
            update(g_adv + cfg.beta_1 * con_g + cfg.beta_2 * mse_g, self.opt_g)

        # ---- E on its own batch of fakes
        zn, c, g_in = self.code_latent(b * cfg.e_batch_mult)
        with torch.no_grad():
            x = self.G(g_in)
        con_e, mse_e = self._code_losses(x, zn, c)
        update(con_e + (cfg.beta_2 / cfg.beta_1) * mse_e, self.opt_e)
        return {"d_loss": d_adv.detach(), "penalty": pen.detach(), "g_loss": g_adv.detach(),
                "contrastive": con_e.detach(), "zn_mse": mse_e.detach()}

    # ------------------------------------------------------------------ inference
    # assign: None (the paper clusters E's class features with k-means: see `features`); mixing: uniform
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.G(self.code_latent(n, component, generator)[2])

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """E's L2-normalised class features."""
        return self._encode(x)[1]
