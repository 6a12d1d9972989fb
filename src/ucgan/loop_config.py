"""The training loop's settings (``train:`` in params.yaml): a dataclass and its checks, nothing else.

Why a module of its own (:mod:`ucgan.training` re-exports it): checking params.yaml's ``train``
section imports this, not the training loop, so a stage that only checks the file (``prepare``,
``pretrain``, ``cluster``) does not depend on ``training.py`` in dvc.yaml and is not rerun when the loop
changes (``infra/stage_deps.py``).
"""
from __future__ import annotations

import dataclasses

from .config import require


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """``train:`` loop settings (the matrix keys datasets/methods/seeds live beside them)."""

    steps: int = 2000                 # optimisation steps (each = one method.train_step)
    log_every: int = 50               # losses to MLflow / losses.csv every N steps
    grid_every: int = 0               # sample grids every N steps (0 = only at the end)
    ckpt_every: int = 500             # resumable checkpoint every N steps
    ema_decay: float = 0.0            # EMA of the generator (0 = off); sampling/eval use the EMA
    ema_rampup: float = 0.05          # EMA half-life at most this fraction of the steps done (0 = off)
    grid_per_component: int = 8       # samples per component row in the grids
    progress: bool = True             # tqdm progress bar
    # GPU path (ucgan.gpu; CUDA only, nothing changes on a CPU): bf16 autocast, TF32, compile, cuDNN autotune
    amp: str = "off"                  # off | bf16
    tf32: bool = True
    compile: bool = False
    cudnn_benchmark: bool = True

    def validate(self, where: str) -> None:
        require(self.steps > 0, f"{where}.steps", "must be positive")
        require(self.log_every > 0, f"{where}.log_every", "must be positive")
        require(self.grid_every >= 0, f"{where}.grid_every", "must be >= 0")
        require(self.ckpt_every > 0, f"{where}.ckpt_every", "must be positive")
        require(0.0 <= self.ema_decay < 1.0, f"{where}.ema_decay", "must be in [0, 1)")
        require(0.0 <= self.ema_rampup <= 1.0, f"{where}.ema_rampup", "must be in [0, 1] (0 = off)")
        require(self.grid_per_component > 0, f"{where}.grid_per_component", "must be positive")
        require(self.amp in ("off", "bf16"), f"{where}.amp", "must be off or bf16")
