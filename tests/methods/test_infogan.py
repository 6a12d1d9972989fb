"""InfoGAN baseline: uniform categorical code, Q head (shared or separate), MI loss gradients."""
from __future__ import annotations

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


def test_uniform_codes() -> None:
    m = _method()
    c, _, _ = m._codes(3000, None, torch.Generator().manual_seed(0))
    shares = torch.bincount(c, minlength=3).float() / 3000
    assert torch.allclose(shares, torch.full((3,), 1 / 3), atol=0.03)


def test_given_prior_draws_codes_from_it_and_is_the_mixing() -> None:
    import numpy as np

    from ucgan.errors import ConfigError
    from ucgan.stages_params import method_config

    m = _method(prior=(2.0, 1.0, 1.0))  # normalised to .5/.25/.25
    np.testing.assert_allclose(m.mixing(), [0.5, 0.25, 0.25])
    c, _, _ = m._codes(6000, None, torch.Generator().manual_seed(0))
    shares = torch.bincount(c, minlength=3).double() / 6000
    np.testing.assert_allclose(shares.numpy(), [0.5, 0.25, 0.25], atol=0.03)
    c, _, _ = m._codes(5, 1, None)
    assert bool((c == 1).all())  # a given component is still that component
    out = m.train_step(torch.rand(8, 2) * 2 - 1, 0, 10)
    assert all(torch.isfinite(v) for v in out.values())
    with pytest.raises(ConfigError, match="prior"):
        _method(prior=(0.5, 0.5))  # 2 shares for 3 categories
    with pytest.raises(ConfigError, match="prior"):
        method_config({"methods": {"infogan": {"default": {"prior": [0.5, -0.1, 0.6]}}}}, "infogan", "")
    cfg = method_config({"methods": {"infogan": {"default": {"prior": [0.1, 0.2, 0.3, 0.4]}}}}, "infogan", "")
    assert cfg.prior == (0.1, 0.2, 0.3, 0.4)


def test_default_prior_is_unchanged_uniform() -> None:
    m = _method()
    assert m.cfg.prior == () and m.mixing() is None
    g = torch.Generator().manual_seed(5)
    c, _, _ = m._codes(10, None, g)
    assert torch.equal(c, torch.randint(0, 3, (10,), generator=torch.Generator().manual_seed(5)))
