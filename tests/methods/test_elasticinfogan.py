"""Elastic-InfoGAN: learned Gumbel-softmax prior, Q head, transformation contrastive loss, state."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ucgan.env import seed_everything
from ucgan.methods import DataInfo, get_method
from ucgan.methods.elasticinfogan import nt_xent

POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")
MNIST = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "m")


def _method(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("elasticinfogan")
    return M(M.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, **kw}), info, torch.device("cpu"))


def test_nt_xent_prefers_matching_pairs() -> None:
    a = torch.eye(4)
    assert nt_xent(a, a, 0.5) < nt_xent(a, a.roll(1, 0), 0.5)


def test_prior_starts_uniform_and_augment_keeps_shape_and_range() -> None:
    m = _method(MNIST)
    np.testing.assert_allclose(m.mixing(), [0.5, 0.5])
    x = torch.rand(3, 1, 28, 28)
    xa = m.augment(x)
    assert xa.shape == x.shape and not torch.equal(x, xa) and float(xa.min()) >= 0 and float(xa.max()) <= 1
    p = _method(POINTS)
    pts = torch.rand(5, 2) * 2 - 1
    pa = p.augment(pts)
    assert pa.shape == pts.shape and float((pa - pts).abs().max()) < 0.2 and float(pa.abs().max()) <= 1


@pytest.mark.parametrize("info", [POINTS, MNIST], ids=["points", "28x28"])
def test_step_and_interface(info: DataInfo) -> None:
    m = _method(info)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    real = torch.rand(8, *info.shape)
    out = m.train_step(real, 0, 10)
    assert set(out) >= {"d_loss", "g_loss", "q_loss", "contrastive", "pi_max"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    lo, hi = info.value_range
    for c in range(m.num_components):
        x = m.sample(4, component=c)
        assert x.shape == (4, *info.shape) and bool(((x >= lo) & (x <= hi)).all())
    assert m.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, *info.shape)
    m.eval()
    a = m.assign(real)
    assert a.shape == (8,) and int(a.max()) < m.num_components
    mix = m.mixing()
    assert mix.shape == (m.num_components,) and np.isclose(mix.sum(), 1.0)


def test_contrastive_term_can_be_switched_off() -> None:
    m = _method(contrastive_weight=0.0)
    assert float(m.train_step(torch.rand(8, 2), 0, 10)["contrastive"]) == 0.0


def test_prior_stays_a_distribution_and_moves_on_imbalanced_data() -> None:
    m = _method(width=0.25, lr=1e-3, prior_lr_mult=10.0)
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-0.6, -0.6], [0.6, -0.6], [0.0, 0.6]])
    probs = torch.tensor([0.7, 0.2, 0.1])
    for step in range(60):
        idx = torch.multinomial(probs, 32, replacement=True, generator=gen)
        m.train_step((centres[idx] + 0.05 * torch.randn(32, 2, generator=gen)).clamp(-1, 1), step, 60)
    mix = m.mixing()
    assert np.all(mix > 0) and np.isclose(mix.sum(), 1.0)
    assert np.abs(mix - 1 / 3).max() > 1e-3, mix  # learned, not fixed at uniform
    draws = torch.bincount(m.prior.draw(6000, torch.Generator().manual_seed(0)), minlength=3).numpy() / 6000
    np.testing.assert_allclose(draws, mix, atol=0.03)  # unconditional samples follow the learned prior
