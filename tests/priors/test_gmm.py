"""Gaussian-mixture prior with Stein updates (ucgan.priors.gmm), tested against exact gradients.

For the test loss l(z) = sum_j sin(a_j.z) + |z - b|^2 the expectation under N(mu, Sigma) has the
closed form sum_j sin(a_j.mu) exp(-a_j' Sigma a_j / 2) + |mu - b|^2 + tr Sigma, so E_q[l] and its
exact gradients w.r.t. mu, Sigma and rho come from autograd on that formula. The Stein estimates
must agree within Monte-Carlo error (tolerance = 5 standard errors of the per-sample terms).
"""
from __future__ import annotations

import io
import math

import pytest
import torch

from ucgan.errors import ConfigError, DivergenceError
from ucgan.priors import GaussianMixturePrior

DT = torch.float64


@pytest.fixture(autouse=True)
def _single_thread():
    """These tests run many tiny ops: intra-op threads only add wake-up latency (10-100x on a busy
    2-core machine), so run them on one thread and restore the session's setting afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _random_spd(k: int, d: int, gen: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(k, d, d, generator=gen, dtype=DT))
    eig = 0.3 + 1.7 * torch.rand(k, d, generator=gen, dtype=DT)
    return q @ torch.diag_embed(eig) @ q.transpose(-1, -2)


def _prior(k: int = 3, d: int = 3, seed: int = 0) -> GaussianMixturePrior:
    gen = torch.Generator().manual_seed(seed)
    p = GaussianMixturePrior(k, d, dtype=DT)
    p.mu.copy_(torch.randn(k, d, generator=gen, dtype=DT))
    p.sigma.copy_(_random_spd(k, d, gen))
    p.rho.copy_(torch.randn(k, generator=gen, dtype=DT))
    return p


class SinQuad:
    """l(z) = sum_j sin(a_j . z) + |z - b|^2 with its gradient and closed-form Gaussian expectation."""

    def __init__(self, d: int, seed: int = 1) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.a = torch.randn(4, d, generator=gen, dtype=DT)
        self.b = torch.randn(d, generator=gen, dtype=DT)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sin(z @ self.a.T).sum(-1) + ((z - self.b) ** 2).sum(-1)

    def grad(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cos(z @ self.a.T) @ self.a + 2 * (z - self.b)

    def expected(self, mu: torch.Tensor, sigma: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
        """E_q[l] for the mixture, differentiable in (mu, sigma, rho)."""
        quad = torch.einsum("jd,kde,je->kj", self.a, sigma, self.a)
        per_c = (torch.sin(mu @ self.a.T) * torch.exp(-0.5 * quad)).sum(-1)
        per_c = per_c + ((mu - self.b) ** 2).sum(-1) + torch.diagonal(sigma, dim1=-2, dim2=-1).sum(-1)
        return (torch.softmax(rho, 0) * per_c).sum()


def _exact_grads(p: GaussianMixturePrior, loss: SinQuad):
    mu = p.mu.clone().requires_grad_()
    sigma = p.sigma.clone().requires_grad_()
    rho = p.rho.clone().requires_grad_()
    loss.expected(mu, sigma, rho).backward()
    return mu.grad, 0.5 * (sigma.grad + sigma.grad.transpose(-1, -2)), rho.grad


def _per_sample_terms(p: GaussianMixturePrior, z: torch.Tensor, g: torch.Tensor, l: torch.Tensor):
    """Independent reference (explicit inverses, torch.distributions) of the per-sample Stein terms."""
    mvn = torch.distributions.MultivariateNormal(p.mu, covariance_matrix=p.sigma)
    joint = mvn.log_prob(z[:, None, :]) + torch.log_softmax(p.rho, 0)
    r = torch.softmax(joint, dim=1)  # (N, K)
    t_mu = r[:, :, None] * g[:, None, :]
    prec_diff = torch.einsum("kde,nke->nkd", torch.linalg.inv(p.sigma), z[:, None, :] - p.mu)
    s = r[:, :, None, None] * prec_diff[:, :, :, None] * g[:, None, None, :]
    t_sigma = 0.25 * (s + s.transpose(-1, -2))
    t_rho = (r - torch.softmax(p.rho, 0)) * l[:, None]
    return t_mu, t_sigma, t_rho


def _assert_within_mc(est: torch.Tensor, exact: torch.Tensor, terms: torch.Tensor, n_se: float = 5.0) -> None:
    se = terms.std(dim=0) / math.sqrt(terms.shape[0])
    err = (est - exact).abs()
    assert bool((err <= n_se * se + 1e-9).all()), f"max err/se = {(err / se).max():.2f}"
    # And the test is not vacuous: the standard error is small against the gradient itself.
    assert float(se.max()) < 0.1 * float(exact.abs().max())


@pytest.fixture(scope="module")
def mc_batch():
    p, loss = _prior(), SinQuad(3)
    z, _ = p.sample(200_000, generator=torch.Generator().manual_seed(5))
    g, l = loss.grad(z), loss(z)
    return p, loss, z, g, l, _per_sample_terms(p, z, g, l)


def test_stein_grads_match_reference_implementation(mc_batch) -> None:
    p, _, z, g, l, (t_mu, t_sigma, t_rho) = mc_batch
    est = p.stein_grads(z, g, l)
    torch.testing.assert_close(est.mu, t_mu.mean(0))
    torch.testing.assert_close(est.sigma, t_sigma.mean(0))
    torch.testing.assert_close(est.rho, t_rho.mean(0))
    torch.testing.assert_close(est.sigma, est.sigma.transpose(-1, -2))


def test_mean_gradient_matches_exact(mc_batch) -> None:  # Eq. 3
    p, loss, z, g, l, (t_mu, _, _) = mc_batch
    exact_mu, _, _ = _exact_grads(p, loss)
    _assert_within_mc(p.stein_grads(z, g, l).mu, exact_mu, t_mu)


def test_covariance_gradient_matches_exact(mc_batch) -> None:  # Eq. 4-5 with the 1/2 of Algorithm 1
    p, loss, z, g, l, (_, t_sigma, _) = mc_batch
    _, exact_sigma, _ = _exact_grads(p, loss)
    _assert_within_mc(p.stein_grads(z, g, l).sigma, exact_sigma, t_sigma)


def test_logit_gradient_matches_exact(mc_batch) -> None:  # Eq. 7
    p, loss, z, g, l, (_, _, t_rho) = mc_batch
    _, _, exact_rho = _exact_grads(p, loss)
    _assert_within_mc(p.stein_grads(z, g, l).rho, exact_rho, t_rho)
    # Finite difference of the exact expectation agrees too (checks the softmax convention).
    h = 1e-6
    for c in range(p.num_components):
        e = torch.zeros_like(p.rho)
        e[c] = h
        fd = (loss.expected(p.mu, p.sigma, p.rho + e) - loss.expected(p.mu, p.sigma, p.rho - e)) / (2 * h)
        assert abs(float(fd) - float(exact_rho[c])) < 1e-6


def test_official_covariance_factor_doubles_sigma_gradient(mc_batch) -> None:
    p, _, z, g, l, _ = mc_batch
    q = GaussianMixturePrior(p.num_components, p.dim, covariance_grad_factor=1.0, dtype=DT)
    q.load_state_dict(p.state_dict())
    torch.testing.assert_close(q.stein_grads(z[:1000], g[:1000], l[:1000]).sigma,
                               2 * p.stein_grads(z[:1000], g[:1000], l[:1000]).sigma)


def _chunked_compare(p: GaussianMixturePrior, lossfn, which: str, chunks: int = 40, n: int = 5_000) -> None:
    """Explicit reparameterisation (z = mu_c + L_c eps, c ~ pi; autograd) vs Stein on the same draws.

    Both are unbiased for the same gradient; their per-chunk difference must average to zero
    within 5 standard errors across chunks. Works for any smooth l, not only closed-form ones.
    """
    gen = torch.Generator().manual_seed(11)
    diffs, scale = [], []
    for _ in range(chunks):
        mu = p.mu.clone().requires_grad_()
        sigma = p.sigma.clone().requires_grad_()
        c = torch.multinomial(p.pi, n, replacement=True, generator=gen)
        eps = torch.randn(n, p.dim, generator=gen, dtype=DT)
        chol = torch.linalg.cholesky(sigma)
        z = mu[c] + torch.einsum("nij,nj->ni", chol[c], eps)
        zl = z.detach().requires_grad_()
        lz = lossfn(zl)
        (dldz,) = torch.autograd.grad(lz.sum(), zl)
        lossfn(z).mean().backward()
        est = p.stein_grads(zl.detach(), dldz, lz.detach())
        if which == "mu":
            diffs.append(est.mu - mu.grad)
            scale.append(mu.grad)
        else:
            auto = 0.5 * (sigma.grad + sigma.grad.transpose(-1, -2))
            diffs.append(est.sigma - auto)
            scale.append(auto)
    dd = torch.stack(diffs)
    se = dd.std(0) / math.sqrt(chunks)
    assert bool((dd.mean(0).abs() <= 5 * se + 1e-9).all()), f"max |mean diff|/se = {(dd.mean(0).abs() / se).max():.2f}"
    assert float(torch.stack(scale).mean(0).abs().max()) > 10 * float(se.max())


def _tanh_net(d: int):
    gen = torch.Generator().manual_seed(3)
    w1 = torch.randn(d, 16, generator=gen, dtype=DT)
    w2 = torch.randn(16, generator=gen, dtype=DT)
    b = torch.randn(d, generator=gen, dtype=DT)
    return lambda z: torch.tanh(z @ w1) @ w2 + 0.5 * ((z - b) ** 2).sum(-1)


def test_mean_gradient_matches_explicit_reparameterisation() -> None:
    _chunked_compare(_prior(seed=4), _tanh_net(3), "mu")


def test_covariance_gradient_matches_explicit_reparameterisation() -> None:
    _chunked_compare(_prior(seed=4), _tanh_net(3), "sigma")


# ---------------------------------------------------------------------- updates


def test_covariance_update_is_eq6() -> None:
    """The factored update equals Sigma + gamma (D + gamma/2 D Sigma^-1 D), D = -grad (Eq. 6)."""
    p = _prior(k=4, d=5, seed=7)
    z, _ = p.sample(256, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    g, l = torch.randn(256, 5, generator=gen, dtype=DT), torch.randn(256, generator=gen, dtype=DT)
    old = {k: v.clone() for k, v in p.state_dict().items()}
    gamma = 0.05
    grads = p.stein_step(z, g, l, gamma)
    dlt = -grads.sigma
    expected = old["sigma"] + gamma * (dlt + 0.5 * gamma * dlt @ torch.linalg.solve(old["sigma"], dlt))
    torch.testing.assert_close(p.sigma, expected)
    torch.testing.assert_close(p.mu, old["mu"] - 10 * gamma * grads.mu)
    torch.testing.assert_close(p.rho, old["rho"] - gamma * grads.rho)


def test_official_code_update_equivalence() -> None:
    """factor 1.0: Sigma - g*nabla + g^2/2 nabla Sigma^-1 nabla with nabla = sym(mean S) (github.com/shinyflight/SLOGAN, prior update)."""
    p = _prior(k=2, d=4, seed=8)
    q = GaussianMixturePrior(2, 4, covariance_grad_factor=1.0, dtype=DT)
    q.load_state_dict(p.state_dict())
    z, _ = q.sample(64, generator=torch.Generator().manual_seed(0))
    g, l = torch.randn(64, 4, dtype=DT), torch.randn(64, dtype=DT)
    nabla = 2 * p.stein_grads(z, g, l).sigma  # paper grad is half of the official nabla
    old = q.sigma.clone()
    q.stein_step(z, g, l, 0.01)
    torch.testing.assert_close(q.sigma, old - 0.01 * nabla + 0.5 * 0.01**2 * nabla @ torch.linalg.solve(old, nabla))


def test_ablation_switches_freeze_parameters() -> None:
    p = _prior(seed=9)
    z, _ = p.sample(32)
    g, l = torch.randn(32, 3, dtype=DT), torch.randn(32, dtype=DT)
    for flag in ("mu", "sigma", "rho"):
        before = getattr(p, flag).clone()
        p.stein_step(z, g, l, 0.1, **{f"update_{flag}": False})
        torch.testing.assert_close(getattr(p, flag), before, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_covariances_stay_symmetric_positive_definite(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    k, d = 4, 6
    p = GaussianMixturePrior(k, d, dtype=dtype)
    gen = torch.Generator().manual_seed(2)
    for _ in range(2000):
        z, _ = p.sample(32, generator=gen)
        scale = 10.0 ** float(torch.randint(-1, 5, (1,), generator=gen))  # up to 1e4
        g = scale * torch.randn(32, d, generator=gen, dtype=dtype)
        l = scale * torch.randn(32, generator=gen, dtype=dtype)
        gamma = float(torch.empty(1).uniform_(1e-3, 0.5, generator=gen))
        p.stein_step(z, g, l, gamma)  # raises DivergenceError if any Sigma is not PD
        assert torch.equal(p.sigma, p.sigma.transpose(-1, -2))
    eig = torch.linalg.eigvalsh(p.sigma)
    assert bool((eig > 0).all()) and bool(torch.isfinite(p.sigma).all())
    assert bool(torch.isfinite(p.mu).all()) and bool(torch.isfinite(p.rho).all())


def test_huge_gradient_keeps_ill_conditioned_sigma_pd() -> None:
    p = GaussianMixturePrior(1, 3)
    p.sigma.copy_(torch.diag(torch.tensor([1e-4, 1.0, 1e4])))
    grads = p.stein_grads(torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1))
    bad = torch.tensor([[[1e6, -3e5, 2e5], [-3e5, 1e6, 0.0], [2e5, 0.0, -1e6]]])
    p.apply_grads(type(grads)(mu=grads.mu, sigma=bad, rho=grads.rho), lr_gamma=1.0)
    assert bool((torch.linalg.eigvalsh(p.sigma) > 0).all())


def test_nonpositive_definite_sigma_is_divergence_error() -> None:
    p = GaussianMixturePrior(2, 2)
    p.sigma[1] = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(DivergenceError, match=r"component\(s\) \[1\]"):
        p.sample(4)


# ---------------------------------------------------------------------- sampling / densities


def test_initialisation_follows_paper() -> None:
    p = GaussianMixturePrior(8, 64, generator=torch.Generator().manual_seed(0))
    assert p.mu.dtype == torch.float32 and p.mu.shape == (8, 64)
    assert abs(float(p.mu.std()) - 0.1) < 0.01
    torch.testing.assert_close(p.sigma, torch.eye(64).repeat(8, 1, 1))
    torch.testing.assert_close(p.pi, torch.full((8,), 1 / 8))
    assert [n for n, _ in p.named_parameters()] == []
    assert sorted(n for n, _ in p.named_buffers()) == ["mu", "rho", "sigma"]
    q = GaussianMixturePrior(8, 64, mu_init_std=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(q.mu, 10 * p.mu)


def test_sampling_statistics() -> None:
    p = _prior(k=3, d=2, seed=12)
    p.rho.copy_(torch.log(torch.tensor([0.15, 0.35, 0.5], dtype=DT)))
    n = 120_000
    z, c = p.sample(n, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(c, minlength=3).to(DT) / n
    pi = p.pi
    assert bool(((freq - pi).abs() <= 5 * torch.sqrt(pi * (1 - pi) / n)).all())
    for k in range(3):
        zk = z[c == k]
        m = zk.shape[0]
        se_mean = torch.sqrt(torch.diagonal(p.sigma[k]) / m)
        assert bool(((zk.mean(0) - p.mu[k]).abs() <= 5 * se_mean).all())
        cov = torch.cov(zk.T)
        assert float((cov - p.sigma[k]).abs().max()) < 10 * float(p.sigma[k].abs().max()) / math.sqrt(m)


def test_sampling_is_reproducible_and_aligned_across_components() -> None:
    p = _prior(k=3, d=4, seed=13)
    z1, c1 = p.sample(50, generator=torch.Generator().manual_seed(42))
    z2, c2 = p.sample(50, generator=torch.Generator().manual_seed(42))
    assert torch.equal(z1, z2) and torch.equal(c1, c2)
    z3, _ = p.sample(50, generator=torch.Generator().manual_seed(43))
    assert not torch.equal(z1, z3)
    # Fixed component: same seed -> same eps for every component (aligned sample grids).
    chol = torch.linalg.cholesky(p.sigma)
    eps = []
    for k in range(3):
        zk, ck = p.sample(20, component=k, generator=torch.Generator().manual_seed(7))
        assert bool((ck == k).all())
        eps.append(torch.linalg.solve_triangular(chol[k], (zk - p.mu[k]).T, upper=False).T)
    torch.testing.assert_close(eps[0], eps[1])
    torch.testing.assert_close(eps[0], eps[2])
    zs, cs = p.sample(3, component=torch.tensor([2, 0, 1]))
    assert cs.tolist() == [2, 0, 1]
    with pytest.raises(ConfigError):
        p.sample(2, component=3)
    assert p.sample(0)[0].shape == (0, 4)


def test_responsibilities_match_direct_formula_and_are_stable() -> None:
    p = _prior(k=3, d=3, seed=14)
    z, _ = p.sample(100)
    mvn = torch.distributions.MultivariateNormal(p.mu, covariance_matrix=p.sigma)
    ref = torch.softmax(mvn.log_prob(z[:, None, :]) + torch.log_softmax(p.rho, 0), dim=1)
    torch.testing.assert_close(p.responsibilities(z), ref)
    joint = mvn.log_prob(z[:, None, :]) + torch.log_softmax(p.rho, 0)
    torch.testing.assert_close(p.log_prob(z), torch.logsumexp(joint, 1))
    for dtype, far in ((DT, 1e8), (torch.float32, 1e6)):
        q = p.to(dtype)
        zf = torch.tensor([[far, 0, 0], [-far, far, 3.0], [0, 0, -far]], dtype=dtype)
        r = q.responsibilities(zf)
        assert bool(torch.isfinite(r).all()) and bool(torch.isfinite(q.log_responsibilities(zf)).all())
        torch.testing.assert_close(r.sum(1), torch.ones(3, dtype=dtype))


def test_log_responsibilities_differentiable_in_z() -> None:
    p = _prior(seed=15)
    z = torch.randn(5, 3, dtype=DT, requires_grad=True)
    p.log_responsibilities(z)[:, 0].sum().backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all())


def test_state_dict_roundtrip_weights_only() -> None:
    p = _prior(k=4, d=3, seed=16)
    z, _ = p.sample(16)
    p.stein_step(z, torch.randn(16, 3, dtype=DT), torch.randn(16, dtype=DT), 0.1)
    buf = io.BytesIO()
    torch.save(p.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    assert set(state) == {"mu", "sigma", "rho"}
    q = GaussianMixturePrior(4, 3, dtype=DT)
    q.load_state_dict(state)
    for name in ("mu", "sigma", "rho"):
        assert torch.equal(getattr(p, name), getattr(q, name))


@pytest.mark.parametrize("kwargs", [dict(num_components=0, dim=2), dict(num_components=2, dim=0),
                                    dict(num_components=2, dim=2, mu_init_std=-1.0),
                                    dict(num_components=2, dim=2, covariance_grad_factor=0.0)])
def test_bad_configuration_is_config_error(kwargs) -> None:
    with pytest.raises(ConfigError):
        GaussianMixturePrior(**kwargs)


def test_factor_cache_never_stale() -> None:
    """The cached Cholesky must follow every way Sigma can change."""
    p = _prior(k=2, d=3, seed=17)
    z = torch.randn(8, 3, dtype=DT)

    def reference(q: GaussianMixturePrior) -> torch.Tensor:
        mvn = torch.distributions.MultivariateNormal(q.mu, covariance_matrix=q.sigma)
        return torch.softmax(mvn.log_prob(z[:, None, :].to(q.mu.dtype)) + torch.log_softmax(q.rho, 0), 1)

    torch.testing.assert_close(p.responsibilities(z), reference(p))
    p.sigma.copy_(p.sigma * 2.0)                                   # in-place copy
    torch.testing.assert_close(p.responsibilities(z), reference(p))
    p.sigma[1] = torch.eye(3, dtype=DT) * 0.1                      # item assignment
    torch.testing.assert_close(p.responsibilities(z), reference(p))
    p.load_state_dict(_prior(k=2, d=3, seed=18).state_dict())      # checkpoint load
    torch.testing.assert_close(p.responsibilities(z), reference(p))
    p.stein_step(z, torch.randn(8, 3, dtype=DT), torch.randn(8, dtype=DT), 0.1)  # our own update
    torch.testing.assert_close(p.responsibilities(z), reference(p))
    p.sigma.data.mul_(3.0)                                         # bypasses the version counter...
    p.clear_cache()                                                # ...so it needs clear_cache
    torch.testing.assert_close(p.responsibilities(z), reference(p))
    q = p.to(torch.float32)                                        # new tensors
    torch.testing.assert_close(q.responsibilities(z), reference(q))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu() -> None:
    cpu = _prior(k=4, d=8, seed=19)
    gpu = GaussianMixturePrior(4, 8, dtype=DT).cuda()
    gpu.load_state_dict(cpu.state_dict())
    # A CPU generator gives the same draws on either device; a CUDA generator works too.
    zc, cc = cpu.sample(64, generator=torch.Generator().manual_seed(3))
    zg, cg = gpu.sample(64, generator=torch.Generator().manual_seed(3))
    assert zg.is_cuda and cg.is_cuda
    torch.testing.assert_close(zg.cpu(), zc)
    assert torch.equal(cg.cpu(), cc)
    zg2, _ = gpu.sample(64, generator=torch.Generator(device="cuda").manual_seed(3))
    assert zg2.is_cuda and bool(torch.isfinite(zg2).all())
    g, l = torch.randn(64, 8, dtype=DT), torch.randn(64, dtype=DT)
    gc = cpu.stein_step(zc, g, l, 0.05)
    gg = gpu.stein_step(zc.cuda(), g.cuda(), l.cuda(), 0.05)
    for a, b in ((gc.mu, gg.mu), (gc.sigma, gg.sigma), (gc.rho, gg.rho)):
        torch.testing.assert_close(b.cpu(), a)
    for name in ("mu", "sigma", "rho"):
        torch.testing.assert_close(getattr(gpu, name).cpu(), getattr(cpu, name))
    torch.testing.assert_close(gpu.responsibilities(zc.cuda()).cpu(), cpu.responsibilities(zc))
