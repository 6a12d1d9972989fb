"""ClusterGAN: latent [z_n ~ N(0, 0.1^2 I), one-hot z_c], encoder inverting G, cycle losses, assignment."""
from __future__ import annotations

import pytest
import torch

from ucgan.env import seed_everything
from ucgan.methods import DataInfo, get_method

POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")
MNIST = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "m")


def _method(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("clustergan")
    return M(M.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, "n_critic": 1, **kw}), info,
             torch.device("cpu"))


def test_defaults_are_the_papers() -> None:
    cfg = get_method("clustergan").Config()
    assert (cfg.sigma_n, cfg.beta_n, cfg.beta_c, cfg.penalty, cfg.penalty_weight, cfg.n_critic) == (0.1, 10.0, 10.0, "gp", 10.0, 5)


def test_latent_layout() -> None:
    m = _method(latent_dim=5)
    zn, c, g_in = m._latent(4000, generator=torch.Generator().manual_seed(0))
    assert g_in.shape == (4000, 5 + 3)
    assert torch.equal(g_in[:, :5], zn) and torch.equal(g_in[:, 5:].argmax(1), c)
    assert bool((g_in[:, 5:].sum(1) == 1).all())
    assert abs(float(zn.std()) - 0.1) < 0.005
    shares = torch.bincount(c, minlength=3).float() / 4000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.03)
    _, c1, _ = m._latent(7, component=2)
    assert bool((c1 == 2).all())


@pytest.mark.parametrize("info", [POINTS, MNIST], ids=["points", "28x28"])
def test_step_and_interface(info: DataInfo) -> None:
    m = _method(info, n_critic=2)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    real = torch.rand(8, *info.shape)
    out = m.train_step(real, 0, 10)
    assert set(out) >= {"d_loss", "penalty", "g_loss", "cycle_n", "cycle_c"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    lo, hi = info.value_range
    for c in range(m.num_components):
        x = m.sample(4, component=c)
        assert x.shape == (4, *info.shape) and bool(((x >= lo) & (x <= hi)).all())
    a = m.assign(real)
    assert a.shape == (8,) and int(a.max()) < m.num_components
    assert m.features(real).shape == (8, 4 + m.num_components)
    assert m.mixing() is None


def test_encoder_recovers_the_code_on_its_own_samples() -> None:
    m = _method(latent_dim=4, width=0.25, lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])
    for step in range(120):
        real = centres[torch.randint(0, 3, (32,), generator=gen)] + 0.05 * torch.randn(32, 2, generator=gen)
        m.train_step(real.clamp(-1, 1), step, 120)
    m.eval()
    g = torch.Generator().manual_seed(3)
    acc = sum(float((m.assign(m.sample(200, c, generator=g)) == c).float().mean()) for c in range(3)) / 3
    assert acc > 0.9, acc


def test_encoder_has_no_spectral_norm_unless_asked() -> None:
    def has_sn(m) -> bool:
        return any("parametrizations" in n for n, _ in m.E.named_parameters())

    assert not has_sn(_method())  # the official encoder: bounded logits would fight the beta_c term
    assert has_sn(_method(encoder_spectral_norm=True))
