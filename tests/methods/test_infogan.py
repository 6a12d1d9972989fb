"""InfoGAN baseline: uniform categorical code, Q head (shared or separate), MI loss gradients, state."""
from __future__ import annotations

import io

import pytest
import torch

from ucgan.methods import DataInfo, get_method

torch.set_num_threads(1)
POINTS = DataInfo("points", (2,), (-1.0, 1.0), 3, "tiny")


def _method(**kw):
    cls = get_method("infogan")
    torch.manual_seed(0)
    return cls(cls.Config(**{"latent_dim": 4, "width": 0.1, "batch_size": 8, **kw}), POINTS, torch.device("cpu"))


@pytest.mark.parametrize("kw", [dict(), dict(share_trunk=False, continuous_codes=2),
                                dict(arch="paper", share_trunk=False)])
def test_train_step_and_interface(kw: dict) -> None:
    m = _method(**kw)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    out = m.train_step(torch.rand(8, 2) * 2 - 1, 0, 10)
    assert set(out) == {"d_loss", "q_loss", "g_loss", "g_info"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    x = m.sample(6)
    assert x.shape == (6, 2) and bool((x.abs() <= 1).all())
    assert m.sample(4, component=2).shape == (4, 2)
    assert m.assign(x).shape == (6,) and int(m.assign(x).max()) < 3
    assert m.mixing() is None  # assumes the uniform prior
    assert set(m.modules()) == ({"G", "D"} if m.Q is None else {"G", "D", "Q"})


def test_information_loss_reaches_generator_and_q() -> None:
    m = _method(share_trunk=False, continuous_codes=1)
    c, u, g_in = m._codes(8, None, None)
    info = m._info_loss(m._adv_and_q(m.G(g_in))[1], c, u)
    info.backward()
    assert all(p.grad is not None for p in m.G.parameters())
    assert all(p.grad is not None for p in m.Q.parameters())
    assert all(p.grad is None for p in m.D.parameters())  # the separate Q does not touch D


def test_uniform_codes_and_state_round_trip() -> None:
    m = _method()
    c, _, _ = m._codes(3000, None, torch.Generator().manual_seed(0))
    shares = torch.bincount(c, minlength=3).float() / 3000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.03)
    m.train_step(torch.rand(8, 2), 0, 10)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    m2 = _method()
    m2.load_state_dict(torch.load(buf, weights_only=True))
    m.eval(), m2.eval()
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    torch.testing.assert_close(m.sample(5, generator=g1), m2.sample(5, generator=g2))
