"""Pieces shared by every architecture: width scaling, output activation, init, spectral norm,
and the :class:`Discriminator` wrapper that exposes penultimate features.

Weight initialisation: every Linear / Conv / ConvTranspose weight is Glorot (Xavier) uniform and
every bias is zero; BatchNorm starts at scale 1, shift 0. That is TensorFlow 1's default for
``tf.layers``, which the official SLOGAN code (TF 1.14) relies on; PyTorch's own default
(Kaiming-uniform with a=sqrt(5)) gives smaller initial weights, so we set it explicitly to stay
close to the networks the paper's numbers come from.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrizations

#: Negative slope of every LeakyReLU (TF's ``tf.nn.leaky_relu`` default, used by the official code).
LRELU_SLOPE = 0.2


def scaled(n: int, width: float) -> int:
    """Hidden width ``n`` times the width multiplier, at least 1 (so tiny CPU profiles still build)."""
    return max(1, int(round(n * width)))


class ScaledTanh(nn.Module):
    """``lo + (hi - lo) * (tanh(x) + 1) / 2``: maps onto an arbitrary bounded value range."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__()
        self.lo, self.hi = float(lo), float(hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lo + (self.hi - self.lo) * 0.5 * (torch.tanh(x) + 1.0)

    def extra_repr(self) -> str:
        return f"lo={self.lo}, hi={self.hi}"


def output_activation(value_range: tuple[float, float] | None) -> nn.Module:
    """Generator output activation from the data's value range.

    (0, 1) -> sigmoid (Table 12), (-1, 1) -> tanh (Tables 11, 14, 15), None -> identity (unscaled
    Gaussian mixtures, whose support is unbounded), any other (lo, hi) -> tanh affinely rescaled.
    """
    if value_range is None:
        return nn.Identity()
    lo, hi = float(value_range[0]), float(value_range[1])
    if (lo, hi) == (0.0, 1.0):
        return nn.Sigmoid()
    if (lo, hi) == (-1.0, 1.0):
        return nn.Tanh()
    return ScaledTanh(lo, hi)


_WEIGHTED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def init_weights(module: nn.Module) -> nn.Module:
    """Glorot-uniform weights, zero biases, BN (1, 0) for every layer of ``module`` (see module doc)."""
    for m in module.modules():
        if isinstance(m, _WEIGHTED):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap every Linear/Conv weight of ``module`` in spectral normalisation (one power iteration
    per training forward, as ``torch.nn.utils.parametrizations.spectral_norm``). Call after
    :func:`init_weights` so the normalised weight starts from the documented init."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            parametrizations.spectral_norm(m)
    return module


class Discriminator(nn.Module):
    """``head(features(x))``: a feature body ending in a flat (N, F) vector, then one Linear.

    Every appendix-E discriminator/encoder ends with a single linear map after its last
    nonlinearity (for Table 12 the final "Conv 1x1" acts on a 1x1 map, i.e. it *is* a Linear), so
    the penultimate features the Self-Conditioned GAN clusters and the WGAN NMI protocol uses are
    simply the body's output.
    """

    def __init__(self, body: nn.Module, feature_dim: int, n_out: int) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, n_out)
        self.feature_dim = int(feature_dim)
        self.n_out = int(n_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, shape (N, feature_dim)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Output, shape (N, n_out)."""
        return self.head(self.body(x))


def finalize(module: nn.Module, spectral_norm: bool) -> nn.Module:
    """Initialise (see module doc), then optionally spectral-normalise, a freshly built network."""
    init_weights(module)
    if spectral_norm:
        apply_spectral_norm(module)
    return module


def num_flat(shape: tuple[int, ...]) -> int:
    """Number of elements of one sample of the given shape."""
    return int(math.prod(shape))
