"""DeLiGAN+: DeLiGAN plus an encoder (cross-entropy, appendix D.5; or U2C), assignment by the encoder."""
from __future__ import annotations

import pytest
import torch

from ucgan.env import seed_everything
from ucgan.methods import DataInfo, get_method

POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")
MNIST = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "m")


def _method(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("deliganplus")
    return M(M.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, **kw}), info, torch.device("cpu"))


@pytest.mark.parametrize("info,kw", [(POINTS, {}), (POINTS, {"encoder_loss": "u2c"}), (MNIST, {})],
                         ids=["points-ce", "points-u2c", "28x28-ce"])
def test_step_updates_encoder_and_interface(info: DataInfo, kw: dict) -> None:
    m = _method(info, **kw)
    e0 = [p.clone() for p in m.E.parameters()]
    mu0 = m.latent.mu.clone()
    real = torch.rand(8, *info.shape)
    out = m.train_step(real, 0, 10)
    key = "e_ce" if not kw else "u2c"
    assert key in out and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(e0, m.E.parameters()))
    assert not torch.equal(mu0, m.latent.mu)
    x = m.sample(5, component=1)
    assert x.shape == (5, *info.shape)
    a = m.assign(real)
    assert a.shape == (8,) and a.dtype == torch.long and int(a.max()) < m.num_components
    assert m.features(real).shape == (8, m.num_components if not kw else 4)
    assert m.mixing() is None
    assert set(m.modules()) == {"G", "D", "E", "latent"} and set(m.optimizers()) == {"G", "D", "E"}


def test_encoder_recovers_components_on_its_own_samples() -> None:
    m = _method(latent_dim=4, width=0.25, lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])
    for step in range(120):
        real = centres[torch.randint(0, 3, (32,), generator=gen)] + 0.05 * torch.randn(32, 2, generator=gen)
        m.train_step(real.clamp(-1, 1), step, 120)
    m.eval()
    g = torch.Generator().manual_seed(3)
    acc = sum(float((m.assign(m.sample(200, c, generator=g)) == c).float().mean()) for c in range(3)) / 3
    assert acc > 0.8, acc


def test_responsibilities_match_the_mixture_density() -> None:
    import math

    from ucgan.methods.deliganplus import diagonal_responsibilities

    mu = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    sigma = torch.tensor([[1.0, 1.0], [0.5, 0.5]])
    pi = torch.tensor([0.3, 0.7])
    z = torch.tensor([[0.5, 0.2]])
    dens = [pi[k] * torch.exp(torch.distributions.Normal(mu[k], sigma[k]).log_prob(z[0]).sum()) for k in range(2)]
    expected = torch.stack(dens) / sum(dens)
    torch.testing.assert_close(diagonal_responsibilities(z, mu, sigma, pi)[0], expected)
    assert math.isclose(float(diagonal_responsibilities(torch.randn(5, 2), mu, sigma, pi).sum(1).mean()), 1.0, rel_tol=1e-6)


def test_rho_update_ablation_learns_the_mixing() -> None:
    import numpy as np

    m = _method(encoder_loss="u2c", rho_update=True, rho_lr=0.5)
    assert "mix" in m.modules()
    np.testing.assert_allclose(m.mixing(), np.full(3, 1 / 3))
    for step in range(5):
        out = m.train_step(torch.rand(8, 2) * 2 - 1, step, 10)
    assert "pi_max" in out
    mix = m.mixing()
    assert np.isclose(mix.sum(), 1.0) and np.abs(mix - 1 / 3).max() > 1e-4
    assert _method().mixing() is None and "mix" not in _method().modules()  # D.5 default: uniform


def test_encoder_is_slogans_unless_asked() -> None:
    def has_sn(m) -> bool:
        return any("parametrizations" in n for n, _ in m.E.named_parameters())

    assert has_sn(_method())  # SLOGAN's 2-D encoder (Table 11: SN on every layer)
    assert not has_sn(_method(encoder_spectral_norm=False))
