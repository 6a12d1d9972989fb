"""PGMGAN: frozen partitioner from the pretrain/cluster stages, projection D, partition guide, state.

The partitioner is a real pipeline output on tiny prepared data (pretrain with 0 epochs, cluster),
built by the InfoSCC-GAN tests' helper.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_infoscc import make_artifacts  # noqa: E402  (same folder; pytest puts it on sys.path)

from ucgan.errors import ConfigError
from ucgan.methods import get_method
from ucgan.methods.pgmgan import guide_loss

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def image_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("img"), "image")


@pytest.fixture(scope="module")
def points_art(tmp_path_factory):
    return make_artifacts(tmp_path_factory.mktemp("pts"), "points")


def _method(art, attach=True, **kw):
    info, res, x, _ = art
    M = get_method("pgmgan")
    torch.manual_seed(0)
    m = M(M.Config(**{"width": 0.125, "latent_dim": 8, "batch_size": 8, "n_critic": 1, **kw}), info, CPU)
    if attach:
        m.attach({**res, "train_x": x})
    return m


def test_guide_loss_is_zero_inside_the_part_and_positive_outside() -> None:
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0]])
    assert float(guide_loss(logits, torch.tensor([0, 1]))) == 0.0
    torch.testing.assert_close(guide_loss(logits, torch.tensor([2, 0])), torch.tensor((3 + 1) / 3 / 2 + (2 + 1) / 3 / 2))


def test_needs_the_partitioner(points_art) -> None:
    m = _method(points_art, attach=False)
    assert get_method("pgmgan").needs_encoder
    with pytest.raises(ConfigError, match="partitioner"):
        m.train_step(torch.rand(8, 2), 0, 10)


@pytest.mark.parametrize("which", ["points", "image"])
def test_step_and_interface(which, points_art, image_art) -> None:
    art = points_art if which == "points" else image_art
    info, _, x, y = art
    m = _method(art)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    e0 = [p.detach().clone() for p in m.E.parameters()]
    real = torch.from_numpy(x[:8])
    out = m.train_step(real, 0, 10)
    assert set(out) >= {"d_loss", "g_loss", "guide", "guide_weight"} and all(torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    assert all(torch.equal(a, p) for a, p in zip(e0, m.E.parameters()))  # the partitioner stays frozen
    lo, hi = info.value_range
    for c in range(2):
        s = m.sample(4, component=c)
        assert s.shape == (4, *info.shape) and bool(((s >= lo) & (s <= hi)).all())
    m.eval()
    a = m.assign(torch.from_numpy(x))
    assert a.shape == (len(x),) and int(a.max()) < 2
    mix = m.mixing()
    assert mix.shape == (2,) and np.isclose(mix.sum(), 1.0)
    assert m.features(real).shape[0] == 8
    assert float(out["guide_weight"]) == pytest.approx(6.0) and m.guide_weight(10**9) == pytest.approx(1e-4)


def _agreement(m) -> float:
    """Share of each part's samples that the partitioner puts in that part (mean over parts)."""
    m.eval()
    g = torch.Generator().manual_seed(1)
    acc = np.mean([float((m.assign(m.sample(100, c, generator=g)) == c).float().mean()) for c in range(2)])
    m.train()
    return float(acc)


def test_guide_alone_pulls_samples_into_their_part(points_art) -> None:
    m = _method(points_art, width=0.25, lr=5e-3)
    start = _agreement(m)
    for _ in range(80):  # G steps on the guide term only: its gradient reaches G through the frozen partitioner
        y = torch.randint(0, 2, (32,))
        loss = guide_loss(m.partition_logits(m._fake(y)), y)
        m.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        m.opt_g.step()
    assert _agreement(m) > max(0.85, start + 0.2)


def test_parts_are_generated_after_training(points_art) -> None:
    _, _, x, _ = points_art
    m = _method(points_art, width=0.25, lr=5e-3)
    gen = torch.Generator().manual_seed(0)
    xt = torch.from_numpy(x)
    for step in range(150):
        m.train_step(xt[torch.randint(0, len(xt), (16,), generator=gen)], step, 150)
    assert _agreement(m) > 0.9
