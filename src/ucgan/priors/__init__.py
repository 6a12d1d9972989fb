"""Learnable latent priors; :mod:`ucgan.priors.gmm` is SLOGAN's Gaussian mixture with Stein updates."""
from .gmm import GaussianMixturePrior, SteinGrads

__all__ = ["GaussianMixturePrior", "SteinGrads"]
