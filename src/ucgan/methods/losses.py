"""Adversarial losses and discriminator regularisers shared by the methods, and the critic update built on them."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .base import update


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


#: The critic regularisers by their config name (``penalty: lp | gp``).
PENALTIES: dict[str, Callable[..., torch.Tensor]] = {"lp": lipschitz_penalty, "gp": gradient_penalty}


def critic_steps(D: Callable[[torch.Tensor], torch.Tensor], opt_d: torch.optim.Optimizer, real: torch.Tensor,
                 make_fake: Callable[[], torch.Tensor], penalty: Callable[..., torch.Tensor] | None = None,
                 penalty_weight: float = 0.0, n_critic: int = 1,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = d_wasserstein,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_critic`` critic updates, the D half of the WGAN-style methods (WGAN, DeLiGAN, ClusterGAN,
    CD-GAN, SLOGAN; PGMGAN with the hinge ``loss``, no penalty, and ``D`` bound to the parts).

    ``make_fake`` draws a fresh batch of fakes (called without gradients); ``penalty(D, real, fake)``
    (a Lipschitz/gradient penalty, or None) is added with ``penalty_weight``. Returns the last step's
    adversarial loss and penalty (0 without one).
    """
    pen = torch.zeros((), device=real.device)
    for _ in range(n_critic):
        with torch.no_grad():
            fake = make_fake()
        d_adv = loss(D(real), D(fake))
        if penalty is None:
            update(d_adv, opt_d)
        else:
            pen = penalty(D, real, fake)
            update(d_adv + penalty_weight * pen, opt_d)
    return d_adv, pen
