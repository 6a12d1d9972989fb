"""The papers' own small networks for 2-D mixtures (selected by a method's ``arch: paper`` key).

The appendix-E MLPs (:mod:`.mlp`) are what methods share for the benchmark's tables; these exist so
that the CGPGAN and Self-Conditioned GAN 2-D experiments can be reproduced with the capacity their
papers' numbers come from:

* **CGPGAN §4.1** (gauss4): G, D and Q are MLPs with four hidden layers of 512 units, leaky ReLU,
  a *linear* output, and the equalised learning rate of Karras et al. (2018) on every weight: weights
  are drawn from N(0, 1) and scaled by ``1/sqrt(fan_in)`` at run time, so Adam's per-parameter step
  is the same relative change in every layer (it matters here: with a plain Linear the 512-wide
  layers learn ~20x slower than the 2-d input layer under Adam's normalised steps).
* **Self-Conditioned GAN §4.1** (2D-ring / 2D-grid, PacGAN's structure, per the official code):
  G = 4 hidden layers of 400 units with BatchNorm + ReLU on ``[z, unit-norm class embedding]``;
  D = 3 maxout layers of 200 units (5 linear pieces each), then a linear head with one output per
  cluster. The maxout output is the "last hidden layer" whose features are clustered.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import LRELU_SLOPE, Discriminator, init_weights, output_activation


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate (ProGAN §4.1) when ``equalized`` is True.

    The stored weight is N(0, 1) and multiplied by ``1/sqrt(fan_in)`` in ``forward`` (He scaling
    moved from the init to the forward pass); biases start at 0. With ``equalized=False`` it is an
    ordinary linear layer with the same initial function (weight N(0, 1/fan_in)).
    """

    def __init__(self, in_dim: int, out_dim: int, equalized: bool = True, bias: bool = True) -> None:
        super().__init__()
        self.equalized = bool(equalized)
        self.scale = 1.0 / math.sqrt(in_dim) if equalized else 1.0
        std = 1.0 if equalized else 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) * std)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
        self.in_dim, self.out_dim = int(in_dim), int(out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, equalized={self.equalized}"


def _lrelu_stack(in_dim: int, hidden: int, depth: int, equalized: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [EqualLinear(d, hidden, equalized), nn.LeakyReLU(LRELU_SLOPE)]
        d = hidden
    return nn.Sequential(*layers)


class PaperMLPGenerator(nn.Module):
    """CGPGAN 2-D generator: ``depth`` x ``hidden`` leaky-ReLU MLP, linear output (then the data
    range activation, identity for unscaled mixtures such as gauss4)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 512, depth: int = 4, equalized: bool = True,
                 value_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        self.body = _lrelu_stack(in_dim, hidden, depth, equalized)
        self.out = EqualLinear(hidden, out_dim, equalized)
        self.act = output_activation(value_range)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.out(self.body(z)))


def paper_mlp_discriminator(in_dim: int, n_out: int, hidden: int = 512, depth: int = 4,
                            equalized: bool = True) -> Discriminator:
    """CGPGAN 2-D discriminator / classifier: the same MLP trunk with an ``n_out`` linear head."""
    d = Discriminator(nn.Sequential(nn.Flatten(), _lrelu_stack(in_dim, hidden, depth, equalized)), hidden, n_out)
    d.head = EqualLinear(hidden, n_out, equalized)
    return d


class Maxout(nn.Module):
    """``units`` outputs, each the max over ``pieces`` affine functions of the input."""

    def __init__(self, in_dim: int, units: int, pieces: int) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, units * pieces)
        self.units, self.pieces = int(units), int(pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


def maxout_discriminator(in_dim: int, n_out: int, units: int = 200, pieces: int = 5, depth: int = 3) -> Discriminator:
    """Self-Conditioned GAN 2-D discriminator: ``depth`` maxout layers, linear head of ``n_out``."""
    layers: list[nn.Module] = [nn.Flatten()]
    d = in_dim
    for _ in range(depth):
        layers.append(Maxout(d, units, pieces))
        d = units
    return init_weights(Discriminator(nn.Sequential(*layers), units, n_out))


class BNReLUGenerator(nn.Module):
    """Self-Conditioned GAN 2-D generator body: ``depth`` x (Linear ``hidden`` + BN + ReLU), linear output."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 400, depth: int = 4,
                 value_range: tuple[float, float] | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            d = hidden
        layers += [nn.Linear(d, out_dim), output_activation(value_range)]
        self.net = init_weights(nn.Sequential(*layers))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
