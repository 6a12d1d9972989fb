"""The 28x28 DCGAN-style networks of appendix E, Table 12 (MNIST / Fashion-MNIST; any channel count).

G: z as a 1x1 map -> Deconv 1x1 1024 + BN + ReLU -> Deconv 7x7 128 + BN + ReLU (1 -> 7)
   -> Deconv 4x4 s2 64 + BN + ReLU (7 -> 14) -> Deconv 4x4 s2 C + output act (14 -> 28).
D: Conv 4x4 s2 64 + LReLU (28 -> 14) -> Conv 4x4 s2 64 + LReLU (14 -> 7) -> Conv 7x7 1024 + LReLU
   (7 -> 1) -> Conv 1x1 n_out. The table really lists 64 feature maps for *both* strided convs
   (not the usual 64/128); we follow the table.
E: the D body with a 64-d (latent-size) output and no spectral norm (none is listed in Table 12).

The final "Conv 1x1" acts on a 1x1 map, so it is implemented as the Linear head of
:class:`~ucgan.nets.common.Discriminator`; the penultimate features are the 1024-d (x width) vector.
Stride-2 layers use padding 1, the only choice that gives the table's 28 -> 14 -> 7 sizes.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import LRELU_SLOPE, Discriminator, finalize, output_activation, scaled


class DCGANGenerator(nn.Module):
    def __init__(self, in_dim: int, channels: int, width: float, out_act: nn.Module) -> None:
        super().__init__()
        c0, c1, c2 = scaled(1024, width), scaled(128, width), scaled(64, width)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(in_dim, c0, 1, bias=False), nn.BatchNorm2d(c0), nn.ReLU(),
            nn.ConvTranspose2d(c0, c1, 7, bias=False), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.ConvTranspose2d(c1, c2, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(),
            nn.ConvTranspose2d(c2, channels, 4, stride=2, padding=1),
            out_act,
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


def dcgan_generator(
    in_dim: int, channels: int, width: float, value_range: tuple[float, float] | None
) -> nn.Module:
    return finalize(DCGANGenerator(in_dim, channels, width, output_activation(value_range)), spectral_norm=False)


def dcgan_discriminator(channels: int, n_out: int, width: float, spectral_norm: bool) -> Discriminator:
    c1, c2, c3 = scaled(64, width), scaled(64, width), scaled(1024, width)
    body = nn.Sequential(
        nn.Conv2d(channels, c1, 4, stride=2, padding=1), nn.LeakyReLU(LRELU_SLOPE),
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.LeakyReLU(LRELU_SLOPE),
        nn.Conv2d(c2, c3, 7), nn.LeakyReLU(LRELU_SLOPE),
        nn.Flatten(),
    )
    return finalize(Discriminator(body, c3, n_out), spectral_norm=spectral_norm)
