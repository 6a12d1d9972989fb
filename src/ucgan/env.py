"""Process environment: telemetry off, device selection, reproducible seeding."""
from __future__ import annotations

import os
import random

import numpy as np

TELEMETRY_OFF = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}


def disable_telemetry() -> None:
    """Turn off every stack tool's telemetry (called on import of :mod:`ucgan`).

    Also makes OpenMP threads wait passively: on a shared 2-core machine torch's spinning workers
    made one step take 11.5 s instead of 1.5-2.9 s (must be set before torch loads)."""
    for k, v in TELEMETRY_OFF.items():
        os.environ.setdefault(k, v)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def resolve_device(spec: str = "auto") -> "torch.device":  # noqa: F821
    """``auto`` -> CUDA when available, else CPU; otherwise the given torch device string."""
    import torch

    from .errors import ConfigError

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as exc:
        raise ConfigError(f"--device {spec!r} is not a torch device; use auto, cpu, cuda or cuda:N") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {spec} requested but CUDA is not available; use --device auto or cpu")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
