"""ucgan: unsupervised conditional GANs on imbalanced data — training and benchmarking."""
from .env import disable_telemetry

disable_telemetry()

__version__ = "0.1.0"
