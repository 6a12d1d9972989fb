"""Fully connected networks of appendix E: Table 11 (2-D points) and Table 13 (10x_73k vectors).

Table 11 — G: Linear 128 + BN + ReLU (x2), Linear d_x + output act; D: Linear 128 + LReLU (x2),
Linear 1; E: the D layers with spectral norm on every Linear and a Linear 64 output.
Table 13 — G: Linear 256 + LReLU (x2), Linear d_x (the table shows no output activation; we apply
the value-range activation of :func:`~ucgan.nets.common.output_activation` like every other
generator, so samples always lie in the data range); D: 256-256-1 with LReLU; E: as D with SN.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import LRELU_SLOPE, Discriminator, finalize, output_activation, scaled

#: Hidden widths at width 1: points (Table 11) and vector (Table 13).
HIDDEN = {"points": 128, "vector": 256}


class MLPGenerator(nn.Module):
    """Two hidden layers then a linear output with the data-range activation.

    ``batchnorm=True`` gives Table 11 (BN + ReLU), ``False`` gives Table 13 (LReLU, no BN).
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: int, batchnorm: bool, out_act: nn.Module) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for _ in range(2):
            if batchnorm:
                layers += [nn.Linear(d, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU()]
            else:
                layers += [nn.Linear(d, hidden), nn.LeakyReLU(LRELU_SLOPE)]
            d = hidden
        layers += [nn.Linear(d, out_dim), out_act]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def mlp_generator(
    modality: str, in_dim: int, out_dim: int, width: float, value_range: tuple[float, float] | None
) -> nn.Module:
    hidden = scaled(HIDDEN[modality], width)
    g = MLPGenerator(in_dim, out_dim, hidden, batchnorm=(modality == "points"), out_act=output_activation(value_range))
    return finalize(g, spectral_norm=False)


def mlp_discriminator(modality: str, in_dim: int, n_out: int, width: float, spectral_norm: bool) -> Discriminator:
    """D of Table 11/13 (also E, with ``n_out`` = latent size and ``spectral_norm=True``)."""
    hidden = scaled(HIDDEN[modality], width)
    body = nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_dim, hidden), nn.LeakyReLU(LRELU_SLOPE),
        nn.Linear(hidden, hidden), nn.LeakyReLU(LRELU_SLOPE),
    )
    d = Discriminator(body, hidden, n_out)
    return finalize(d, spectral_norm=spectral_norm)
