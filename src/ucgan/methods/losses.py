"""Adversarial losses and discriminator regularisers shared by the methods (pure functions)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def _interpolate(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return (eps * real + (1 - eps) * fake).requires_grad_(True)


def _grad_norm(out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out.sum(), inp, create_graph=True)
    return g.flatten(1).norm(2, dim=1)


def lipschitz_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """One-sided Lipschitz penalty (Petzka et al. 2018) on real/fake interpolates: E[max(0, |grad D| - 1)^2].

    SLOGAN uses it for the synthetic, MNIST, FMNIST and 10x_73k datasets (appendix E.1).
    """
    x = _interpolate(real.detach(), fake.detach())
    return F.relu(_grad_norm(d(x), x) - 1.0).pow(2).mean()


def gradient_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Two-sided WGAN-GP penalty E[(|grad D| - 1)^2] (Gulrajani et al. 2017)."""
    x = _interpolate(real.detach(), fake.detach())
    return (_grad_norm(d(x), x) - 1.0).pow(2).mean()


def zero_centered_penalty(d_out: torch.Tensor, inp: torch.Tensor) -> torch.Tensor:
    """R1 (on reals) / R2 (on fakes): E[|grad D(x)|^2], ``inp`` must require grad and feed ``d_out``."""
    (g,) = torch.autograd.grad(d_out.sum(), inp, create_graph=True)
    return g.flatten(1).pow(2).sum(1).mean()


def d_wasserstein(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    return fake_out.mean() - real_out.mean()


def d_hinge(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()


def d_nonsaturating(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()


def d_lsgan(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """Least-squares GAN (Mao et al.) with targets 1 (real) and 0 (fake); squared once."""
    return 0.5 * ((real_out - 1.0).pow(2).mean() + fake_out.pow(2).mean())


def g_lsgan(fake_out: torch.Tensor) -> torch.Tensor:
    return 0.5 * (fake_out - 1.0).pow(2).mean()


def g_nonsaturating(fake_out: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake_out).mean()


def g_wasserstein(fake_out: torch.Tensor) -> torch.Tensor:
    """Also the G loss of the hinge formulation (-D(G(z)))."""
    return -fake_out.mean()


def class_logit(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The output of a K-headed discriminator at each sample's class, shape (N,).

    ``labels`` is either class ids (N,) (Self-Conditioned GAN's mask, §4.1) or a one-hot / weight
    matrix (N, K): the inner product ``D(x) . c`` of CGPGAN's CAGAN loss (Eq. 11-12).
    """
    if labels.dim() == 1:
        return out.gather(1, labels.long().view(-1, 1)).squeeze(1)
    return (out * labels.to(out.dtype)).sum(1)


def critic_steps(D: torch.nn.Module, opt_d: torch.optim.Optimizer, real: torch.Tensor,
                 make_fake: Callable[[], torch.Tensor], penalty: Callable[..., torch.Tensor],
                 penalty_weight: float, n_critic: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_critic`` Wasserstein critic updates with a Lipschitz/gradient penalty, the D half of every
    WGAN-style method here (WGAN, DeLiGAN, ClusterGAN, CD-GAN); ``make_fake`` draws a fresh batch of
    fakes (called without gradients). Returns the last step's adversarial loss and penalty."""
    for _ in range(n_critic):
        with torch.no_grad():
            fake = make_fake()
        d_adv = d_wasserstein(D(real), D(fake))
        pen = penalty(D, real, fake)
        opt_d.zero_grad(set_to_none=True)
        (d_adv + penalty_weight * pen).backward()
        opt_d.step()
    return d_adv, pen
