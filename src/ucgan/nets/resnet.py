"""ResNet networks of appendix E: Table 14 (32x32, CIFAR) and Table 15 (64x64, CelebA).

The residual blocks (the paper's Figure 23, not reproduced in our copy) follow the WGAN-GP CIFAR
ResNet that the official SLOGAN code uses (github.com/shinyflight/SLOGAN), 128 channels at width 1:

* up block (G): BN-ReLU-Upsample(x2, nearest)-Conv3-BN-ReLU-Conv3, shortcut Upsample-Conv1;
* first D block ("optimized"): Conv3-ReLU-Conv3-AvgPool2, shortcut AvgPool2-Conv1 (no leading ReLU
  on raw pixels);
* down block: ReLU-Conv3-ReLU-Conv3-AvgPool2, shortcut Conv1-AvgPool2;
* plain block: ReLU-Conv3-ReLU-Conv3, identity shortcut.

G: Linear 16*ch (=2048) -> 4x4xch (Table 14) or Linear 64*ch (=8192) -> 8x8xch (Table 15), three
up blocks, BN-ReLU-Conv3-output act. D (Table 14): optimized + down + 2 plain; D (Table 15):
optimized + 2 down + 1 plain; then ReLU and global **mean** pooling (the official code mean-pools;
the original WGAN-GP code sums — only a constant factor), then Linear n_out. E = the D body with a
Linear 128 (= ``out_dim``) head and no normalisation (Tables 14-15 list none).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .common import Discriminator, finalize, output_activation, scaled


def _conv3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), _conv3(cin, cout)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), _conv3(cout, cout)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class OptimizedDownBlock(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv3(cin, cout), _conv3(cout, cout)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.skip(F.avg_pool2d(x, 2))


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, downsample: bool) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv3(cin, cout), _conv3(cout, cout)
        self.downsample = downsample
        self.skip = nn.Conv2d(cin, cout, 1) if (cin != cout or downsample) else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        s = self.skip(x)
        if self.downsample:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, in_dim: int, channels: int, size: int, width: float, out_act: nn.Module) -> None:
        super().__init__()
        ch = scaled(128, width)
        self.ch, self.base = ch, size // 8
        self.fc = nn.Linear(in_dim, ch * self.base * self.base)
        self.blocks = nn.Sequential(UpBlock(ch, ch), UpBlock(ch, ch), UpBlock(ch, ch))
        self.out = nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), _conv3(ch, channels), out_act)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.ch, self.base, self.base)
        return self.out(self.blocks(h))


class ResNetBody(nn.Module):
    """D/E trunk: optimized block, (n_down - 1) down blocks, n_plain plain blocks, ReLU, mean-pool."""

    def __init__(self, channels: int, width: float, n_down: int, n_plain: int) -> None:
        super().__init__()
        ch = scaled(128, width)
        blocks: list[nn.Module] = [OptimizedDownBlock(channels, ch)]
        blocks += [DownBlock(ch, ch, downsample=True) for _ in range(n_down - 1)]
        blocks += [DownBlock(ch, ch, downsample=False) for _ in range(n_plain)]
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.blocks(x)).mean(dim=(2, 3))


#: (number of down blocks incl. the optimized one, number of plain blocks) per image size.
_D_LAYOUT = {32: (2, 2), 64: (3, 1)}


def resnet_generator(
    in_dim: int, channels: int, size: int, width: float, value_range: tuple[float, float] | None
) -> nn.Module:
    g = ResNetGenerator(in_dim, channels, size, width, output_activation(value_range))
    return finalize(g, spectral_norm=False)


def resnet_discriminator(channels: int, size: int, n_out: int, width: float, spectral_norm: bool) -> Discriminator:
    n_down, n_plain = _D_LAYOUT[size]
    body = ResNetBody(channels, width, n_down, n_plain)
    return finalize(Discriminator(body, body.out_dim, n_out), spectral_norm=spectral_norm)
