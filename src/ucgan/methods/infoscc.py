"""InfoSCC-GAN: stochastic contrastive conditional GAN on a frozen SimCLR encoder (Kinakh et al.).

Stages 1-2 are pipeline stages: the SimCLR encoder (``ucgan pretrain``, §2.1/§3.1) and the linear
classifier on k-means "inner attributes" of its features (``ucgan cluster``, §2.2/§3.2/§3.4). This
method is stage 3 (§2.3): a conditional EigenGAN generator ``G(y, eps, z)`` trained with

* **classification regularisation** (§3.3, Eq. 4-5): every ``cls_reg_every``-th step a *separate*
  generator update on ``CE(Cla(Enc(G(y, eps, z))), y)`` through the frozen encoder and classifier
  (gradients flow through them to G; their weights never change);
* **adversarial loss** (Eq. 7, Table 1): an unconditional discriminator, patch (pix2pix) with LSGAN
  loss (the paper's best, default) or global with hinge / non-saturating loss;
* **orthogonality** of every subspace basis (EigenGAN), ``orth_weight * mean((U U^T - I)^2)``, added
  to the adversarial generator step; R1 on reals every ``r1_every`` steps.

Step order follows the official code: classification step, D step (+R1), G adversarial step.
Deviations, all deliberate: the official LSGAN loss squares twice and its hinge G loss is
``relu(1 - D(G))``; we use Mao et al.'s LSGAN (Eq. 12-13 with the signs fixed) and ``-D(G)``. R1 acts
on each sample's *mean* patch score (ours: on the summed 5x5 map of 28 px images gamma = 10 is 625x
stronger and stopped learning in our runs; for the global D both are the same). The
official code takes ``y`` from the real batch's cluster labels; the loop hands a method images only,
so ``y`` is drawn from the same distribution, the training split's attribute shares (no extra
encoder pass). ``attributes: labels`` uses the dataset's labels ("external attributes", §3.4): the
run is then *supervised* (``supervised`` is True and stored in every model file and config).

Points/vectors: EigenGAN is an image generator, so there the shared MLP generator of appendix E
takes ``[Linear(K, K)(y), eps]`` (the same attribute mapping, no subspaces, no orthogonality term)
and the discriminator is the shared global one.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Literal, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import require
from ..errors import ConfigError, DataError
from ..nets import build_discriminator, build_generator
from ..nets.eigengan import EigenGenerator, orthogonality_penalty, patch_discriminator
from . import register
from .base import DataInfo, Method, MethodConfig, frozen, update
from .diffaug import color, cutout, translation
from .losses import d_hinge, d_lsgan, d_nonsaturating, g_lsgan, g_nonsaturating, g_wasserstein, zero_centered_penalty
from .pretrained import ClusterConditioned, check_components, classifier_from_state, encode

_AUG_OPS = {"color": color, "translation": translation, "cutout": cutout}
_LOSSES = {"lsgan": (d_lsgan, g_lsgan), "hinge": (d_hinge, g_wasserstein),
           "nonsaturating": (d_nonsaturating, g_nonsaturating)}


@dataclasses.dataclass(frozen=True)
class InfoSCCConfig(MethodConfig):
    """Hyperparameters (official defaults: Adam 1e-4, betas (0.5, 0.99), cls_reg_every 2, R1 10 every
    16 steps, orthogonality x100, 6 basis dims per layer; noise 512-d there, ``latent_dim`` here)."""

    attributes: Literal["inner", "labels"] = "inner"   # inner = k-means clusters (unsupervised); labels = supervised
    generator: Literal["auto", "eigengan", "mlp"] = "auto"  # auto: EigenGAN for images, shared MLP otherwise
    n_basis: int = 6                  # eigen-dimensions per generator layer
    g_channels: int = 64              # EigenGAN channels at the output resolution (x width; doubling inwards)
    orth_weight: float = 100.0
    discriminator: Literal["auto", "patch", "global"] = "auto"  # auto: patch for images, global otherwise
    patch_layers: int = 2             # stride-2 convs of the patch D (28 px -> 5x5 patches)
    patch_norm: Literal["batch", "none"] = "batch"
    loss: Literal["lsgan", "hinge", "nonsaturating"] = "lsgan"
    cls_reg_every: int = 2            # n of §3.3 (0 = no classification regularisation: vanilla EigenGAN)
    cls_weight: float = 1.0
    cls_batch: int = 0                # samples per classification step (0 = batch_size; ours: smaller is cheaper on CPU)
    r1_every: int = 16                # 0 = off
    r1_gamma: float = 10.0            # weight gamma/2 * E|grad D(x)|^2, D(x) = mean patch score
    diffaug: str = ""                 # DiffAugment policy on D inputs, e.g. "color,translation,cutout" (official)
    diffaug_prob: float = 0.6         # each op applied to the whole batch with this probability (official)
    lr: float = 1e-4
    d_lr_mult: float = 1.0
    betas: tuple[float, float] = (0.5, 0.99)
    label_classifier_epochs: int = 100  # attributes: labels -> stage 2 on the true labels (cluster-stage recipe)

    def validate(self, where: str) -> None:
        super().validate(where)
        require(self.n_basis >= 1, f"{where}.n_basis", "must be >= 1")
        require(self.g_channels >= 1, f"{where}.g_channels", "must be >= 1")
        for k in ("orth_weight", "cls_weight", "r1_gamma"):
            require(getattr(self, k) >= 0, f"{where}.{k}", "must be >= 0")
        require(self.patch_layers >= 1, f"{where}.patch_layers", "must be >= 1")
        require(self.cls_batch >= 0, f"{where}.cls_batch", "must be >= 0 (0 = batch_size)")
        require(self.cls_reg_every >= 0, f"{where}.cls_reg_every", "must be >= 0 (0 = off)")
        require(self.r1_every >= 0, f"{where}.r1_every", "must be >= 0 (0 = off)")
        require(0 <= self.diffaug_prob <= 1, f"{where}.diffaug_prob", "must be in [0, 1]")
        bad = [p for p in _policy(self.diffaug) if p not in _AUG_OPS]
        require(not bad, f"{where}.diffaug", f"unknown ops {bad}; use a comma list of {sorted(_AUG_OPS)} or ''")
        require(self.lr > 0 and self.d_lr_mult > 0, f"{where}.lr", "lr and d_lr_mult must be positive")
        require(self.label_classifier_epochs > 0, f"{where}.label_classifier_epochs", "must be positive")


def _policy(s: str) -> list[str]:
    return [p.strip() for p in s.split(",") if p.strip()]


class AttributeMLPGenerator(nn.Module):
    """Points/vectors: ``G_mlp([Linear(K, K)(y), eps])`` (InfoSCC's attribute mapping, no subspaces)."""

    def __init__(self, num_attributes: int, latent_dim: int, info: DataInfo, width: float) -> None:
        super().__init__()
        self.embed = nn.Linear(num_attributes, num_attributes)
        self.net = build_generator(info, num_attributes + latent_dim, width)
        self.z_dim = 0

    def subspaces(self) -> list:
        return []

    def forward(self, y: torch.Tensor, eps: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.embed(y), eps], dim=1))


