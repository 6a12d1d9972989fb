"""EigenGAN generator (He et al. 2021) as InfoSCC-GAN stage 3 uses it, and the pix2pix patch discriminator.

Generator (InfoSCC-GAN §2.3 / Fig. 1, facts from the authors' public code, github.com/vkinakh/InfoSCC-GAN):

* **attribute mapping** ``r_psi(eps | y, z)``: one-hot attribute ``y -> Linear(K, K)``, concatenated
  with the core noise ``eps ~ N(0, I)``, then a fully connected map to the first feature map;
* **layer-wise subspaces**: every upsampling block ``i`` owns a linear subspace
  ``phi_i = (L_i * z_i) U_i + mu_i`` with ``z_i ~ N(0, I_{n_basis})``, basis rows ``U_i``
  (orthogonal init, kept orthonormal by :func:`orthogonality_penalty`), importance ``L_i`` initialised
  to ``[3 n_basis, ..., 6, 3]`` ([18, 15, ..., 3] for 6 dims) and origin ``mu_i``;
* ``phi_i`` (shaped like the block's input feature map) is injected twice: through a 1x1 conv added to
  the block input, and through an upsampling deconv added to the block's second conv input;
* a 7x7 conv and the data-range output activation.

Our choices (not fixed by the paper): the first feature map is ``s0 x s0`` with ``s0`` the image side
halved while even and > 4 (28 -> 7, 32 -> 4, 64 -> 4), so 28x28 MNIST gets two blocks (7 -> 14 -> 28);
channels are ``base`` at the output resolution and double per level towards the input (capped at
``cap``), both times ``width``; LeakyReLU(0.2) after every conv and no normalisation; 4x4 stride-2
deconvs for exact doubling.

Patch discriminator (InfoSCC-GAN's best, Table 1): the pix2pix "NLayer" design written from its
description: ``n_layers`` stride-2 4x4 convs (channels ``ndf * 2^i``, capped at 8 ndf), one stride-1
4x4 conv, and a stride-1 4x4 conv to a one-channel map of patch scores; BatchNorm on every conv but
the first and last (``norm="batch"``) or none.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import ConfigError
from .common import LRELU_SLOPE, init_weights, output_activation, scaled


def start_side(size: int) -> tuple[int, int]:
    """``(s0, n_up)``: the first feature map's side and the number of doubling blocks to reach ``size``."""
    s0, n_up = size, 0
    while s0 % 2 == 0 and s0 > 4:
        s0 //= 2
        n_up += 1
    return s0, n_up


class SubspaceLayer(nn.Module):
    """``phi = (L * z) U + mu``: coordinates ``z`` in a learned ``n_basis``-dim linear subspace of R^dim.

    The rows of ``U`` are the subspace's basis ("eigen-dimensions"); ``L`` their importance.
    """

    def __init__(self, dim: int, n_basis: int) -> None:
        super().__init__()
        self.U = nn.Parameter(torch.empty(n_basis, dim))
        nn.init.orthogonal_(self.U)  # rows orthonormal from the start (n_basis <= dim)
        self.L = nn.Parameter(3.0 * torch.arange(n_basis, 0, -1, dtype=torch.float32))
        self.mu = nn.Parameter(torch.zeros(dim))

    @property
    def n_basis(self) -> int:
        return int(self.U.shape[0])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z * self.L) @ self.U + self.mu


def orthogonality_penalty(layers: list[SubspaceLayer]) -> torch.Tensor:
    """``mean_i mean((U_i U_i^T - I)^2)`` (EigenGAN's regulariser; InfoSCC weights it by 100).

    It keeps each layer's basis orthonormal, so the eigen-dimensions stay independent directions.
    """
    terms = []
    for layer in layers:
        u = layer.U
        eye = torch.eye(u.shape[0], device=u.device, dtype=u.dtype)
        terms.append((u @ u.t() - eye).pow(2).mean())
    return torch.stack(terms).mean()


