"""SLOGAN pieces: U2C loss with angular margin, one step on CPU, state round trip, probe data, ablations."""
from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.env import seed_everything
from ucgan.errors import ConfigError, DataError
from ucgan.methods import DataInfo, get_method
from ucgan.methods.slogan import arcface_logits, simclr_loss, u2c_loss

POINTS = DataInfo(modality="points", shape=(2,), value_range=(-1.0, 1.0), num_classes=3, dataset="t")
MNIST = DataInfo(modality="image", shape=(1, 28, 28), value_range=(0.0, 1.0), num_classes=2, dataset="m")


def _slogan(info: DataInfo = POINTS, **kw):
    seed_everything(0)
    M = get_method("slogan")
    return M(M.Config(batch_size=16, latent_dim=8, width=0.25, **kw), info, torch.device("cpu"))


def test_u2c_matches_eq10_without_margin() -> None:
    e = torch.randn(5, 4)
    proto = torch.randn(5, 4)
    cos = torch.nn.functional.cosine_similarity(e[:, None], proto[None], dim=2)
    expected = -torch.log(torch.exp(cos.diagonal()) / torch.exp(cos).mean(1))
    assert torch.allclose(u2c_loss(e, proto, 1.0, 0.0), expected, atol=1e-5)


def test_arcface_margin_only_on_positives() -> None:
    cos = torch.tensor([[0.5, 0.2], [0.1, 0.9]])
    out = arcface_logits(cos, 2.0, 0.3)
    assert torch.allclose(out[0, 1], torch.tensor(0.4)) and torch.allclose(out[1, 0], torch.tensor(0.2))
    assert torch.allclose(out[0, 0], 2.0 * torch.cos(torch.acos(torch.tensor(0.5)) + 0.3), atol=1e-5)
    # a margin makes the positive logit smaller, i.e. the loss harder
    assert (u2c_loss(torch.eye(3), torch.eye(3), 4.0, 0.5) > u2c_loss(torch.eye(3), torch.eye(3), 4.0, 0.0)).all()


def test_simclr_loss_prefers_aligned_views() -> None:
    a = torch.eye(4)
    assert simclr_loss(a, a) < simclr_loss(a, a.roll(1, 0))


def test_one_step_updates_every_part_and_prior() -> None:
    m = _slogan()
    before = {k: v.clone() for k, v in m.prior.state_dict().items()}
    g0 = [p.clone() for p in m.G.parameters()]
    e0 = [p.clone() for p in m.E.parameters()]
    out = m.train_step(torch.rand(16, 2) * 2 - 1, 0, 100)
    assert set(out) >= {"d_loss", "g_adv", "u2c"} and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(g0, m.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(e0, m.E.parameters()))
    for k in ("mu", "sigma", "rho"):
        assert not torch.equal(before[k], m.prior.state_dict()[k]), k
    assert np.isclose(m.mixing().sum(), 1.0)
    assert torch.linalg.eigvalsh(m.prior.sigma).min() > 0


def test_ablation_switches_freeze_prior_parts() -> None:
    m = _slogan(update_mu=False, update_sigma=False, update_rho=True, u2c=False)
    mu, sigma = m.prior.mu.clone(), m.prior.sigma.clone()
    out = m.train_step(torch.rand(16, 2) * 2 - 1, 0, 100)
    assert torch.equal(mu, m.prior.mu) and torch.equal(sigma, m.prior.sigma)
    assert float(out["u2c"]) == 0.0


def test_state_round_trip_tensors_only_and_sampling() -> None:
    m = _slogan(MNIST)
    m.train_step(torch.rand(16, 1, 28, 28), 0, 10)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    m2 = _slogan(MNIST)
    m2.load_state_dict(state)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    m.eval(), m2.eval()
    assert torch.equal(m.sample(4, 1, g()), m2.sample(4, 1, g()))
    x = m.sample(4, 0, g())
    assert x.shape == (4, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert m.assign(x).shape == (4,)


def test_probe_data_and_its_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "probe.npz", x=np.random.rand(6, 2).astype(np.float32) * 2 - 1, c=np.array([0, 0, 1, 1, 2, 2]))
    m = _slogan(probe_path=str(tmp_path / "probe.npz"), probe_mixup_iters=2)
    assert len(m._probe[0]) == 6 * 3  # M (T + 1): each mixup round doubles the set
    mu = m.prior.mu.clone()
    out = m.train_step(torch.rand(16, 2) * 2 - 1, 0, 100)
    assert math.isfinite(float(out["e_extra"])) and float(out["e_extra"]) > 0
    assert not torch.equal(mu, m.prior.mu)
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 2), np.float32), c=np.array([0, 7]))
    with pytest.raises(DataError, match="component ids"):
        _slogan(probe_path=str(tmp_path / "bad.npz"))
    with pytest.raises(DataError, match="does not exist"):
        _slogan(probe_path=str(tmp_path / "none.npz"))


def test_simclr_needs_images() -> None:
    with pytest.raises(ConfigError, match="simclr"):
        _slogan(simclr=True)
    m = _slogan(DataInfo(modality="image", shape=(3, 32, 32), value_range=(-1.0, 1.0), num_classes=2), simclr=True)
    out = m.train_step(torch.rand(16, 3, 32, 32) * 2 - 1, 0, 10)
    assert float(out["e_extra"]) > 0
