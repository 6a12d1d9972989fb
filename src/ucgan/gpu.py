"""The GPU path: bf16 autocast, TF32 matmuls, ``torch.compile`` and cuDNN autotuning, from ``train:``.

Why flags and not always-on: a 100k-step paper run on a modern GPU spends most of its time in
fp32 matmuls/convolutions that bf16 autocast and TF32 run several times faster, but they change
numerics, so they are opt-in per profile and recorded in every run's ``train.json``. On a CPU
nothing here does anything: with the flags at their defaults a CPU run is bit-for-bit what it was.

``train.amp``: ``off`` | ``bf16``. bf16 (not fp16) because it keeps fp32's exponent range: GAN
losses with gradient penalties overflow fp16 without a loss scaler, bf16 needs none.
Where bf16 does **not** apply (kept in fp32 on purpose):

* the Gaussian-mixture prior of SLOGAN (``priors/gmm.py``: Cholesky factors, ``cholesky_inverse``,
  log-determinants, responsibilities and the Stein gradient updates of means/covariances/mixing):
  a bf16 Cholesky of a 64x64 covariance loses positive definiteness, and the Stein estimates are
  averages of small differences. Those functions are wrapped in :func:`fp32_region`.
* softmax / log-softmax / norms / losses: autocast itself runs them in fp32.
* evaluation (FID/ICFID features): always fp32 (see ``metrics.extractors``), so metrics from GPU
  and CPU workers stay comparable.

``train.tf32`` (default true; CUDA only): TF32 tensor cores for fp32 matmuls and convolutions
(``torch.backends.cuda.matmul.allow_tf32``, ``cudnn.allow_tf32``).
``train.compile`` (default false; CUDA only): ``nn.Module.compile()`` of every network, in place,
so state dicts and checkpoints keep their keys. The first steps pay the compile time.
``train.cudnn_benchmark`` (default true; CUDA only): cuDNN picks the fastest convolution algorithm
per shape; the batch shape is fixed in training, so this pays off after the first step.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import torch

AMP_MODES = ("off", "bf16")
#: Methods whose training step was run under bf16 autocast (tests/training/test_gpu_path.py probes it
#: on the CPU): SLOGAN's prior stays fp32 through :func:`fp32_region`. InfoSCC-GAN and the
#: latent-space-conditioned GAN read a frozen encoder and k-means attributes whose bf16 behaviour is
#: not verified yet: they train in fp32 even with ``amp: bf16`` (the run log says so).
AMP_METHODS = frozenset({"slogan", "wgan", "cgpgan", "infogan", "scgan"})
F = TypeVar("F", bound=Callable[..., Any])


def _autocast_on() -> bool:
    for dev in ("cuda", "cpu"):
        try:
            if torch.is_autocast_enabled(dev):
                return True
        except TypeError:  # older torch: no device argument
            return bool(torch.is_autocast_enabled())
    return False


def fp32_region(fn: F) -> F:
    """Run ``fn`` in fp32 even inside an autocast region (tensor arguments cast to float32).

    Outside autocast it calls ``fn`` unchanged (no cast, no context): the default fp32 path is
    bit-for-bit what it was before this decorator existed."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _autocast_on():
            return fn(*args, **kwargs)
        up = lambda a: a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a  # noqa: E731
        with torch.autocast("cuda", enabled=False), torch.autocast("cpu", enabled=False):
            return fn(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})

    return wrapper  # type: ignore[return-value]


def configure_backends(device: torch.device, tf32: bool, cudnn_benchmark: bool) -> dict[str, Any]:
    """Set the CUDA backend flags for a training run; returns what was set (for train.json).

    No-op on CPU (the flags only exist for CUDA kernels)."""
    if device.type != "cuda":
        return {"device": str(device)}
    torch.backends.cuda.matmul.allow_tf32 = bool(tf32)
    torch.backends.cudnn.allow_tf32 = bool(tf32)
    torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
    return {"device": str(device), "tf32": bool(tf32), "cudnn_benchmark": bool(cudnn_benchmark),
            "gpu": torch.cuda.get_device_name(device)}


def amp_mode(method_name: str, device: torch.device, amp: str) -> str:
    """The autocast mode a run really uses: ``bf16`` only on CUDA and for :data:`AMP_METHODS`."""
    if amp == "bf16" and device.type == "cuda" and method_name in AMP_METHODS:
        return "bf16"
    return "off"


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[Any]:
    """The autocast context of one training step: bf16 on CUDA with ``amp: bf16``, else nothing."""
    if amp == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compile_modules(modules: dict[str, torch.nn.Module], device: torch.device, enabled: bool) -> list[str]:
    """``nn.Module.compile()`` every network in place (CUDA only); returns the compiled names."""
    if not enabled or device.type != "cuda":
        return []
    done = []
    for name, m in modules.items():
        if isinstance(m, torch.nn.Module) and hasattr(m, "compile"):
            m.compile()
            done.append(name)
    return done


@contextlib.contextmanager
def cpu_bf16_probe() -> Iterator[None]:
    """bf16 autocast on the CPU: lets tests run a method's step under autocast without a GPU to
    find ops that break in bf16 (e.g. ``.numpy()`` of a bf16 tensor). Not used for training."""
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


__all__ = ["AMP_METHODS", "AMP_MODES", "amp_mode", "autocast", "compile_modules", "configure_backends", "cpu_bf16_probe", "fp32_region"]
