"""CD-GAN: latent layout, supervised contrastive loss, views, step, k-means features."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ucgan.env import seed_everything
from ucgan.methods import DataInfo, get_method
from ucgan.methods.cdgan import random_resized_crop, supcon_loss

POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")
MNIST = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "m")


def _method(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("cdgan")
    return M(M.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, "feature_dim": 8, "e_batch_mult": 2, **kw}),
             info, torch.device("cpu"))


def test_defaults_are_the_official_codes() -> None:
    cfg = get_method("cdgan").Config()
    assert (cfg.temperature, cfg.beta_1, cfg.beta_2, cfg.feature_dim, cfg.e_batch_mult) == (0.07, 75.0, 5e-4, 120, 4)


def test_supcon_matches_the_definition_and_prefers_grouped_features() -> None:
    f = F.normalize(torch.randn(6, 3), dim=1)
    y = torch.tensor([0, 0, 1, 1, 2, 2])
    t = 0.5
    sim = f @ f.t() / t
    expected = []
    for i in range(6):
        denom = torch.logsumexp(torch.cat([sim[i, :i], sim[i, i + 1:]]), 0)
        pos = [j for j in range(6) if j != i and y[j] == y[i]]
        expected.append(-torch.stack([sim[i, j] - denom for j in pos]).mean())
    torch.testing.assert_close(supcon_loss(f, y, t), torch.stack(expected).mean())
    grouped = F.normalize(torch.eye(3)[y] + 0.01 * torch.randn(6, 3), dim=1)
    assert supcon_loss(grouped, y, t) < supcon_loss(grouped, y.roll(1), t)
    # anchors without a positive are skipped
    assert torch.isfinite(supcon_loss(f[:3], torch.tensor([0, 1, 2]), t))


def test_crop_keeps_shape_range_and_changes_the_image() -> None:
    x = torch.rand(4, 1, 28, 28)
    y = random_resized_crop(x, 0.7)
    assert y.shape == x.shape and not torch.equal(x, y) and float(y.min()) >= 0 and float(y.max()) <= 1
    const = torch.full((2, 1, 28, 28), 0.3)
    torch.testing.assert_close(random_resized_crop(const, 0.7), const)  # a crop of a flat image is flat


@pytest.mark.parametrize("info", [POINTS, MNIST], ids=["points", "28x28"])
def test_step_and_interface(info: DataInfo) -> None:
    m = _method(info)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    real = torch.rand(8, *info.shape)
    out = m.train_step(real, 0, 10)
    assert set(out) >= {"d_loss", "penalty", "g_loss", "contrastive", "zn_mse"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    lo, hi = info.value_range
    for c in range(m.num_components):
        x = m.sample(4, component=c)
        assert x.shape == (4, *info.shape) and bool(((x >= lo) & (x <= hi)).all())
    assert m.assign(real) is None and m.mixing() is None
    f = m.features(real)
    assert f.shape == (8, 8) and torch.allclose(f.norm(dim=1), torch.ones(8), atol=1e-5)


def test_class_features_separate_the_codes_after_training() -> None:
    m = _method(latent_dim=4, width=0.25, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])
    for step in range(100):
        real = centres[torch.randint(0, 3, (32,), generator=gen)] + 0.05 * torch.randn(32, 2, generator=gen)
        m.train_step(real.clamp(-1, 1), step, 100)
    m.eval()
    g = torch.Generator().manual_seed(3)
    feats = [m.features(m.sample(200, c, generator=g)) for c in range(3)]
    protos = F.normalize(torch.stack([f.mean(0) for f in feats]), dim=1)
    acc = sum(float(((f @ protos.t()).argmax(1) == c).float().mean()) for c, f in enumerate(feats)) / 3
    assert acc > 0.9, acc


def test_encoder_has_no_spectral_norm_unless_asked() -> None:
    def has_sn(m) -> bool:
        return any("parametrizations" in n for n, _ in m.E.named_parameters())

    assert not has_sn(_method()) and has_sn(_method(encoder_spectral_norm=True))
