"""Time one SLOGAN step against one WGAN step with the same networks, in the same process.

The issue's bar: SLOGAN / WGAN step time <= 1.3 on CPU (the Stein prior update must stay cheap).
Also prints images per second for the MNIST (Table 12) and ring (Table 11) networks on every
available device, CUDA included.

    python benchmarks/bench_step.py [--width 1.0] [--steps 30] [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import ucgan  # noqa: E402,F401  (first: sets the OpenMP wait policy the pipeline runs with, before torch loads)
import torch  # noqa: E402

from ucgan.env import seed_everything  # noqa: E402
from ucgan.methods import DataInfo, get_method  # noqa: E402

CASES = {
    "mnist-28x28 (Table 12 DCGAN)": (DataInfo("image", (1, 28, 28), (0.0, 1.0), 2), 64),
    "ring-2d (Table 11 MLP)": (DataInfo("points", (2,), (-1.0, 1.0), 8), 64),
}


def time_steps(name: str, info: DataInfo, batch: int, width: float, device: torch.device, steps: int) -> float:
    seed_everything(0)
    M = get_method(name)
    m = M(M.Config(batch_size=batch, latent_dim=64, width=width), info, device)
    x = torch.rand(batch, *info.shape, device=device) * 2 - 1
    if info.value_range == (0.0, 1.0):
        x = (x + 1) / 2
    for i in range(5):  # warm-up (allocator, cuDNN autotune)
        m.train_step(x, i, 10_000)
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(3):  # best of 3 blocks: robust to other load on the machine
        t0 = time.perf_counter()
        for i in range(steps):
            m.train_step(x, i, 10_000)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, threads {a.threads}, width {a.width}, batch {a.batch}")
    for dev in devices:
        label = torch.cuda.get_device_name(0) if dev.type == "cuda" else "CPU"
        for case, (info, _) in CASES.items():
            tw = time_steps("wgan", info, a.batch, a.width, dev, a.steps)
            ts = time_steps("slogan", info, a.batch, a.width, dev, a.steps)
            print(f"{label:22s} {case:30s} WGAN {tw * 1e3:7.2f} ms/step ({a.batch / tw:8.0f} img/s)  "
                  f"SLOGAN {ts * 1e3:7.2f} ms/step ({a.batch / ts:8.0f} img/s)  ratio {ts / tw:.2f}")


if __name__ == "__main__":
    main()
