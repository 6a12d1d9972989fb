"""The one training loop every method runs in.

A method owns its networks, optimisers and ``train_step``; this loop owns everything else: seeding,
the data sampler, step counting in images seen, EMA of the generator, periodic sample grids with
fixed noise per component, progress with images per second, MLflow logging, atomic checkpoints
(every N steps and on SIGINT/SIGTERM) with optimizer, RNG, sampler and EMA state so that a resumed
run continues exactly where it stopped, and the NaN/Inf guard that stops with the last good
checkpoint kept.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import json
import math
import random
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
from torch import nn

from .config import require, to_dict
from .errors import DivergenceError, Interrupted, UcganError
from .io import atomic_dir, atomic_path, require_structure, torch_load, torch_save, write_json
from .loop_config import LoopConfig  # noqa: F401  (re-exported: the loop's settings live beside params.yaml's checks)
from .methods.base import Method
from .stopping import StopRequest

CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------- RNG state
def rng_state() -> dict[str, Any]:
    """All RNG states as tensors/plain data (loadable with weights_only=True)."""
    _, key, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    st: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np.asarray(key, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": json.dumps(random.getstate()),
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: Mapping[str, Any]) -> None:
    torch.set_rng_state(st["torch"].cpu())
    n = st["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    py = json.loads(st["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in st["cuda"]])


# --------------------------------------------------------------------------- EMA
class EMA:
    """Exponential moving average of the parameters and buffers of some modules.

    Why the ramp-up (stylegan2-ada's ``ema_rampup``): without it, a decay of 0.999 after 1,500 steps
    still gives the random initial weights 0.999^1500 = 22 % of the average, and the averaged
    generator of a short run mixes stages of training in which components meant different things.
    With ``rampup`` the half-life is at most ``rampup`` x the updates done, so early averages forget
    the start quickly and long runs reach the configured decay.
    """

    def __init__(self, modules: Mapping[str, nn.Module], decay: float, rampup: float = 0.0) -> None:
        self.modules = dict(modules)
        self.decay = decay
        self.rampup = rampup
        self.updates = 0
        self.shadow = {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in self.modules.items()}

    def current_decay(self) -> float:
        """The decay of the next update: ``decay``, or shorter while the run is young (ramp-up)."""
        if self.rampup <= 0:
            return self.decay
        half_life = min(math.log(0.5) / math.log(self.decay), self.rampup * (self.updates + 1))
        return float(0.5 ** (1.0 / max(half_life, 1e-8)))

    @torch.no_grad()
    def update(self) -> None:
        beta = self.current_decay()
        for k, m in self.modules.items():
            for n, t in m.state_dict().items():
                s = self.shadow[k][n]
                if t.dtype.is_floating_point:
                    s.lerp_(t.detach(), 1.0 - beta)
                else:
                    s.copy_(t)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "rampup": self.rampup, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, st: Mapping[str, Any]) -> None:
        self.rampup = float(st.get("rampup", 0.0))
        self.updates = int(st.get("updates", 0))
        for k in self.shadow:
            for n in self.shadow[k]:
                self.shadow[k][n].copy_(st["shadow"][k][n])

    @contextlib.contextmanager
    def swapped(self) -> Iterator[None]:
        """Temporarily load the averages into the live modules."""
        backup = {k: {n: t.detach().clone() for n, t in m.state_dict().items()} for k, m in self.modules.items()}
        for k, m in self.modules.items():
            m.load_state_dict(self.shadow[k])
        try:
            yield
        finally:
            for k, m in self.modules.items():
                m.load_state_dict(backup[k])


@contextlib.contextmanager
def use_ema(method: Method, ema_state: Mapping[str, Any] | None) -> Iterator[None]:
    """Evaluate/sample with the EMA weights stored in a model file (no-op when there are none)."""
    if not ema_state:
        yield
        return
    ema = EMA(method.ema_modules(), float(ema_state["decay"]))
    ema.load_state_dict(ema_state)
    with ema.swapped():
        yield


# --------------------------------------------------------------------------- sample grids
@torch.no_grad()
def component_samples(method: Method, per_component: int, seed: int = 1234) -> list[torch.Tensor]:
    """Fixed-noise samples from every component (same seed every call, so grids are comparable)."""
    out = []
    was_training = {k: m.training for k, m in method.modules().items()}
    method.eval()
    try:
        for c in range(method.num_components):
            g = torch.Generator(device=method.device).manual_seed(seed + c)
            out.append(method.sample(per_component, component=c, generator=g).detach().float().cpu())
    finally:
        for k, m in method.modules().items():
            m.train(was_training[k])
    return out


def save_grid(samples: list[torch.Tensor], path: Path, modality: str, value_range: tuple[float, float] | None,
              real: np.ndarray | None = None, title: str = "", row_labels: list[str] | None = None) -> Path:
    """One labelled row per component (images, :func:`ucgan.grids.labelled_grid`: readable cell
    size, learned share per row) or one colour per component (2-D points)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    if modality == "image":
        from .grids import labelled_grid

        return labelled_grid(samples, path, value_range, row_labels, title)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if modality == "points":
        if real is not None:
            ax.scatter(real[:, 0], real[:, 1], s=1, c="lightgray", alpha=0.5, label="real")
        cmap = plt.get_cmap("tab20" if len(samples) > 10 else "tab10")
        for c, s in enumerate(samples):
            ax.scatter(s[:, 0].numpy(), s[:, 1].numpy(), s=4, color=cmap(c % cmap.N), label=f"c{c}")
        ax.set_aspect("equal")
    else:  # vectors: one heat-map row per sample, components stacked
        ax.imshow(torch.cat(samples).numpy(), aspect="auto", interpolation="nearest")
        ax.set_ylabel("samples (grouped by component)")
    ax.set_title(title)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- the loop
class TrainingInterrupted(Interrupted):
    """Raised after a signal once the checkpoint is safely written."""


class CheckpointMismatch(UcganError):
    """A checkpoint exists but was written under another configuration or data."""


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, Mapping):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 8) -> str:
    """``key: old -> new`` for every leaf that differs (what a user changed since the checkpoint)."""
    a, b = _flat(to_dict(old)), _flat(to_dict(new))
    rows = [f"{k}: {a.get(k, '(unset)')} -> {b.get(k, '(unset)')}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return "; ".join(rows[:limit]) + more


def read_checkpoint(checkpoint_path: str | Path, fingerprint: str, inputs: Mapping[str, Any] | None = None,
                    fresh: bool = False, map_location: Any = "cpu") -> dict[str, Any] | None:
    """The checkpoint to resume from, or None when there is none (or ``fresh`` discards it).

    Why not silently start over when the configuration changed: an hour of training would be thrown
    away because of an edit the user may not even remember. A mismatch raises
    :class:`CheckpointMismatch` listing what changed (when the checkpoint recorded its inputs) and
    the two ways out: ``--fresh`` or restoring the settings. Foreign or unreadable files raise
    :class:`~ucgan.errors.DataError`. Stages call this before opening their MLflow run.
    """
    p = Path(checkpoint_path)
    if not p.is_file():
        return None
    fix = "delete it to start the run afresh."
    ck = require_structure(torch_load(p, map_location=map_location), ("version", "fingerprint", "step"), p,
                           "training checkpoint", fix)
    if ck["fingerprint"] == fingerprint and ck["version"] == CHECKPOINT_VERSION:
        return require_structure(ck, ("method", "sampler", "rng"), p, "training checkpoint", fix)
    if fresh:
        print(f"--fresh: discarding {p} (step {ck['step']}), written under another configuration")
        return None
    old = ck.get("fingerprint_inputs")
    what = describe_changes(old, inputs) if isinstance(old, Mapping) and inputs is not None else ""
    raise CheckpointMismatch(
        f"checkpoint {p} (step {ck['step']}) was written under another configuration or data"
        + (f"; changed: {what}" if what else "")
        + ". Re-run with --fresh to discard it and start from step 0, or restore the previous settings to resume it.")


def config_fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(to_dict(obj), sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclasses.dataclass
class LoopHooks:
    """Ways for a caller (a stage, a Prefect task, a benchmark) to watch and stop the loop.

    Modelled on stylegan2-ada's ``progress_fn`` / ``abort_fn``: ``progress(step, total, losses)``
    runs after every step; ``should_stop(step)`` and ``max_seconds`` (wall clock of this process)
    end the run like SIGTERM does, with a checkpoint that the same command resumes, so a
    preemptible runner or a time-boxed queue needs no signal tricks.
    """

    progress: Callable[[int, int, Mapping[str, float]], None] | None = None
    should_stop: Callable[[int], bool] | None = None
    max_seconds: float = 0.0


def _stop_reason(signum: int | None, done: int, stop_after: int | None, hooks: LoopHooks, t0: float) -> str:
    if signum is not None:
        return signal.Signals(signum).name
    if stop_after is not None and done >= stop_after:
        return f"stop_after={stop_after}"
    if hooks.should_stop is not None and hooks.should_stop(done):
        return "stop requested"
    if hooks.max_seconds > 0 and time.perf_counter() - t0 >= hooks.max_seconds:
        return f"time limit of {hooks.max_seconds:.0f} s"
    return ""


@dataclasses.dataclass
class TrainResult:
    steps: int
    images_seen: int
    seconds: float
    images_per_second: float
    resumed_from: int
    final_losses: dict[str, float]


def train(
    method: Method,
    data: np.ndarray | torch.Tensor,
    cfg: LoopConfig,
    seed: int,
    out_dir: str | Path,
    checkpoint_path: str | Path,
    run: Any = None,
    fingerprint: str = "",
    fingerprint_inputs: Mapping[str, Any] | None = None,
    fresh: bool = False,
    real_for_plots: np.ndarray | None = None,
    stop_after: int | None = None,
    meta: Mapping[str, Any] | None = None,
    hooks: LoopHooks | None = None,
    finalize: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train ``method`` on ``data`` for ``cfg.steps`` steps; resumes from ``checkpoint_path`` when it
    holds a run with the same ``fingerprint`` (config + data hash; ``fingerprint_inputs`` is what it
    was computed from, kept so that a mismatch can say what changed). A checkpoint of another
    configuration stops the run (:func:`read_checkpoint`) unless ``fresh``.

    ``out_dir`` is replaced as one unit (:func:`ucgan.io.atomic_dir`): the final files are written
    to a temporary sibling, ``finalize(tmp)`` adds the caller's own files, then one rename publishes
    the folder. A failure (full disk, signal) leaves the previous complete run or nothing, never a
    new ``losses.csv`` beside an old ``model.pt``. Grids made during training wait beside the
    checkpoint until then.

    ``stop_after`` simulates an interruption after that many steps (tests); the checkpoint is then
    written exactly as on SIGTERM. ``hooks`` let a caller watch and stop the run without patching it.
    """
    hooks = hooks or LoopHooks()
    out = Path(out_dir)
    ckpt_path = Path(checkpoint_path)
    device = method.device
    x_all = torch.as_tensor(data, dtype=torch.float32).to(device)
    n = x_all.shape[0]
    bs = method.cfg.batch_size
    require(n >= 1, "data", "the training split is empty")

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)
    sampler = torch.Generator(device="cpu").manual_seed(seed + 7919)
    ema = EMA(method.ema_modules(), cfg.ema_decay, cfg.ema_rampup) if cfg.ema_decay > 0 and method.ema_modules() else None

    start = 0
    history: list[dict[str, float]] = []
    progress_grids = ckpt_path.with_name(ckpt_path.stem + ".grids")  # grids of an unfinished run
    ck = read_checkpoint(ckpt_path, fingerprint, fingerprint_inputs, fresh, map_location=device)
    if ck is not None:
        method.load_state_dict(ck["method"])
        if ema is not None and ck.get("ema"):
            ema.load_state_dict(ck["ema"])
        sampler.set_state(ck["sampler"].cpu())
        set_rng_state(ck["rng"])
        start = int(ck["step"])
        history = list(ck.get("history", []))
        print(f"resuming from {ckpt_path} at step {start}/{cfg.steps}")
    elif fresh:
        shutil.rmtree(progress_grids, ignore_errors=True)

    from . import gpu

    gpu.configure_backends(device, cfg.tf32, cfg.cudnn_benchmark)
    amp = gpu.amp_mode(method.name, device, cfg.amp)
    compiled = gpu.compile_modules(method.modules(), device, cfg.compile)
    if device.type == "cuda":
        print(f"GPU path: amp {amp}{' (requested bf16; ' + method.name + ' trains in fp32)' if cfg.amp != amp else ''}, "
              f"tf32 {cfg.tf32}, cudnn.benchmark {cfg.cudnn_benchmark}, compiled {compiled or 'none'}")

    def amp_ctx() -> Any:
        return gpu.autocast(device, amp)

    def save_checkpoint(step: int) -> None:
        torch_save(ckpt_path, {
            "version": CHECKPOINT_VERSION, "fingerprint": fingerprint, "step": step,
            "fingerprint_inputs": to_dict(fingerprint_inputs) if fingerprint_inputs is not None else None,
            "method": method.state_dict(), "ema": ema.state_dict() if ema else None,
            "sampler": sampler.get_state(), "rng": rng_state(), "history": history,
            "run_id": getattr(run, "run_id", None),  # the resumed run continues the same MLflow run
        })

    from tqdm.auto import tqdm

    method.train()
    t0 = time.perf_counter()
    last_t, last_step = t0, start
    losses_f: dict[str, float] = {}
    step = start
    import sys

    tty = sys.stderr.isatty()  # under DVC/CI/Prefect logs: a line every 30 s instead of a live bar
    with StopRequest() as stop, tqdm(total=cfg.steps, initial=start, disable=not cfg.progress,
                                      desc=f"{method.name}", unit="step", dynamic_ncols=tty,
                                      mininterval=0.5 if tty else 30.0, maxinterval=60.0 if tty else 120.0) as bar:
        for step in range(start, cfg.steps):
            idx = torch.randint(0, n, (bs,), generator=sampler)
            with amp_ctx():
                losses = method.train_step(x_all[idx.to(device)], step, cfg.steps)
            losses_f = {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in losses.items()}
            bad = [k for k, v in losses_f.items() if not math.isfinite(v)]
            if bad:
                raise DivergenceError(
                    f"{method.name}: loss {bad[0]!r} became {losses_f[bad[0]]} at step {step} "
                    f"({step * bs} images seen). Training stopped; the last good checkpoint "
                    f"{'is ' + str(ckpt_path) if ckpt_path.is_file() else 'does not exist yet'}. Lower the learning "
                    "rates or raise the gradient penalty in params.yaml, then re-run.")
            if ema is not None:
                ema.update()
            done = step + 1
            bar.update(1)
            if done % cfg.log_every == 0 or done == cfg.steps:
                now = time.perf_counter()
                ips = (done - last_step) * bs / max(now - last_t, 1e-9)
                last_t, last_step = now, done
                row = {"step": done, "images": done * bs, **losses_f, "images_per_second": ips}
                history.append(row)
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(losses_f.items())[:4]} | {"img/s": f"{ips:.0f}"})
                if run is not None:
                    run.log_metrics({**losses_f, "images_per_second": ips}, step=done)
                    mix = method.mixing()
                    if mix is not None:
                        run.log_metrics({f"mixing_{i}": float(p) for i, p in enumerate(mix)}, step=done)
            if cfg.grid_every and done % cfg.grid_every == 0 and done < cfg.steps:
                _grid(method, ema, cfg, progress_grids / f"step{done:07d}.png", real_for_plots, run, done)
            if done % cfg.ckpt_every == 0 and done < cfg.steps:
                save_checkpoint(done)
            if hooks.progress is not None:
                hooks.progress(done, cfg.steps, losses_f)
            why = _stop_reason(stop.signum, done, stop_after, hooks, t0)
            if why:
                save_checkpoint(done)
                raise TrainingInterrupted(
                    f"training of {method.name} stopped at step {done}/{cfg.steps} ({why}); checkpoint saved to "
                    f"{ckpt_path}. Re-run the same command to resume.")
    seconds = time.perf_counter() - t0
    images = (cfg.steps - start) * bs
    result = TrainResult(steps=cfg.steps, images_seen=cfg.steps * bs, seconds=round(seconds, 3),
                         images_per_second=round(images / max(seconds, 1e-9), 1), resumed_from=start,
                         final_losses=losses_f)
    with atomic_dir(out) as stage:
        if progress_grids.is_dir():
            shutil.copytree(progress_grids, stage / "grids", dirs_exist_ok=True)
        _grid(method, ema, cfg, stage / "grids" / "final.png", real_for_plots, run, cfg.steps)
        with (stage / "losses.csv").open("w", newline="") as f:
            keys = sorted({k for r in history for k in r}, key=lambda k: (k not in ("step", "images"), k))
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(history)
        torch_save(stage / "model.pt", {
            "version": CHECKPOINT_VERSION, "method": method.name, "method_state": method.state_dict(),
            "ema": ema.state_dict() if ema else None, "step": cfg.steps, "fingerprint": fingerprint,
            "meta": dict(meta or {}),
        })
        write_json(stage / "train.json", dataclasses.asdict(result))
        if finalize is not None:
            finalize(stage)
    with contextlib.suppress(FileNotFoundError):
        ckpt_path.unlink()  # the run is complete: model.pt is the artifact
    shutil.rmtree(progress_grids, ignore_errors=True)
    return result


def _grid(method: Method, ema: EMA | None, cfg: LoopConfig, path: Path, real: np.ndarray | None, run: Any, step: int) -> None:
    ctx = ema.swapped() if ema is not None else contextlib.nullcontext()
    with ctx:
        samples = component_samples(method, cfg.grid_per_component if method.info.modality != "points" else 400)
    save_grid(samples, path, method.info.modality, method.info.value_range, real, title=f"{method.name} step {step}",
              row_labels=_share_labels(method, len(samples)))
    if run is not None:
        run.log_artifact(path, artifact_path="grids")


def _share_labels(method: Method, k: int) -> list[str]:
    """Grid row labels with each component's learned share (uniform methods: no share)."""
    from .grids import share_label

    try:
        mix = method.mixing()
    except Exception:  # noqa: BLE001 - a label is never a reason to fail a training run
        mix = None
    return [share_label(c, float(mix[c]) if mix is not None and c < len(mix) else None) for c in range(k)]
