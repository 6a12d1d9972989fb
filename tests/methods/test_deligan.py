"""DeLiGAN: mixture latent (init, sampling per component), sigma regulariser, no encoder."""
from __future__ import annotations

import pytest
import torch

from ucgan.env import seed_everything
from ucgan.errors import ConfigError
from ucgan.methods import DataInfo, get_method
from ucgan.stages_params import method_config

POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")
MNIST = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "m")


def _method(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("deligan")
    return M(M.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, **kw}), info, torch.device("cpu"))


def _blobs(n: int, gen: torch.Generator) -> torch.Tensor:
    centres = torch.tensor([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])
    return (centres[torch.randint(0, 3, (n,), generator=gen)] + 0.05 * torch.randn(n, 2, generator=gen)).clamp(-1, 1)


def test_initialisation_as_the_paper() -> None:
    m = _method(latent_dim=16)
    assert m.latent.mu.shape == (3, 16) and m.latent.sigma.shape == (3, 16)
    mu = m.latent.mu.detach()
    assert float(mu.abs().max()) <= 1.0 and float(mu.std()) > 0.3  # U(-1, 1)
    assert torch.equal(m.latent.sigma, torch.full((3, 16), 0.2))


@pytest.mark.parametrize("info", [POINTS, MNIST], ids=["points", "28x28"])
def test_step_and_interface(info: DataInfo) -> None:
    m = _method(info)
    real = torch.rand(8, *info.shape) * (2 if info is POINTS else 1) - (1 if info is POINTS else 0)
    mu0, sig0 = m.latent.mu.clone(), m.latent.sigma.clone()
    out = m.train_step(real, 0, 10)
    assert set(out) >= {"d_loss", "penalty", "g_loss", "sigma_reg"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    assert not torch.equal(mu0, m.latent.mu) and not torch.equal(sig0, m.latent.sigma)
    lo, hi = info.value_range
    for c in range(m.num_components):
        x = m.sample(5, component=c)
        assert x.shape == (5, *info.shape) and bool(((x >= lo) & (x <= hi)).all())
    assert m.sample(6).shape == (6, *info.shape)
    assert m.assign(real) is None and m.mixing() is None
    f = m.features(real)
    assert f.shape[0] == 8 and f.dim() == 2 and torch.equal(f, m.D.features(real))


def test_component_sampling_uses_its_own_gaussian() -> None:
    m = _method(latent_dim=6)
    z, c = m.latent.sample(4000, component=1, generator=torch.Generator().manual_seed(0))
    assert bool((c == 1).all())
    torch.testing.assert_close(z.mean(0), m.latent.mu[1].detach(), atol=0.02, rtol=0)
    torch.testing.assert_close(z.std(0), m.latent.sigma[1].detach().abs(), atol=0.02, rtol=0)
    _, c = m.latent.sample(3000, generator=torch.Generator().manual_seed(1))
    shares = torch.bincount(c, minlength=3).float() / 3000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.03)  # uniform mixing


def test_sigma_regulariser_pulls_sigma_towards_one() -> None:
    gen = torch.Generator().manual_seed(0)
    means = {}
    for w in (0.0, 50.0):
        m = _method(sigma_weight=w, lr=1e-3)
        for step in range(30):
            m.train_step(_blobs(8, gen), step, 30)
        means[w] = float(m.latent.sigma.detach().mean())
    assert means[50.0] > 0.2 + 0.02          # pulled up from its 0.2 start
    assert means[50.0] > means[0.0] + 0.01   # by the regulariser, not by the adversarial loss
    m = _method()
    assert float(m.latent.sigma_regulariser().detach()) == pytest.approx(0.64)  # (1 - 0.2)^2


def test_params_block_resolves_and_rejects_bad_values() -> None:
    raw = {"methods": {"deligan": {"default": {"width": 0.5}, "datasets": {"r": {"sigma_init": 0.3}}}}}
    cfg = method_config(raw, "deligan", "r")
    assert cfg.width == 0.5 and cfg.sigma_init == 0.3
    with pytest.raises(ConfigError, match="sigma_init"):
        method_config({"methods": {"deligan": {"default": {"sigma_init": 0.0}}}}, "deligan", "")
