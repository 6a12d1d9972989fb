"""The GPU path flags (train.amp / tf32 / compile / cudnn_benchmark, ucgan.gpu): nothing changes on
a CPU, bf16 autocast runs the verified methods' steps with SLOGAN's prior in fp32, and on CUDA the
bf16 losses stay within the stated tolerance of fp32 (CUDA tests skip without a GPU)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan import gpu
from ucgan.env import seed_everything
from ucgan.errors import ConfigError
from ucgan.methods import DataInfo, get_method
from ucgan.training import LoopConfig, train

torch.set_num_threads(1)
POINTS = DataInfo(modality="points", shape=(2,), value_range=(-1.0, 1.0), num_classes=4, dataset="toy")
IMAGES = DataInfo(modality="image", shape=(1, 28, 28), value_range=(-1.0, 1.0), num_classes=2, dataset="toy")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _data(n: int = 256) -> np.ndarray:
    rng = np.random.default_rng(0)
    c = np.array([[0.5, 0.5], [-0.5, 0.5], [0.5, -0.5], [-0.5, -0.5]])
    return (c[rng.integers(0, 4, n)] + 0.05 * rng.standard_normal((n, 2))).astype(np.float32)


def _method(name: str, info: DataInfo = POINTS, device: str = "cpu"):
    seed_everything(3)
    M = get_method(name)
    return M(M.Config(batch_size=16, latent_dim=8, width=0.25), info, torch.device(device))


def _run(tmp_path: Path, name: str, loop: LoopConfig, device: str = "cpu"):
    m = _method(name, device=device)
    res = train(m, _data(), loop, 0, tmp_path / "out", tmp_path / "ck.pt")
    return res.final_losses, {k: v.detach().cpu().clone() for k, v in m.modules()["G"].state_dict().items()}


@pytest.mark.parametrize("name", ["wgan", "slogan"])
def test_gpu_flags_change_nothing_on_cpu(tmp_path: Path, name: str) -> None:
    base = LoopConfig(steps=12, log_every=4, ckpt_every=12, progress=False)
    flags = dataclasses.replace(base, amp="bf16", tf32=False, compile=True, cudnn_benchmark=False)
    l0, w0 = _run(tmp_path / "a", name, base)
    l1, w1 = _run(tmp_path / "b", name, flags)
    assert l0 == l1 and all(torch.equal(w0[k], w1[k]) for k in w0)  # bit for bit


def test_amp_value_is_checked() -> None:
    with pytest.raises(ConfigError, match="amp"):
        LoopConfig(amp="fp16").validate("train")
    assert gpu.amp_mode("slogan", torch.device("cpu"), "bf16") == "off"  # CPU: never autocast
    assert gpu.amp_mode("infoscc", torch.device("cuda"), "bf16") == "off"  # not verified in bf16: fp32
    assert gpu.amp_mode("wgan", torch.device("cuda"), "bf16") == "bf16"


def test_fp32_region_is_transparent_outside_autocast_and_fp32_inside() -> None:
    calls = []

    @gpu.fp32_region
    def f(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.dtype)
        return x @ x.T

    x = torch.randn(4, 4)
    assert torch.equal(f(x), x @ x.T) and calls == [torch.float32]
    with gpu.cpu_bf16_probe():
        assert (x @ x.T).dtype == torch.bfloat16  # autocast is really on
        assert f(x.bfloat16()).dtype == torch.float32 and calls[-1] == torch.float32


@pytest.mark.parametrize("name", sorted(gpu.AMP_METHODS))
@pytest.mark.parametrize("info", [POINTS, IMAGES], ids=["points", "images"])
def test_verified_methods_train_under_bf16_autocast(name: str, info: DataInfo) -> None:
    """The CPU stand-in for the CUDA bf16 path: steps run, losses are finite, the prior stays fp32."""
    m = _method(name, info)
    x = torch.rand(16, *info.shape) * 2 - 1
    with gpu.cpu_bf16_probe():
        for step in range(3):
            out = m.train_step(x, step, 10)
    assert all(torch.isfinite(v.float()) for v in out.values())
    for mod in m.modules().values():
        assert all(p.dtype == torch.float32 for p in mod.parameters())  # autocast never casts weights
    prior = getattr(m, "prior", None)
    if isinstance(prior, torch.nn.Module):
        assert all(p.dtype == torch.float32 for p in prior.parameters())


@needs_cuda
@pytest.mark.parametrize("name", ["wgan", "slogan"])
def test_bf16_losses_stay_close_to_fp32_on_cuda(tmp_path: Path, name: str) -> None:
    base = LoopConfig(steps=40, log_every=4, ckpt_every=40, progress=False, tf32=False)
    l32, _ = _run(tmp_path / "a", name, base, "cuda")
    l16, _ = _run(tmp_path / "b", name, dataclasses.replace(base, amp="bf16", tf32=True), "cuda")
    for k in ("d_loss", "g_loss"):
        assert abs(l16[k] - l32[k]) <= 0.15 + 0.15 * abs(l32[k]), (k, l16[k], l32[k])