@register
class InfoSCCGAN(ClusterConditioned, Method):
    """InfoSCC-GAN (EigenGAN generator conditioned on inner attributes of a frozen SimCLR encoder)."""

    name = "infoscc"
    Config = InfoSCCConfig
    own_classifier = True

    def __init__(self, cfg: InfoSCCConfig, info: DataInfo, device: torch.device) -> None:
        super().__init__(cfg, info, device)
        self.cfg: InfoSCCConfig = cfg
        k = self.num_components
        image = info.modality == "image"
        gen = cfg.generator if cfg.generator != "auto" else ("eigengan" if image else "mlp")
        disc = cfg.discriminator if cfg.discriminator != "auto" else ("patch" if image else "global")
        if not image and (gen == "eigengan" or disc == "patch" or _policy(cfg.diffaug)):
            raise ConfigError(f"infoscc: generator: eigengan, discriminator: patch and diffaug need images, but "
                              f"{info.dataset or 'the data'} is {info.modality}; use generator/discriminator: auto "
                              "(MLP generator, global D) and diffaug: ''")
        if gen == "eigengan":
            G: nn.Module = EigenGenerator(k, cfg.latent_dim, info.shape, cfg.width, cfg.n_basis, cfg.g_channels,
                                          value_range=info.value_range)
        else:
            G = AttributeMLPGenerator(k, cfg.latent_dim, info, cfg.width)
        self.G = self.network("G", G, ema=True)
        self.D = self.network("D", patch_discriminator(info.shape, cfg.width, cfg.patch_layers, cfg.patch_norm)
                              if disc == "patch" else build_discriminator(info, 1, cfg.width))
        self.generator_kind, self.discriminator_kind = gen, disc
        self.opt_g = self.optimizer("G", self.G, lr=cfg.lr, betas=cfg.betas)
        self.opt_d = self.optimizer("D", self.D, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self._d_loss, self._g_loss = _LOSSES[cfg.loss]
        self._init_frozen(device)  # stage-1/2 pieces and the attribute shares: attach() / load_extra_state()

    # ------------------------------------------------------------------ pipeline artifacts
    @property
    def supervised(self) -> bool:
        """True when the attributes are the dataset's labels (not an unsupervised run)."""
        return self.cfg.attributes == "labels"

    def _attach_needs(self) -> str:
        return "train_x and train_y" if self.supervised else super()._attach_needs()

    def attach(self, resources: Mapping[str, Any]) -> None:
        """Load the frozen encoder and the attribute classifier + shares.

        ``inner``: classifier.pt and clusters.npz of the cluster stage. ``labels``: stage 2 is trained
        here on the true labels (needs ``train_x`` and ``train_y``; at evaluation the stored state is used).
        """
        enc = self._attach_encoder(resources)
        if self.cfg.attributes == "inner":
            self._attach_clusters(resources)
            return
        train_x, train_y = resources.get("train_x"), resources.get("train_y")
        if train_x is None or train_y is None:
            return  # evaluation: the label classifier and shares come from the stored state
        from ..clustering.probe import train_classifier

        k = self.num_components
        y = np.asarray(train_y, dtype=np.int64)
        check_components(int(self.info.num_classes), k, self._where, "the dataset's labels")
        h = encode(enc, train_x, self.device).cpu().numpy()
        with torch.random.fork_rng(devices=[]):  # train_classifier reseeds torch; keep the run's RNG stream
            clf = train_classifier(h, y, k, epochs=self.cfg.label_classifier_epochs, seed=0)
        self.C = classifier_from_state(clf.state_dict(), self.device)
        counts = np.bincount(y, minlength=k).astype(np.float64)
        self._shares = torch.as_tensor(counts / counts.sum(), dtype=torch.float64, device=self.device)

    # ------------------------------------------------------------------ generation
    def _draw_y(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.components(n, None, generator, probs=self._shares.float())

    def _generate(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n = y.shape[0]
        eps = torch.randn(n, self.cfg.latent_dim, device=self.device, generator=generator)
        z = torch.randn(n, self.G.z_dim, device=self.device, generator=generator)
        return self.G(self.one_hot(y), eps, z)

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        for op in _policy(self.cfg.diffaug):
            if float(torch.rand(())) < self.cfg.diffaug_prob:
                x = _AUG_OPS[op](x)
        return x

    # ------------------------------------------------------------------ training
    def train_step(self, real: torch.Tensor, step: int, total_steps: int) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        enc, cla = self._frozen_pair()
        b = real.shape[0]
        out: dict[str, torch.Tensor] = {}

        # (1) classification regularisation: its own G update (§3.3), through frozen Enc and Cla
        if cfg.cls_reg_every and cfg.cls_weight > 0 and step % cfg.cls_reg_every == 0:
            y = self._draw_y(cfg.cls_batch or b)
            logits = cla(enc(self._generate(y)))
            cls = F.cross_entropy(logits, y)
            update(cfg.cls_weight * cls, self.opt_g)
            out["cls"] = cls.detach()
            out["cls_acc"] = (logits.argmax(1) == y).float().mean().detach()

        # (2) discriminator (+ R1 on reals every r1_every steps)
        with torch.no_grad():
            fake = self._generate(self._draw_y(b))
        r1_now = cfg.r1_every > 0 and cfg.r1_gamma > 0 and step % cfg.r1_every == 0
        real_in = real.detach().requires_grad_(r1_now)
        d_real = self.D(self._aug(real_in))
        d_loss = self._d_loss(d_real, self.D(self._aug(fake)))
        total = d_loss
        if r1_now:
            # R1 of the per-sample score (the patch map's mean): summing a patch map instead would scale
            # the penalty by the squared number of patches (ours; identical for the global D).
            r1 = zero_centered_penalty(d_real.flatten(1).mean(1), real_in)
            total = total + 0.5 * cfg.r1_gamma * r1
            out["r1"] = r1.detach()
        update(total, self.opt_d)

        # (3) generator: adversarial + orthogonality of the subspace bases
        with frozen(self.D):
            g_adv = self._g_loss(self.D(self._aug(self._generate(self._draw_y(b)))))
            g_total = g_adv
            if self.G.subspaces() and cfg.orth_weight > 0:
                orth = orthogonality_penalty(self.G.subspaces())
                g_total = g_total + cfg.orth_weight * orth
                out["orth"] = orth.detach()
            update(g_total, self.opt_g)
        out.update(d_loss=d_loss.detach(), g_adv=g_adv.detach())
        return out

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def sample(self, n: int, component: int | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._generate(self.components(n, component, generator, probs=self._shares.float()), generator)

    # ------------------------------------------------------------------ state (assign / features / mixing: FrozenPipeline)
    def extra_state(self) -> dict[str, Any]:
        return {"attributes": self.cfg.attributes, "supervised": self.supervised, **super().extra_state()}

    def load_extra_state(self, state: Mapping[str, Any]) -> None:
        if state and state.get("attributes", self.cfg.attributes) != self.cfg.attributes:
            raise DataError(f"{self.name}: the stored state used attributes={state['attributes']!r}, "
                            f"the config says {self.cfg.attributes!r}")
        super().load_extra_state(state)
