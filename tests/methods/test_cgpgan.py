"""CGPGAN pieces on tiny nets: CAGAN masking, classifier gradient penalty, prob normalize, prior (the state
round trip is the shared contract test's)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ucgan.methods import DataInfo, get_method
from ucgan.methods.cgpgan import classifier_gradient_penalty, prob_normalize, standardized_onehot
from ucgan.methods.losses import class_logit

torch.set_num_threads(1)
POINTS = DataInfo("points", (2,), None, 4, "tiny")
TINY = dict(arch="paper", hidden=16, depth=2, latent_dim=4, num_components=6, batch_size=8)


def _method(**kw):
    cls = get_method("cgpgan")
    torch.manual_seed(0)
    return cls(cls.Config(**{**TINY, **kw}), POINTS, torch.device("cpu"))


def _grads(net: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in net.parameters()]


def test_prob_normalize_keeps_batch_mean_uniform() -> None:
    p = F.softmax(torch.randn(16, 10) * 3, dim=1)
    q = prob_normalize(p)
    torch.testing.assert_close(q.mean(0), torch.full((10,), 0.1))
    torch.testing.assert_close(q.sum(1), torch.ones(16))  # rows still sum to 1


def test_cagan_mask_selects_one_output_and_routes_its_gradient() -> None:
    out = torch.randn(5, 4, requires_grad=True)
    labels = torch.tensor([0, 3, 1, 1, 2])
    onehot = F.one_hot(labels, 4).float()
    sel = class_logit(out, onehot)
    torch.testing.assert_close(sel, out[torch.arange(5), labels])
    torch.testing.assert_close(class_logit(out, labels), sel)
    sel.sum().backward()
    torch.testing.assert_close(out.grad, onehot)  # only the masked output of each sample gets a gradient


def test_classifier_gradient_penalty_reaches_q_only() -> None:
    torch.manual_seed(0)
    q, d = nn.Linear(2, 3), nn.Linear(2, 3)
    x = torch.randn(7, 2, requires_grad=True)
    codes = F.one_hot(torch.randint(0, 3, (7,)), 3).float()
    pen = classifier_gradient_penalty(q(x), codes, x)
    assert pen.dim() == 0 and pen.item() > 0
    pen.backward()
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(q))
    assert all(g is None for g in _grads(d))
    # Manual check for a linear softmax classifier: grad_x (1 - p_c)^2 = -2 (1 - p_c) p_c (w_c - sum_j p_j w_j).
    with torch.no_grad():
        p = F.softmax(q(x), 1)
        c = codes.argmax(1)
        pc = p[torch.arange(7), c]
        g = -2 * (1 - pc)[:, None] * pc[:, None] * (q.weight[c] - p @ q.weight)
        torch.testing.assert_close(pen, g.pow(2).sum(1).mean())
    # A constant classifier has no boundary: zero penalty.
    flat = nn.Linear(2, 3)
    nn.init.zeros_(flat.weight)
    assert classifier_gradient_penalty(flat(x), codes, x).item() == 0.0


def test_standardized_code_has_zero_mean_unit_variance() -> None:
    e = standardized_onehot(torch.arange(6), 6)
    torch.testing.assert_close(e.mean(0), torch.zeros(6))
    torch.testing.assert_close(e.var(0, unbiased=False), torch.ones(6))


def test_losses_reach_the_right_modules() -> None:
    m = _method(lambda_creg=1.0)
    real = torch.randn(8, 2)
    d_loss, q_loss, diag, _ = m.dq_losses(real, 0, 100)
    assert set(diag) >= {"d_loss", "r2", "q_cls", "q_creg"} and diag["q_creg"] > 0 and diag["r2"] > 0
    d_loss.backward(retain_graph=True)
    assert all(g is not None for g in _grads(m.D))
    assert all(g is None for g in _grads(m.Q)) and all(g is None for g in _grads(m.G))
    m.D.zero_grad(set_to_none=True)
    q_loss.backward()
    assert all(g is not None for g in _grads(m.Q))
    assert all(g is None for g in _grads(m.D)) and all(g is None for g in _grads(m.G))
    m.Q.zero_grad(set_to_none=True)
    m.g_loss(8).backward()
    assert all(g is not None for g in _grads(m.G))
    assert all(g is None for g in _grads(m.Q))  # no classification loss on G (Eq. 9)


def test_train_step_prior_uniform_while_normalizing_then_moves() -> None:
    m = _method(prior_start=0.5, prior_decay=0.9, lr=1e-3, prior_lr=1e-4)
    real = torch.randn(8, 2)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in m.modules().items()}
    for step in range(3):
        out = m.train_step(real, step, 10)
        assert all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for k, n in m.modules().items():
        assert any(not torch.equal(a, p) for a, p in zip(before[k], n.parameters())), f"{k} did not train"
    torch.testing.assert_close(torch.as_tensor(m.mixing()).float(), torch.full((6,), 1 / 6))
    assert all(g["lr"] == 1e-3 for o in m.optimizers().values() for g in o.param_groups)
    m.train_step(real, 5, 10)  # past prior_start: P(C) follows Q(x_real), at prior_lr
    assert all(g["lr"] == 1e-4 for o in m.optimizers().values() for g in o.param_groups)
    assert not torch.allclose(torch.as_tensor(m.mixing()).float(), torch.full((6,), 1 / 6))
    assert m.mixing().sum() == pytest.approx(1.0)
    m.prior.copy_(torch.tensor([0.5, 0.3, 0.195, 0.004, 0.001, 0.0]))
    assert m.unused_components() == [3, 4, 5]
    assert m.assign(real).shape == (8,) and m.sample(5, component=2).shape == (5, 2)


def test_shared_arch_image_step_and_config_errors() -> None:
    from ucgan.errors import ConfigError

    cls = get_method("cgpgan")
    img = DataInfo("image", (1, 28, 28), (0.0, 1.0), 2, "img")
    torch.manual_seed(0)
    m = cls(cls.Config(width=0.05, latent_dim=4, num_components=3, batch_size=4), img, torch.device("cpu"))
    out = m.train_step(torch.rand(4, 1, 28, 28), 0, 10)
    assert torch.isfinite(out["g_loss"]) and m.sample(2).shape == (2, 1, 28, 28)
    with pytest.raises(ConfigError, match="arch"):
        cls(cls.Config(arch="paper"), img, torch.device("cpu"))
    with pytest.raises(ConfigError, match="prior_start"):
        from ucgan.config import from_mapping

        from_mapping(cls.Config, {"prior_start": 3000}, "methods.cgpgan.default")
