"""SLOGAN: Stein Latent Optimization for GANs (Hwang et al., ICLR 2022).

A Gaussian-mixture latent prior whose means, full covariances and mixing logits are learned by
Stein / implicit-reparameterisation gradient estimates (§3.1-3.2, Algorithm 1; the maths is in
:mod:`ucgan.priors.gmm`), an encoder E trained with the U2C contrastive loss (Eq. 10) with the
additive angular margin of appendix D.1 on Gumbel-softmax-selected prototypes, SimCLR on generated
data for colour images (D.4), and a Lipschitz-penalised critic (appendix E.1).

One step follows the official code's order: one critic update, then one *simultaneous* update of G,
E and the prior computed from the same forward pass (all gradients before any parameter changes).

Options that are ours, not the paper's (all off by default, so the defaults are the paper/official
method): ``u2c_floor`` (U2C weight and margin never decay below a fraction), ``u2c_negatives:
prototypes`` (K component means as negatives), ``rho_lr_mult`` / ``rho_baseline`` (the rho step),
and ``reassign_every`` (split/birth moves that re-place a redundant component, after SMEM). On the
imbalanced ring the official schedule leaves components that do not claim one mode each (one
component on two small modes while two share a large one, or two sharing a mode while another has
none); ``u2c_decay_end 0.5, u2c_floor 0.25, reassign_every 500, reassign_until 0.8`` is the setting that fixed that in our
short runs; it is the `slogan+moves` variant in params.yaml, the paper-faithful setting keeps the name `slogan`.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import require
from ..errors import ConfigError, DataError
from ..nets import build_encoder
from ..priors.gmm import GaussianMixturePrior
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .diffaug import diff_augment
from .losses import PENALTIES, critic_steps, d_hinge, d_wasserstein


@dataclasses.dataclass(frozen=True)
class SLOGANConfig(MethodConfig):
    """Hyperparameters (appendix E; defaults = MNIST-2 / CIFAR: eta 1e-4, gamma 2e-3, lambda 4, s 4, m 0.5)."""

    lr: float = 1e-4                     # eta: G and E learning rate (Adam)
    d_lr_mult: float = 4.0               # D at 4 eta (TTUR, E.1)
    betas: tuple[float, float] = (0.0, 0.9)  # official code's Adam betas
    gamma: float = 2e-3                  # prior learning rate: covariances and logits; means at mu_lr_mult * gamma
    mu_lr_mult: float = 10.0
    mu_init_std: float = 0.1
    covariance_grad_factor: float = 0.5  # 0.5 = paper Eq. 4; 1.0 = official code (see ucgan.priors.gmm)
    lr_decay: bool = True                # all learning rates decay linearly to 0 (official code)
    u2c: bool = True                     # ablation switch (Table 3/8)
    u2c_weight: float = 4.0              # lambda
    u2c_scale: float = 4.0               # s (feature scale, A.3 Table 10)
    u2c_margin: float = 0.5              # m (additive angular margin, D.1)
    u2c_decay_end: float = 1.0           # lambda and m reach 0 at this fraction of training (synthetic: 0.2)
    u2c_floor: float = 0.0               # ours, not the paper's: keep this fraction of lambda and m after the
                                         # decay, so components that claimed a mode keep it (0 = paper)
    u2c_negatives: Literal["batch", "prototypes"] = "batch"  # batch = Eq. 10/66 (paper); prototypes = ours,
                                         # see u2c_loss_prototypes
    gumbel_tau: float = 0.01             # Gumbel-softmax temperature on the responsibilities (§3.3)
    gen_batch_mult: int = 1              # G/E/prior step on gen_batch_mult * batch_size latents, D on batch_size
                                         # (official code: 1 synthetic, 2 CIFAR-2 (z_gen = 2 x batch))
    rho_lr_mult: float = 1.0             # ours: rho's learning rate is rho_lr_mult * gamma (paper/official: 1)
    rho_baseline: bool = False           # ours: subtract the batch mean of l_adv in the rho estimate (a control
                                         # variate: E[q(c|z) - pi_c] = 0, so the expectation is unchanged)
    # ours, not the paper's: split/birth moves for the mixture (after SMEM, Ueda et al. 2000), see
    # SLOGAN._reassign. Every reassign_every steps until reassign_until x training, if two components
    # generate one region (the distance of their mean features is below reassign_merge x the median, over
    # the other components, of the distance to the nearest component; ring: ~0.3 for two halves of a mode,
    # >~0.85 for components on different modes),
    # the smaller one is moved: onto a component whose own samples are bimodal (ratio < reassign_split),
    # or else to the latent point whose G(z) is nearest the real sample the critic rates highest.
    reassign_every: int = 0              # 0 = off (paper)
    reassign_until: float = 0.5
    reassign_merge: float = 0.5
    reassign_split: float = 0.15         # a component whose own 2-means ratio is below this spans two regions
    reassign_samples: int = 256          # samples per component for the test
    update_mu: bool = True               # ablation switches of Table 8
    update_sigma: bool = True
    update_rho: bool = True
    d_loss: Literal["wgan", "hinge"] = "wgan"  # official synthetic code uses hinge
    penalty: Literal["lp", "gp"] = "lp"  # Lipschitz penalty (Petzka) for synthetic/MNIST/FMNIST/vectors
    penalty_weight: float = 10.0
    simclr: bool = False                 # SimCLR on generated data with DiffAugment (colour datasets, D.4)
    simclr_weight: float = 1.0
    probe_path: str = ""                 # npz with x (probe images) and c (component ids) for attribute manipulation (§3.4)
    probe_weight: float = 1.0
    probe_mixup_iters: int = 5           # T of Algorithm 3

    def validate(self, where: str) -> None:
        super().validate(where)
        for k in ("lr", "d_lr_mult", "gamma", "mu_lr_mult", "u2c_scale", "gumbel_tau", "rho_lr_mult"):
            require(getattr(self, k) > 0, f"{where}.{k}", "must be positive")
        for k in ("u2c_weight", "u2c_margin", "penalty_weight", "simclr_weight", "probe_weight", "mu_init_std"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(0 < self.u2c_decay_end <= 10, f"{where}.u2c_decay_end", "must be in (0, 10]")
        require(0 <= self.u2c_floor <= 1, f"{where}.u2c_floor", "must be in [0, 1]")
        require(self.u2c_margin < math.pi / 2, f"{where}.u2c_margin", "must be below pi/2")
        require(self.gen_batch_mult >= 1, f"{where}.gen_batch_mult", "must be >= 1")
        require(self.reassign_every >= 0, f"{where}.reassign_every", "must be >= 0 (0 = off)")
        require(0 < self.reassign_until <= 1, f"{where}.reassign_until", "must be in (0, 1]")
        for k in ("reassign_merge", "reassign_split"):
            require(0 < getattr(self, k) < 1, f"{where}.{k}", "must be in (0, 1)")
        require(self.reassign_samples >= 8, f"{where}.reassign_samples", "must be >= 8")
        require(self.probe_mixup_iters >= 0, f"{where}.probe_mixup_iters", "must be >= 0")


def arcface_logits(cos: torch.Tensor, scale: float, margin: float, positive: torch.Tensor | None = None) -> torch.Tensor:
    """s * cos(theta + m) on the positives, s * cos(theta) elsewhere (appendix D.1, Eq. 66).

    ``positive`` is a boolean mask of cos's shape; default the diagonal (U2C: sample i vs its own
    prototype). Where theta + m would pass pi the official code's fallback s * (cos - m sin m) keeps
    the logit monotone.
    """
    if margin <= 0:
        return scale * cos
    if positive is None:
        positive = torch.eye(cos.shape[0], cos.shape[1], dtype=torch.bool, device=cos.device)
    c = cos.clamp(-1 + 1e-7, 1 - 1e-7)
    sin = torch.sqrt(1 - c * c)
    with_margin = c * math.cos(margin) - sin * math.sin(margin)
    fallback = c - margin * math.sin(margin)
    pos = torch.where(c > math.cos(math.pi - margin), with_margin, fallback)
    return scale * torch.where(positive, pos, cos)


def u2c_loss(e: torch.Tensor, proto: torch.Tensor, scale: float, margin: float) -> torch.Tensor:
    """Per-sample U2C loss (Eq. 10 with Eq. 66): -log(exp(pos_i) / mean_j exp(logit_ij)), shape (B,)."""
    cos = F.normalize(e, dim=1) @ F.normalize(proto, dim=1).t()
    logits = arcface_logits(cos, scale, margin)
    return -(logits.diagonal() - torch.logsumexp(logits, dim=1) + math.log(logits.shape[1]))


def u2c_loss_prototypes(e: torch.Tensor, proto: torch.Tensor, mu: torch.Tensor, cat: torch.Tensor,
                        scale: float, margin: float) -> torch.Tensor:
    """Ours (``u2c_negatives: prototypes``): Eq. 66 with the K component means as negatives instead of
    the batch's prototypes, shape (B,).

    Positive: s cos(theta(e_i, mu_C^i) + m) with the Gumbel-softmax prototype mu_C^i = C^i mu, as in
    U2C (so dl/dz keeps its path through the responsibilities). Negatives: s cos(e_i, mu_k) for every
    component k other than argmax C^i. The denominator is the mean over the K terms. This is the
    posterior of appendix D.2 (Eq. 67) / the probe loss (Eq. 11) turned into the training loss. Why:
    with batch negatives the denominator holds about pi_C B copies of the sample's own prototype, so
    the loss of a sample grows with its component's share (about log(pi_C e^s + (1 - pi_C) e^{s cos}))
    and G, mu and Sigma are pushed towards equal shares: the bias that makes components split the
    large modes and merge the small ones. With the K means as negatives that term is gone.
    """
    en = F.normalize(e, dim=1)
    pos = arcface_logits((en * F.normalize(proto, dim=1)).sum(1, keepdim=True), scale, margin,
                         torch.ones(e.shape[0], 1, dtype=torch.bool, device=e.device))
    neg = scale * (en @ F.normalize(mu, dim=1).t())
    own = F.one_hot(cat.argmax(dim=1), mu.shape[0]).bool()
    logits = torch.cat([pos, neg.masked_fill(own, float("-inf"))], dim=1)
    return -(pos.squeeze(1) - torch.logsumexp(logits, dim=1) + math.log(mu.shape[0]))


def simclr_loss(e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
    """D.4 (Eq. 68): -log(exp(cos(e_i, e'_i)) / sum_j exp(cos(e_i, e'_j))), temperature 1."""
    cos = F.normalize(e1, dim=1) @ F.normalize(e2, dim=1).t()
    return F.cross_entropy(cos, torch.arange(cos.shape[0], device=cos.device))


@register
class SLOGAN(Method):
    """SLOGAN (Stein latent optimisation, Gaussian-mixture prior, U2C contrastive loss)."""

    name = "slogan"
    representation_name = "E(x) (SLOGAN encoder output)"
    Config = SLOGANConfig

    def __init__(self, cfg: SLOGANConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: SLOGANConfig = cfg
        k, d = self.num_components, cfg.latent_dim
        prior = GaussianMixturePrior(k, d, cfg.mu_init_std, mu_lr_mult=cfg.mu_lr_mult,
                                     covariance_grad_factor=cfg.covariance_grad_factor)  # drawn before G, D, E
        self.G, self.D = self.generator_and_critic(d)
        self.E = self.network("E", build_encoder(info, d, cfg.width))
        self.prior = self.network("prior", prior)  # after the networks: the checkpoint's order
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self.opt_e = self.optimizer("E", self.E, lr=cfg.lr, betas=cfg.betas)
        self._penalty = PENALTIES[cfg.penalty]
        self._d_adv = d_wasserstein if cfg.d_loss == "wgan" else d_hinge
        self._probe: tuple[torch.Tensor, torch.Tensor] | None = None
        self._last_move = -(10**9)  # step of the last split/birth move (cool-down of 2 tests)
        self._moves = 0  # split/birth moves so far: logged as a running count, so a sparse event shows in losses.csv
        if cfg.simclr and info.modality != "image":
            raise ConfigError("slogan.simclr needs image data (DiffAugment works on images); set simclr: false")
        if cfg.probe_path:
            self._probe = self._load_probe(Path(cfg.probe_path))

    # ------------------------------------------------------------------ probe data (§3.4, Alg. 3)
    def _load_probe(self, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
        if not path.is_file():
            raise DataError(f"slogan.probe_path {path} does not exist; give an .npz with arrays x and c")
        with np.load(path, allow_pickle=False) as f:
            x, c = f["x"].astype(np.float32), f["c"].astype(np.int64)
        if tuple(x.shape[1:]) != tuple(self.info.shape) or len(x) != len(c):
            raise DataError(f"probe data {path}: x must be (M, {self.info.shape}) with one component id c per row")
        if c.min() < 0 or c.max() >= self.num_components:
            raise DataError(f"probe data {path}: component ids must be in 0..{self.num_components - 1}")
        # Algorithm 3: each of the T rounds mixes the previous round's M probes with a permutation of
        # the original M (same component), so the set grows to M (T + 1) as its loss sums over.
        xt, ct = torch.from_numpy(x), torch.from_numpy(c)
        xs, cs = [xt], [ct]
        gen = torch.Generator().manual_seed(0)
        prev = xt
        for _ in range(self.cfg.probe_mixup_iters):
            mixed = torch.empty_like(prev)
            for comp in ct.unique():
                rows = torch.nonzero(ct == comp).flatten()
                perm = rows[torch.randperm(len(rows), generator=gen)]
                lam = torch.rand(len(rows), *([1] * (xt.dim() - 1)), generator=gen)
                mixed[rows] = lam * prev[rows] + (1 - lam) * xt[perm]
            xs.append(mixed)
            cs.append(ct)
            prev = mixed
        return torch.cat(xs).to(self.device), torch.cat(cs).to(self.device)

    def _probe_loss(self, mu: torch.Tensor, s: float, m: float) -> torch.Tensor:
        """Eq. 11 with the margin of Eq. 66 on a random batch of (mixed-up) probe data."""
        assert self._probe is not None
        px, pc = self._probe
        idx = torch.randint(0, len(px), (min(len(px), self.cfg.batch_size),), device=self.device)
        cos = F.normalize(self.E(px[idx]), dim=1) @ F.normalize(mu, dim=1).t()
        onehot = F.one_hot(pc[idx], self.num_components).bool()
        return F.cross_entropy(arcface_logits(cos, s, m, onehot), pc[idx])

    # ------------------------------------------------------------------ split / birth moves (ours)
    @staticmethod
    def _two_means_ratio(f: torch.Tensor, iters: int = 15) -> float:
        """SSE of 2-means over SSE of 1-mean (about 0.6-0.7 for one Gaussian blob, near 0 for two
        separated blobs); initialised by the sign of the first principal component."""
        f = f - f.mean(0)
        sse1 = float((f * f).sum())
        if sse1 <= 0:
            return 1.0
        lab = (f @ torch.linalg.svd(f, full_matrices=False)[2][0]) > 0
        for _ in range(iters):
            if lab.all() or (~lab).all():
                return 1.0
            c0, c1 = f[~lab].mean(0), f[lab].mean(0)
            lab = ((f - c1) ** 2).sum(1) < ((f - c0) ** 2).sum(1)
        if lab.all() or (~lab).all():
            return 1.0
        sse2 = float(((f[~lab] - f[~lab].mean(0)) ** 2).sum() + ((f[lab] - f[lab].mean(0)) ** 2).sum())
        return sse2 / sse1

    @torch.no_grad()
    def _reassign(self, real: torch.Tensor) -> float:
        """One split/birth test; returns 1.0 when a component was moved, else 0.0.

        Components that do not claim one mode each are a local optimum the gradients do not leave
        (one component on two modes while two share a third, or two sharing a mode while another
        mode has none; seen with the official code (github.com/shinyflight/SLOGAN) on the 1:3 ring). SMEM's remedy is a discrete move: a
        redundant component is re-placed. Tests run on the critic's penultimate features of
        ``reassign_samples`` samples per component (generic: points, vectors and images).
        """
        cfg, k = self.cfg, self.num_components
        if k < 3:
            return 0.0
        was = self.G.training, self.D.training
        self.G.eval(), self.D.eval()
        n = cfg.reassign_samples
        feats = [self.D.features(self.G(self.prior.sample(n, c)[0])).flatten(1).float() for c in range(k)]
        own = [self._two_means_ratio(f) for f in feats]
        cen = torch.stack([f.mean(0) for f in feats])
        dist = torch.cdist(cen, cen) + torch.diag(torch.full((k,), float("inf"), device=cen.device))
        nearest = dist.min(dim=1).values
        i, j = divmod(int(dist.argmin()), k)
        others = torch.tensor([c not in (i, j) for c in range(k)], device=cen.device)
        closeness = float(dist[i, j] / nearest[others].median().clamp_min(1e-12))
        pair = (i, j) if closeness < cfg.reassign_merge else None
        self._reassign_info = {"closeness": round(closeness, 3), "pair": pair, "own_min": round(min(own), 3)}
        moved = 0.0
        if pair is not None:
            pi = self.prior.pi
            donor = pair[0] if pi[pair[0]] <= pi[pair[1]] else pair[1]
            split = [c for c in range(k) if c != donor and own[c] < cfg.reassign_split]
            if split:  # a component spans two regions: put the donor on top of it (a split)
                t = min(split, key=lambda c: own[c])
                eps = torch.randn(self.prior.dim, device=self.device, dtype=self.prior.mu.dtype)
                self.prior.mu[donor] = self.prior.mu[t] + 0.1 * (self.prior.cholesky()[t] @ eps)
                self.prior.sigma[donor] = self.prior.sigma[t]
            else:  # some region has no component: start the donor where G comes closest to it
                target = real[self.D(real).reshape(-1).argmax()].reshape(1, -1)
                z, _ = self.prior.sample(max(256, 4 * n))
                d = (self.G(z).reshape(len(z), -1) - target).pow(2).sum(1)
                self.prior.mu[donor] = z[d.argmin()]
            moved = 1.0
        self.G.train(was[0]), self.D.train(was[1])
        return moved

    # ------------------------------------------------------------------ training
    def _schedules(self, step: int, total: int) -> tuple[float, float]:
        decay = max(0.0, 1.0 - step / total) if self.cfg.lr_decay else 1.0
        temp = max(self.cfg.u2c_floor, 1.0 - step / (self.cfg.u2c_decay_end * total))
        return decay, temp

    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        b = real.shape[0]
        decay, temp = self._schedules(step, total_steps)
        for opt, base in ((self.opt_g, cfg.lr), (self.opt_e, cfg.lr), (self.opt_d, cfg.lr * cfg.d_lr_mult)):
            for group in opt.param_groups:
                group["lr"] = base * decay

        d_adv, pen = critic_steps(self.D, self.opt_d, real, lambda: self.G(self.prior.sample(b)[0]), self._penalty,
                                  cfg.penalty_weight, loss=self._d_adv)

        # ---- G, E and the prior from one forward pass (simultaneous update)
        with frozen(self.D):
            b = b * cfg.gen_batch_mult  # official CIFAR-2 code: z_gen has 2 x batch latents
            z, _ = self.prior.sample(b)
            z.requires_grad_(True)
            x = self.G(z)
            l_adv = -self.D(x).reshape(b)
            lam = cfg.u2c_weight * temp if cfg.u2c else 0.0
            total = l_adv
            l_u2c = torch.zeros((), device=self.device)
            if lam > 0:
                log_resp = self.prior.log_responsibilities(z)
                cat = F.gumbel_softmax(log_resp, tau=cfg.gumbel_tau, hard=False)
                proto = cat @ self.prior.mu
                if cfg.u2c_negatives == "batch":
                    l_u2c_vec = u2c_loss(self.E(x), proto, cfg.u2c_scale, cfg.u2c_margin * temp)
                else:
                    l_u2c_vec = u2c_loss_prototypes(self.E(x), proto, self.prior.mu, cat, cfg.u2c_scale,
                                                    cfg.u2c_margin * temp)
                total = l_adv + lam * l_u2c_vec
                l_u2c = l_u2c_vec.mean().detach()
            e_loss = torch.zeros((), device=self.device)
            if cfg.simclr:
                xd = x.detach()
                e_loss = cfg.simclr_weight * simclr_loss(self.E(xd), self.E(diff_augment(xd)))
            probe_mu = None
            if self._probe is not None:
                probe_mu = self.prior.mu.detach().clone().requires_grad_(True)
                e_loss = e_loss + cfg.probe_weight * self._probe_loss(probe_mu, cfg.u2c_scale, cfg.u2c_margin * temp)
            update(total.mean() + e_loss, self.opt_g, self.opt_e)
        dldz = z.grad * b  # per-sample dl/dz (the mean divided every sample's gradient by B); z is no parameter
        # rho sees the adversarial loss only, raw critic values (§3.3, official code). The rho estimate
        # mean_b (q(c|z_b) - pi_c) l_b is linear in l, so our two options act on l alone: a baseline
        # (control variate) and a rho-only learning-rate multiplier.
        l_rho = l_adv.detach()
        if cfg.rho_baseline:
            l_rho = l_rho - l_rho.mean()
        if cfg.rho_lr_mult != 1.0:
            l_rho = l_rho * cfg.rho_lr_mult
        self.prior.stein_step(z.detach(), dldz, l_rho, cfg.gamma * decay,
                              update_mu=cfg.update_mu, update_sigma=cfg.update_sigma, update_rho=cfg.update_rho)
        if probe_mu is not None and probe_mu.grad is not None:  # L_m is also minimised w.r.t. mu
            with torch.no_grad():
                self.prior.mu.sub_(cfg.mu_lr_mult * cfg.gamma * decay * probe_mu.grad)
        moved = 0.0
        if (cfg.reassign_every and step >= 2 * cfg.reassign_every and step % cfg.reassign_every == 0
                and step < cfg.reassign_until * total_steps and step - self._last_move >= 2 * cfg.reassign_every):
            moved = self._reassign(real)
            if moved:
                self._last_move = step
                self._moves += 1
        return {"moves": torch.tensor(float(self._moves)), "d_loss": d_adv.detach(), "penalty": pen.detach(), "g_adv": l_adv.mean().detach(),
                "u2c": l_u2c, "e_extra": e_loss.detach(), "pi_max": self.prior.pi.max().detach()}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        z, _ = self.prior.sample(n, component, generator)
        return self.G(z)

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """Cluster of real data: argmax_c cos(E(x), mu_c) (appendix D.2, Eq. 67)."""
        cos = F.normalize(self.E(x), dim=1) @ F.normalize(self.prior.mu, dim=1).t()
        return cos.argmax(dim=1)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.E(x)

    def mixing(self) -> np.ndarray:
        return self.prior.pi.detach().double().cpu().numpy()

    # ------------------------------------------------------------------ state
    def extra_state(self) -> dict[str, Any]:
        return {"last_move": int(self._last_move), "moves": int(self._moves)}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        self._last_move = int(state.get("last_move", -(10**9)))
        self._moves = int(state.get("moves", 0))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.prior.clear_cache()