class EigenBlock(nn.Module):
    """One doubling block with its own subspace (see the module docstring)."""

    def __init__(self, side: int, c_in: int, c_out: int, n_basis: int) -> None:
        super().__init__()
        self.side, self.c_in = side, c_in
        self.subspace = SubspaceLayer(c_in * side * side, n_basis)
        self.inject_in = nn.Conv2d(c_in, c_in, 1)
        self.inject_mid = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
        self.conv = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.act = nn.LeakyReLU(LRELU_SLOPE)

    def forward(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        phi = self.subspace(z).view(-1, self.c_in, self.side, self.side)
        h = self.act(self.up(h + self.inject_in(phi)))
        return self.act(self.conv(h + self.inject_mid(phi)))


class EigenGenerator(nn.Module):
    """``G(y_onehot, eps, z)``: attribute-conditional EigenGAN generator for (C, S, S) images.

    ``z`` holds the subspace coordinates of all blocks side by side: shape (N, n_blocks * n_basis).
    """

    def __init__(self, num_attributes: int, latent_dim: int, shape: tuple[int, ...], width: float = 1.0,
                 n_basis: int = 6, base: int = 64, cap: int = 512,
                 value_range: tuple[float, float] | None = (-1.0, 1.0)) -> None:
        super().__init__()
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ConfigError(f"the EigenGAN generator needs square images (C, S, S), got shape {tuple(shape)}; "
                              "use a dataset with square images or the MLP generator for points/vectors")
        channels, size = int(shape[0]), int(shape[1])
        s0, n_up = start_side(size)
        if n_up == 0:
            raise ConfigError(f"image side {size} cannot be reached by doubling from a smaller map; "
                              "EigenGAN needs an even side (e.g. 28, 32, 64)")
        self.num_attributes, self.latent_dim, self.n_basis = int(num_attributes), int(latent_dim), int(n_basis)
        ch = [scaled(min(cap, base * 2 ** (n_up - i)), width) for i in range(n_up + 1)]
        self.s0, self.c0 = s0, ch[0]
        self.embed = nn.Linear(num_attributes, num_attributes)  # y -> Linear(K, K) (official mapping)
        self.fc = nn.Sequential(
            nn.Linear(num_attributes + latent_dim, latent_dim), nn.LeakyReLU(LRELU_SLOPE),
            nn.Linear(latent_dim, ch[0] * s0 * s0), nn.LeakyReLU(LRELU_SLOPE),
        )
        self.blocks = nn.ModuleList(
            EigenBlock(s0 * 2 ** i, ch[i], ch[i + 1], n_basis) for i in range(n_up)
        )
        self.to_image = nn.Sequential(nn.Conv2d(ch[-1], channels, 7, padding=3), output_activation(value_range))
        init_weights(self)  # Glorot for the convs/linears; the subspaces keep their own init (bare Parameters)

    @property
    def z_dim(self) -> int:
        """Size of the concatenated subspace coordinates."""
        return len(self.blocks) * self.n_basis

    def subspaces(self) -> list[SubspaceLayer]:
        return [b.subspace for b in self.blocks]

    def forward(self, y: torch.Tensor, eps: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([self.embed(y), eps], dim=1)).view(-1, self.c0, self.s0, self.s0)
        for i, block in enumerate(self.blocks):
            h = block(h, z[:, i * self.n_basis:(i + 1) * self.n_basis])
        return self.to_image(h)


class PatchDiscriminator(nn.Module):
    """pix2pix-style patch critic: (N, C, S, S) -> (N, 1, P, P) patch scores (see the module docstring)."""

    def __init__(self, channels: int, size: int, ndf: int = 64, n_layers: int = 2, norm: str = "batch") -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ConfigError(f"patch discriminator norm must be 'batch' or 'none', got {norm!r}")
        side = size
        for _ in range(n_layers):
            side = side // 2
        side = side - 1 - 1  # two stride-1 4x4 convs with padding 1 shrink the map by 1 each
        if n_layers < 1 or side < 1:
            raise ConfigError(f"patch_layers={n_layers} is too many for {size}x{size} images (no patch is left); "
                              f"use at most {max(1, int(math.log2(max(size, 2))) - 2)}")

        def norm_layer(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if norm == "batch" else nn.Identity()

        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(LRELU_SLOPE)]
        c = ndf
        for i in range(1, n_layers):
            c_next = ndf * min(2 ** i, 8)
            layers += [nn.Conv2d(c, c_next, 4, stride=2, padding=1), norm_layer(c_next), nn.LeakyReLU(LRELU_SLOPE)]
            c = c_next
        c_next = ndf * min(2 ** n_layers, 8)
        layers += [nn.Conv2d(c, c_next, 4, stride=1, padding=1), norm_layer(c_next), nn.LeakyReLU(LRELU_SLOPE),
                   nn.Conv2d(c_next, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)
        self.patch_side = side
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def patch_discriminator(shape: tuple[int, ...], width: float = 1.0, n_layers: int = 2, norm: str = "batch") -> PatchDiscriminator:
    """The patch critic for (C, S, S) images, ``ndf = 64 * width``."""
    if len(shape) != 3:
        raise ConfigError(f"the patch discriminator needs images (C, S, S), got shape {tuple(shape)}; "
                          "use discriminator: global for points/vectors")
    return PatchDiscriminator(int(shape[0]), int(shape[1]), scaled(64, width), n_layers, norm)
