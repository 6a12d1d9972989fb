"""Unit tests of the SimCLR pieces: lightly's loss/head, augmentations, backbones, config."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ucgan.config import from_mapping
from ucgan.encoders.augment import BatchedImageViews, LightlyImageViews, Normalizer, VectorViews
from ucgan.encoders.backbones import build_backbone, resolve_backbone
from ucgan.encoders.config import AugmentConfig, PretrainConfig, load_pretrain_config, resolve_augment
from ucgan.errors import ConfigError


def test_ntxent_through_lightly_decreases_on_toy_batch():
    from lightly.loss import NTXentLoss
    from lightly.models.modules import SimCLRProjectionHead

    torch.manual_seed(0)
    x = torch.randn(32, 8)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), SimCLRProjectionHead(32, 32, 16))
    loss_fn = NTXentLoss(temperature=0.5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    v0 = x + 0.1 * torch.randn(x.shape, generator=g)
    v1 = x + 0.1 * torch.randn(x.shape, generator=g)
    losses = []
    for _ in range(10):
        loss = loss_fn(net(v0), net(v1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_views_keep_shape_channels_and_are_seeded(channels):
    x = torch.rand(6, channels, 12, 12)
    norm = Normalizer.fit(x.numpy(), "image", (0.0, 1.0))
    cfg = resolve_augment(AugmentConfig(), "image", channels)
    views = BatchedImageViews(cfg, channels, norm)
    a = views(x, torch.Generator().manual_seed(1))
    b = views(x, torch.Generator().manual_seed(1))
    c = views(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.isfinite(a).all()


def test_batched_identity_when_augmentations_are_off():
    x = torch.rand(4, 1, 8, 8)
    norm = Normalizer.fit(x.numpy(), "image", (0.0, 1.0))
    cfg = AugmentConfig(min_scale=1.0, rotation_degrees=0.0, hflip_prob=0.0, cj_prob=0.0)
    out = BatchedImageViews(cfg, 1, norm)(x, torch.Generator().manual_seed(0))
    # aspect jitter of a full-area crop is clipped to the image, so the view is the image itself
    assert torch.allclose(out, norm.standardize(x), atol=1e-5)


@pytest.mark.parametrize("channels", [1, 3])
def test_lightly_views_keep_shape_and_channels(channels):
    x = np.random.default_rng(0).random((3, channels, 28, 28)).astype(np.float32)
    norm = Normalizer.fit(x, "image", (0.0, 1.0))
    cfg = resolve_augment(AugmentConfig(backend="lightly"), "image", channels)
    out = LightlyImageViews(cfg, x, norm)(torch.arange(3), torch.Generator().manual_seed(0))
    assert out.shape == (3, channels, 28, 28)


def test_vector_views_noise_and_mask():
    x = torch.zeros(1000, 4)
    out = VectorViews(AugmentConfig(noise_std=0.5, mask_prob=0.25))(x + 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert 0.2 < (out == 0).float().mean().item() < 0.3
    kept = out[out != 0]
    assert abs(kept.std().item() - 0.5) < 0.05


@pytest.mark.parametrize("name,shape,dim", [
    ("small_cnn", (1, 8, 8), 128), ("small_cnn", (1, 28, 28), 128), ("resnet18", (3, 32, 32), 64),
    ("mlp", (2,), 256), ("mlp", (1, 8, 8), 256), ("alexnet_random", (1, 28, 28), 2304),
])
def test_backbone_output_dims(name, shape, dim):
    width = 8 if name == "resnet18" else 0
    net = build_backbone(name, shape, width).eval()
    out = net(torch.randn(2, *shape))
    assert out.shape == (2, dim) == (2, net.feature_dim)


def test_backbone_resolution_and_clear_errors():
    assert resolve_backbone("auto", "image", [1, 28, 28]) == "small_cnn"
    assert resolve_backbone("auto", "image", [3, 32, 32]) == "resnet18"
    assert resolve_backbone("auto", "points", [2]) == "mlp"
    with pytest.raises(ConfigError, match="at least 8x8"):
        resolve_backbone("resnet18", "image", [1, 4, 4])
    with pytest.raises(ConfigError, match="needs images"):
        resolve_backbone("small_cnn", "vector", [16])


def test_config_rejects_unknown_and_negative_keys():
    with pytest.raises(ConfigError, match=r"pretrain\.epochz.*did you mean 'epochs'"):
        from_mapping(PretrainConfig, {"epochz": 3}, "pretrain")
    with pytest.raises(ConfigError, match=r"pretrain\.epochs"):
        from_mapping(PretrainConfig, {"epochs": -1}, "pretrain")
    with pytest.raises(ConfigError, match=r"pretrain\.augment\.min_scale"):
        from_mapping(PretrainConfig, {"augment": {"min_scale": 0}}, "pretrain")


def test_overrides_merge_and_are_all_validated():
    params = {"pretrain": {"epochs": 5, "augment": {"noise_std": 0.2},
                           "overrides": {"ring": {"epochs": 2, "augment": {"mask_prob": 0.1}}, "other": {}}}}
    cfg = load_pretrain_config(params, "ring")
    assert cfg.epochs == 2 and cfg.augment.noise_std == 0.2 and cfg.augment.mask_prob == 0.1
    assert load_pretrain_config(params, "mnist").epochs == 5
    params["pretrain"]["overrides"]["other"] = {"lr": -1.0}
    with pytest.raises(ConfigError, match=r"pretrain\.overrides\.other\.lr"):
        load_pretrain_config(params, "ring")


def test_resolve_augment_defaults_per_modality():
    gray = resolve_augment(AugmentConfig(), "image", 1)
    colour = resolve_augment(AugmentConfig(), "image", 3)
    assert (gray.min_scale, gray.rotation_degrees, gray.hflip_prob) == (0.3, 20.0, 0.0)
    assert (colour.min_scale, colour.rotation_degrees, colour.hflip_prob) == (0.08, 0.0, 0.5)
    assert resolve_augment(AugmentConfig(), "points", 0).mask_prob == 0.0


def test_lr_schedule_warmup_cosine_and_time_cap():
    from ucgan.encoders.simclr import _lr_at

    assert _lr_at(0, 100, 10, 1.0) == pytest.approx(0.1)
    assert _lr_at(10, 100, 10, 1.0) == pytest.approx(1.0)
    assert _lr_at(100, 100, 10, 1.0) == pytest.approx(0.0)
    # a time cap half used up pulls the decay forward to the schedule's midpoint
    assert _lr_at(20, 100, 10, 1.0, time_frac=0.5) == pytest.approx(0.5)
    assert _lr_at(20, 100, 10, 1.0, time_frac=1.0) == pytest.approx(0.0)
