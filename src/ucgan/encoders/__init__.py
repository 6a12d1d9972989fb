"""SimCLR encoder pretraining on lightly (InfoSCC-GAN stage 1) and the random AlexNet extractor (LSC-GAN).

Public API: :func:`pretrain`, :func:`load_encoder`, :class:`PretrainConfig`, :func:`load_pretrain_config`.
Heavy imports (torch models, lightly) happen only when these are used.
"""
from __future__ import annotations

from typing import Any

from .config import AugmentConfig, PretrainConfig, load_pretrain_config

__all__ = ["AugmentConfig", "PretrainConfig", "load_encoder", "load_pretrain_config", "pretrain"]


def __getattr__(name: str) -> Any:
    if name in ("pretrain", "load_encoder", "Encoder"):
        from . import simclr

        return getattr(simclr, name)
    raise AttributeError(name)
