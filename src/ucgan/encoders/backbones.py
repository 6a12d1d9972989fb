"""Encoder backbones: small CNN (gray digits, 8-32 px), CIFAR-style ResNet-18, MLP, random AlexNet.

Every backbone maps a *normalised* batch ``(N, *shape)`` to features ``(N, F)`` and exposes
``feature_dim``. Normalisation lives outside (:class:`ucgan.encoders.simclr.Encoder`) so that the
same backbone weights can be fed data in any prepared value range.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import ConfigError

DEFAULT_WIDTH = {"small_cnn": 32, "resnet18": 64, "mlp": 256, "alexnet_random": 64}
MIN_SIDE = {"small_cnn": 4, "resnet18": 8, "alexnet_random": 8}
#: Backbones that are used as initialised (no SimCLR training, no projection head).
UNTRAINED = frozenset({"alexnet_random"})


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """Five 3x3 conv layers (two stride-2) and global average pooling: ``4 * width`` features.

    Global pooling (rather than a flattening dense layer) makes it work for any side >= 4 px, so
    sklearn's 8x8 digits and 28x28 MNIST share one architecture.
    """

    def __init__(self, channels: int, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(channels, w), _conv_bn(w, 2 * w, 2), _conv_bn(2 * w, 2 * w),
            _conv_bn(2 * w, 4 * w, 2), _conv_bn(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.feature_dim = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet18(nn.Module):
    """ResNet-18 for 32x32 inputs: 3x3 stride-1 stem and no max-pool (the usual CIFAR variant,
    since the ImageNet 7x7/2 stem + pool would shrink 32 px to 8 px before the first block)."""

    def __init__(self, channels: int, width: int = 64) -> None:
        super().__init__()
        w = width
        layers: list[nn.Module] = [_conv_bn(channels, w)]
        cin = w
        for i, cout in enumerate((w, 2 * w, 4 * w, 8 * w)):
            stride = 1 if i == 0 else 2
            layers += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.feature_dim = 8 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class MLP(nn.Module):
    """Three dense layers (BN + ReLU on the hidden ones) for vectors and 2-D points; images are flattened."""

    def __init__(self, in_dim: int, width: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
            nn.Linear(width, width),
        )
        self.feature_dim = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AlexNetRandom(nn.Module):
    """AlexNet-style conv stack (5 convs, 3 max-pools) used *untrained*, as LSC-GAN does for MNIST.

    Our choices (not stated in the paper): 5x5/5x5/3x3/3x3/3x3 kernels at stride 1 for small images,
    channels ``w, 3w, 6w, 4w, 4w`` (64-192-384-256-256 at the default width, as AlexNet), features =
    the flattened output of the last pool (the "intermediate convolutional layer" of the paper,
    following DeepCluster's observation that random conv features are already clustered).
    """

    def __init__(self, channels: int, side: int, width: int = 64) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(channels, w, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(w, 3 * w, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(3 * w, 6 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(6 * w, 4 * w, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        out_side = side // 2 // 2 // 2
        self.feature_dim = 4 * w * out_side * out_side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def resolve_backbone(name: str, modality: str, shape: Sequence[int]) -> str:
    """Pick the backbone for ``auto`` and check that an explicit choice fits the data.

    auto: gray images up to 32 px -> small_cnn; other images -> resnet18; vectors/points -> mlp.
    """
    shape = tuple(int(s) for s in shape)
    if name == "auto":
        if modality == "image":
            return "small_cnn" if shape[0] == 1 and max(shape[1:]) <= 32 else "resnet18"
        return "mlp"
    if name in MIN_SIDE:
        if modality != "image" or len(shape) != 3:
            raise ConfigError(
                f"pretrain.backbone: {name!r} needs images (C, H, W) but the data is {modality} with shape "
                f"{list(shape)}; use backbone: mlp (or auto)."
            )
        if min(shape[1:]) < MIN_SIDE[name]:
            raise ConfigError(
                f"pretrain.backbone: {name!r} needs images of at least {MIN_SIDE[name]}x{MIN_SIDE[name]} px, "
                f"got {shape[1]}x{shape[2]}; use backbone: small_cnn (>= 4 px) or mlp."
            )
    return name


def build_backbone(name: str, shape: Sequence[int], width: int = 0) -> nn.Module:
    """Instantiate a resolved backbone for per-sample ``shape`` (width 0 = the backbone's default)."""
    shape = tuple(int(s) for s in shape)
    w = width or DEFAULT_WIDTH[name]
    if name == "small_cnn":
        return SmallCNN(shape[0], w)
    if name == "resnet18":
        return ResNet18(shape[0], w)
    if name == "alexnet_random":
        return AlexNetRandom(shape[0], min(shape[1:]), w)
    if name == "mlp":
        in_dim = 1
        for s in shape:
            in_dim *= s
        return MLP(in_dim, w)
    raise ConfigError(f"pretrain.backbone: unknown backbone {name!r}; use auto, small_cnn, resnet18, mlp or alexnet_random")
