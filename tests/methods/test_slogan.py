"""SLOGAN pieces: U2C loss with angular margin, one step on CPU, probe data, ablations."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.env import seed_everything
from ucgan.errors import ConfigError, DataError
from ucgan.methods import DataInfo, get_method
from ucgan.methods.slogan import arcface_logits, simclr_loss, u2c_loss, u2c_loss_prototypes

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


def _capture_stein(m) -> list[tuple]:
    seen: list[tuple] = []
    orig = m.prior.stein_step

    def spy(z, dldz, l_rho, lr, **kw):
        seen.append((z.clone(), dldz.clone(), l_rho.clone(), lr))
        return orig(z, dldz, l_rho, lr, **kw)

    m.prior.stein_step = spy
    return seen


def test_generator_step_batch_multiplier() -> None:
    m = _slogan(gen_batch_mult=2)
    seen = _capture_stein(m)
    m.train_step(torch.rand(16, 2) * 2 - 1, 0, 100)
    assert seen[0][0].shape == (32, 8) and seen[0][1].shape == (32, 8)


def test_rho_options_change_only_the_rho_signal() -> None:
    real = torch.rand(16, 2) * 2 - 1
    a, b = _slogan(), _slogan(rho_lr_mult=3.0, rho_baseline=True)
    sa, sb = _capture_stein(a), _capture_stein(b)
    seed_everything(1)
    a.train_step(real, 0, 100)
    seed_everything(1)
    b.train_step(real, 0, 100)
    (za, da, la, _), (zb, db, lb, _) = sa[0], sb[0]
    assert torch.equal(za, zb) and torch.allclose(da, db)
    assert torch.allclose(lb, 3.0 * (la - la.mean()), atol=1e-6)
    assert torch.allclose(a.prior.mu, b.prior.mu) and torch.allclose(a.prior.sigma, b.prior.sigma)
    assert not torch.allclose(a.prior.rho, b.prior.rho)


def test_u2c_schedule_scales_weight_and_margin_with_floor() -> None:
    m = _slogan(u2c_decay_end=0.2)
    assert m._schedules(0, 100) == (1.0, 1.0)
    assert m._schedules(10, 100)[1] == pytest.approx(0.5) and m._schedules(20, 100)[1] == 0.0
    assert m._schedules(50, 100)[0] == pytest.approx(0.5)
    f = _slogan(u2c_decay_end=0.2, u2c_floor=0.25)
    assert f._schedules(90, 100)[1] == pytest.approx(0.25)


def test_arcface_fallback_past_pi_and_custom_positives() -> None:
    cos = torch.tensor([[-0.99, 0.3], [0.2, 0.5]])
    out = arcface_logits(cos, 1.0, 0.5)
    assert torch.allclose(out[0, 0], torch.tensor(-0.99 - 0.5 * math.sin(0.5)))  # theta + m > pi: fallback
    pos = torch.tensor([[False, True], [True, False]])
    out2 = arcface_logits(cos, 1.0, 0.5, pos)
    assert torch.allclose(out2[0, 0], cos[0, 0]) and out2[0, 1] < cos[0, 1]


def test_u2c_prototype_negatives_is_the_eq67_posterior_and_ignores_shares() -> None:
    e, mu = torch.randn(6, 4), torch.randn(3, 4)
    cat = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 0, 0]), 3).float()
    cos = torch.nn.functional.normalize(e, dim=1) @ torch.nn.functional.normalize(mu, dim=1).t()
    ce = torch.nn.functional.cross_entropy(2.0 * cos, cat.argmax(1), reduction="none") - math.log(3)
    got = u2c_loss_prototypes(e, cat @ mu, mu, cat, 2.0, 0.0)
    assert torch.allclose(got, ce, atol=1e-5)
    # a sample's loss does not depend on how many batch members share its component
    cat2 = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 1, 1, 2]), 3).float()
    assert torch.allclose(u2c_loss_prototypes(e[:1], mu[:1], mu, cat[:1], 2.0, 0.3),
                          u2c_loss_prototypes(e, cat2 @ mu, mu, cat2, 2.0, 0.3)[:1], atol=1e-6)
    m = _slogan(u2c_negatives="prototypes")
    out = m.train_step(torch.rand(16, 2) * 2 - 1, 0, 100)
    assert math.isfinite(float(out["u2c"]))


def test_two_means_ratio_tells_one_blob_from_two() -> None:
    g = torch.Generator().manual_seed(0)
    one = torch.randn(400, 2, generator=g)
    two = torch.cat([torch.randn(200, 2, generator=g) * 0.1 + 3, torch.randn(200, 2, generator=g) * 0.1 - 3])
    M = get_method("slogan")
    assert M._two_means_ratio(one) > 0.4 and M._two_means_ratio(two) < 0.05
    assert M._two_means_ratio(torch.zeros(10, 3)) == 1.0


def test_reassign_schedule_cooldown_and_state() -> None:
    m = _slogan(reassign_every=2, reassign_until=0.5)
    calls: list[int] = []

    def fake(real):  # noqa: ANN001
        calls.append(1)
        return 1.0

    m._reassign = fake
    real = torch.rand(16, 2) * 2 - 1
    moves = [float(m.train_step(real, s, 20)["moves"]) for s in range(12)]
    # tests at steps 4, 6, 8 (>= 2 x every, < 0.5 x 20); a move at 4 blocks the test at 6; the logged
    # value is the running count, so a move shows in losses.csv whichever step is logged
    assert moves == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2] and len(calls) == 2
    assert m.extra_state() == {"last_move": 8, "moves": 2}
    m2 = _slogan(reassign_every=2)
    m2.load_state_dict(m.state_dict())
    assert m2._last_move == 8 and m2._moves == 2


def test_reassign_moves_only_the_donor_mean() -> None:
    m = _slogan(reassign_every=1, mu_init_std=3.0, num_components=6)
    m.prior.mu[1] = m.prior.mu[0]  # two components generate the same region
    mu, sigma = m.prior.mu.clone(), m.prior.sigma.clone()
    moved = m._reassign(torch.rand(16, 2) * 2 - 1)
    changed = (m.prior.mu != mu).any(1)
    assert moved == 1.0 and int(changed.sum()) == 1 and int(changed.nonzero()) in (0, 1)
    assert torch.linalg.eigvalsh(m.prior.sigma).min() > 0 and m.G.training and m.D.training
    keep = ~changed
    assert torch.equal(m.prior.sigma[keep], sigma[keep])
