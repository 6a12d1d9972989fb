"""Configuration of the ``pretrain`` stage (``pretrain:`` section of params.yaml).

Layout::

    pretrain:
      backbone: auto            # auto | small_cnn | resnet18 | mlp | alexnet_random
      epochs: 40
      ...
      augment: {min_scale: null, rotation_degrees: null, ...}
      overrides:                # optional, per prepared dataset; same keys as above
        ring8: {epochs: 20, batch_size: 512}

Values that depend on the data (``null``/``0`` = "auto") are resolved by :func:`resolve_augment` and
:func:`ucgan.encoders.backbones.resolve_backbone` once the manifest is known, and the resolved values
are what gets logged and stored in ``encoder.pt``, so a run is always fully described.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Any, Literal, Mapping

from ..config import from_mapping, require

BackboneName = Literal["auto", "small_cnn", "resnet18", "mlp", "alexnet_random"]


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """SimCLR view generation. ``None`` = choose from the data (see :func:`resolve_augment`)."""

    backend: Literal["batched", "lightly"] = "batched"  # lightly = SimCLRTransform on PIL images (slower on CPU)
    min_scale: float | None = None         # random resized crop area lower bound; auto 0.3 gray / 0.08 colour
    rotation_degrees: float | None = None  # uniform in [-d, d]; auto 20 for gray images, 0 for colour
    rotation_prob: float = 1.0
    hflip_prob: float | None = None        # auto 0 for gray (digits are chiral), 0.5 for colour
    cj_prob: float = 0.8                   # colour jitter probability (SimCLR)
    cj_strength: float = 0.5               # lightly's advice for small images (CIFAR)
    gray_prob: float = 0.2                 # random grayscale, colour images only
    noise_std: float = 0.1                 # vectors/points: Gaussian noise, in units of each feature's std
    mask_prob: float | None = None         # vectors/points: feature masking; auto 0 for points, 0.2 for vectors

    def validate(self, where: str) -> None:
        if self.min_scale is not None:
            require(0 < self.min_scale <= 1, f"{where}.min_scale", "must be in (0, 1]")
        if self.rotation_degrees is not None:
            require(0 <= self.rotation_degrees <= 180, f"{where}.rotation_degrees", "must be in [0, 180]")
        for name in ("rotation_prob", "cj_prob", "gray_prob"):
            v = getattr(self, name)
            require(0 <= v <= 1, f"{where}.{name}", "must be a probability in [0, 1]")
        if self.hflip_prob is not None:
            require(0 <= self.hflip_prob <= 1, f"{where}.hflip_prob", "must be a probability in [0, 1]")
        if self.mask_prob is not None:
            require(0 <= self.mask_prob < 1, f"{where}.mask_prob", "must be in [0, 1)")
        require(self.cj_strength >= 0, f"{where}.cj_strength", "must be >= 0")
        require(self.noise_std >= 0, f"{where}.noise_std", "must be >= 0")


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """SimCLR pretraining hyperparameters (InfoSCC-GAN stage 1)."""

    backbone: BackboneName = "auto"  # auto: small_cnn for gray <=28 px, resnet18 for colour, mlp for vectors/points
    width: int = 0                   # channels (CNN) / hidden units (MLP); 0 = backbone default (32 / 64 / 256)
    epochs: int = 40
    batch_size: int = 256
    lr: float = 2e-3                 # Adam, cosine decay after a linear warm-up
    weight_decay: float = 1e-5
    warmup_epochs: int = 2
    temperature: float = 0.5         # NT-Xent; InfoSCC-GAN and lightly use 0.5
    proj_hidden_dim: int = 512
    proj_dim: int = 64
    seed: int = 0
    eval_seed: int = 1               # seed of the independent evaluation encoder (`ucgan pretrain --role eval`)
    checkpoint_every: int = 5        # epochs between resumable checkpoints (0 = never)
    max_minutes: float = 0.0         # stop after this much training time (0 = no limit); the LR decay then
                                     # follows the clock so the run still anneals; recorded in metrics
    threads: int = 0                 # torch CPU threads (0 = torch default)
    probe: bool = True               # quick linear probe on true labels in metrics.json (evaluation only)
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)

    def validate(self, where: str) -> None:
        require(self.epochs >= 0, f"{where}.epochs", "must be >= 0 (0 = keep the random initialisation)")
        require(self.batch_size >= 2, f"{where}.batch_size", "must be >= 2 (NT-Xent needs negatives)")
        require(self.width >= 0, f"{where}.width", "must be >= 0 (0 = backbone default)")
        require(self.lr > 0, f"{where}.lr", "must be positive")
        require(self.weight_decay >= 0, f"{where}.weight_decay", "must be >= 0")
        require(self.warmup_epochs >= 0, f"{where}.warmup_epochs", "must be >= 0")
        require(self.temperature > 0, f"{where}.temperature", "must be positive")
        require(self.proj_hidden_dim > 0, f"{where}.proj_hidden_dim", "must be positive")
        require(self.proj_dim > 0, f"{where}.proj_dim", "must be positive")
        require(self.checkpoint_every >= 0, f"{where}.checkpoint_every", "must be >= 0 (0 = never)")
        require(self.max_minutes >= 0, f"{where}.max_minutes", "must be >= 0 (0 = no limit)")
        require(self.threads >= 0, f"{where}.threads", "must be >= 0 (0 = torch default)")
        require(self.eval_seed != self.seed, f"{where}.eval_seed",
                "must differ from seed: the evaluation encoder has to be a different network from the one methods consume")


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def section_with_overrides(cls: type, params: Mapping[str, Any], section: str, dataset: str) -> Any:
    """Build ``cls`` from ``params[section]`` merged with ``params[section].overrides.<dataset>``
    (or, for a custom dataset built from a preset without its own block, the preset's block).

    Every override block is validated (not only the requested dataset's), so a typo in the block of
    a dataset that is not being run still fails now, naming ``<section>.overrides.<name>.<key>``.
    """
    from ..errors import ConfigError

    raw = params.get(section) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{section}: expected a mapping, got {raw!r}")
    base = {k: v for k, v in raw.items() if k != "overrides"}
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{section}.overrides: expected a mapping of dataset -> keys, got {overrides!r}")
    from ..sections import settings_key

    chosen = from_mapping(cls, base, section)
    key = settings_key(params, dataset, overrides)  # its own block, else its preset's
    for name, over in overrides.items():
        if not isinstance(over, Mapping):
            raise ConfigError(f"{section}.overrides.{name}: expected a mapping, got {over!r}")
        cfg = from_mapping(cls, _deep_merge(base, over), f"{section}.overrides.{name}")
        if name == key:
            chosen = cfg
    return chosen


def load_pretrain_config(params: Mapping[str, Any], dataset: str) -> PretrainConfig:
    """The resolved ``pretrain`` section for ``dataset`` (base keys + its override block)."""
    return section_with_overrides(PretrainConfig, params, "pretrain", dataset)


def resolve_augment(cfg: AugmentConfig, modality: str, channels: int) -> AugmentConfig:
    """Fill the data-dependent ``None`` values (documented on :class:`AugmentConfig`)."""
    gray = modality == "image" and channels == 1
    return dataclasses.replace(
        cfg,
        min_scale=cfg.min_scale if cfg.min_scale is not None else (0.3 if gray else 0.08),
        rotation_degrees=cfg.rotation_degrees if cfg.rotation_degrees is not None else (20.0 if gray else 0.0),
        hflip_prob=cfg.hflip_prob if cfg.hflip_prob is not None else (0.0 if gray else 0.5),
        mask_prob=cfg.mask_prob if cfg.mask_prob is not None else (0.0 if modality == "points" else 0.2),
    )
