"""Pick the appendix-E architecture for a dataset from its :class:`~ucgan.data.info.DataInfo`.

points -> Table 11 MLPs; vector -> Table 13 MLPs; image (C, 28, 28) -> Table 12 DCGAN;
image (C, 32, 32) -> Table 14 ResNet; image (C, 64, 64) -> Table 15 ResNet. Every method builds its
networks through these three functions, so the comparison between methods is at equal capacity.
"""
from __future__ import annotations

from torch import nn

from ..data.info import DataInfo
from ..errors import ConfigError
from .common import Discriminator, num_flat
from .dcgan import dcgan_discriminator, dcgan_generator
from .mlp import mlp_discriminator, mlp_generator
from .resnet import resnet_discriminator, resnet_generator

SUPPORTED = (
    "points (d,) [Table 11 MLP], vector (d,) [Table 13 MLP], "
    "image (C, 28, 28) [Table 12 DCGAN], image (C, 32, 32) [Table 14 ResNet], image (C, 64, 64) [Table 15 ResNet]"
)


def _arch(info: DataInfo) -> str:
    """Architecture key for ``info``; a ConfigError names the unsupported shape and the supported ones."""
    shape = tuple(info.shape)
    if info.modality in ("points", "vector") and len(shape) == 1 and shape[0] > 0:
        return info.modality
    if info.modality == "image" and len(shape) == 3 and shape[0] > 0 and shape[1] == shape[2]:
        size = shape[1]
        if size == 28:
            return "dcgan"
        if size in (32, 64):
            return "resnet"
    raise ConfigError(
        f"no network architecture for data of modality {info.modality!r} with per-sample shape {shape}"
        f"{f' (dataset {info.dataset!r})' if info.dataset else ''}; supported: {SUPPORTED}. "
        "Fix the dataset's manifest (modality/shape) or resize the images to a supported size."
    )


def _check(name: str, value: float, minimum: float) -> None:
    if not value >= minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}; set a positive value in params.yaml")


def build_generator(info: DataInfo, in_dim: int, width: float = 1.0) -> nn.Module:
    """Generator mapping (N, in_dim) to (N, *info.shape) inside ``info.value_range``.

    ``in_dim`` is the latent size plus whatever condition the method concatenates to z.
    """
    _check("generator input size (latent_dim + condition size)", in_dim, 1)
    _check("width", width, 1e-9)
    arch = _arch(info)
    if arch in ("points", "vector"):
        return mlp_generator(arch, in_dim, info.shape[0], width, info.value_range)
    c, size = info.shape[0], info.shape[1]
    if arch == "dcgan":
        return dcgan_generator(in_dim, c, width, info.value_range)
    return resnet_generator(in_dim, c, size, width, info.value_range)


def build_discriminator(
    info: DataInfo, n_out: int = 1, width: float = 1.0, spectral_norm: bool = False
) -> Discriminator:
    """D of the appendix-E table for ``info``: forward -> (N, n_out); ``.features(x)`` -> (N, feature_dim)."""
    _check("discriminator output size n_out", n_out, 1)
    _check("width", width, 1e-9)
    arch = _arch(info)
    if arch in ("points", "vector"):
        return mlp_discriminator(arch, num_flat(info.shape), n_out, width, spectral_norm)
    c, size = info.shape[0], info.shape[1]
    if arch == "dcgan":
        return dcgan_discriminator(c, n_out, width, spectral_norm)
    return resnet_discriminator(c, size, n_out, width, spectral_norm)


def build_encoder(info: DataInfo, out_dim: int, width: float = 1.0) -> Discriminator:
    """E of the appendix-E table: the D trunk with an ``out_dim`` head.

    Spectral norm on every layer for the MLPs (Tables 11 and 13 mark E's layers "+ SN"); none for
    the conv nets (Tables 12, 14, 15 list none). Also exposes ``.features``.
    """
    _check("encoder output size", out_dim, 1)
    return build_discriminator(info, n_out=out_dim, width=width, spectral_norm=_arch(info) in ("points", "vector"))
