"""SimCLR pretraining of the encoder (InfoSCC-GAN stage 1) with lightly's NT-Xent loss and head.

Outputs (all written together at the end, so an interrupted run never leaves a half set):

* ``encoder.pt`` — tensors and plain data only: backbone name/width, data shape/range, resolved
  config, normaliser, backbone and projection-head state dicts (``load_encoder`` rebuilds it).
* ``embeddings.npz`` — ``{train,test}_h`` backbone features, ``{train,test}_z`` projection outputs
  (absent for untrained backbones, which have no head), ``{train,test}_y`` ground truth (evaluation only).
* ``metrics.json`` — loss summary, training time, quick linear-probe accuracy.
* ``loss.csv`` — ``step,loss`` (DVC plot).

A resumable training state is written every ``checkpoint_every`` epochs to ``ckpt_path``
(default ``checkpoints/encoders/<dataset>.pt``, *outside* the output folder: DVC deletes a stage's
outputs before it runs and gives up its run cache for ``persist`` outputs, so the resume state must
live elsewhere). It is reused only when the config and data are identical and removed when the run
completes.
"""
from __future__ import annotations

import dataclasses
import io
import math
import time
from pathlib import Path
from typing import Any, Callable, Literal, NoReturn

import numpy as np
import torch
from torch import nn

from .. import layout
from ..config import to_dict
from ..data.dataset import PREPARED_ROOT, Split, content_hash, load_split
from ..errors import DataError, DivergenceError, Interrupted
from ..io import atomic_dir, save_npz, torch_load, torch_save, write_json, write_text
from ..stopping import StopRequest
from ..tracking import TrackingConfig, start_run
from .augment import BatchedImageViews, LightlyImageViews, Normalizer, VectorViews
from .backbones import UNTRAINED, build_backbone, resolve_backbone
from .config import PretrainConfig, resolve_augment

FORMAT = 1
#: Config fields that do not change the trained weights (a checkpoint stays valid if they change).
_RUNTIME_ONLY = ("checkpoint_every", "max_minutes", "threads", "probe")


class Encoder(nn.Module):
    """Data-range tensors ``(N, *shape)`` -> backbone features ``(N, F)`` (or projections).

    Normalisation is inside, identical to training, so callers (metrics' ``encoder`` extractor,
    InfoSCC-GAN, LSC-GAN) feed samples exactly as stored in the prepared data / produced by a generator.
    """

    def __init__(self, normalizer: Normalizer, backbone: nn.Module, head: nn.Module | None,
                 meta: dict[str, Any], output: Literal["backbone", "projection"] = "backbone") -> None:
        super().__init__()
        self.normalizer = normalizer
        self.backbone = backbone
        self.head = head
        self.meta = meta
        self.output = output

    @property
    def feature_dim(self) -> int:
        if self.output == "projection":
            return int(self.meta["proj_dim"])
        return int(self.meta["feature_dim"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalizer(x))

    def project(self, h: torch.Tensor) -> torch.Tensor:
        if self.head is None:
            raise DataError(f"backbone {self.meta.get('backbone')!r} was not trained and has no projection head; "
                            "use the backbone output (cluster.representation: backbone)")
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.project(h) if self.output == "projection" else h


def _make_head(feature_dim: int, hidden: int, out: int) -> nn.Module:
    from lightly.models.modules import SimCLRProjectionHead

    return SimCLRProjectionHead(input_dim=feature_dim, hidden_dim=hidden, output_dim=out)


def load_encoder(path: str | Path, device: str | torch.device = "cpu",
                 output: Literal["backbone", "projection"] = "backbone") -> Encoder:
    """Rebuild the encoder saved by ``pretrain`` (``encoder.pt``, loaded with ``weights_only=True``).

    Returns an :class:`Encoder` in eval mode with frozen parameters (gradients still flow to the
    input, which InfoSCC-GAN's classification regulariser needs). ``output="projection"`` returns
    the SimCLR head's output instead of the backbone features.
    """
    obj = torch_load(path)
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"{path} is not a ucgan encoder (format {FORMAT}); re-run `ucgan pretrain`.")
    meta = dict(obj["meta"])
    shape = meta["shape"]
    backbone = build_backbone(meta["backbone"], shape, int(meta["width"]))
    backbone.load_state_dict(obj["backbone"])
    norm_state = obj["normalizer"]
    normalizer = Normalizer(norm_state["lo"], norm_state["span"], norm_state["mean"], norm_state["std"])
    head = None
    if obj.get("head"):
        head = _make_head(int(meta["feature_dim"]), int(meta["proj_hidden_dim"]), int(meta["proj_dim"]))
        head.load_state_dict(obj["head"])
    if output == "projection" and head is None:
        raise DataError(f"{path}: backbone {meta['backbone']!r} has no projection head; use output='backbone'")
    enc = Encoder(normalizer, backbone, head, meta, output)
    enc.requires_grad_(False)
    return enc.to(device).eval()


# --------------------------------------------------------------------------------------------- training


@dataclasses.dataclass
class _State:
    epoch: int = 0
    step: int = 0
    losses: list[float] = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0
    cpu_seconds: float = 0.0
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    resumed_from_epoch: int = 0
    # inside an epoch (a stop between two steps): the epoch's order, the next step, its losses so far
    perm: torch.Tensor | None = None
    epoch_step: int = 0
    epoch_losses: list[float] = dataclasses.field(default_factory=list)


class PretrainInterrupted(Interrupted):
    """SIGINT/SIGTERM (or ``stop_after``) stopped pretraining after a step; the checkpoint resumes it exactly."""


def _lr_at(step: int, total: int, warmup: int, base: float, time_frac: float = 0.0) -> float:
    """Linear warm-up then cosine decay to zero (the usual SimCLR schedule).

    ``time_frac`` (elapsed / ``max_minutes``) advances the decay when the time cap, not the epoch
    count, will end the run: the schedule follows whichever is further along, so a capped run still
    anneals to a small learning rate instead of stopping at a high one mid-schedule.
    """
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    t = max((step - warmup) / max(1, total - warmup), time_frac)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


@torch.no_grad()
def embed(enc: Encoder, x: np.ndarray, device: torch.device, batch: int = 1024) -> tuple[np.ndarray, np.ndarray | None]:
    """Backbone features and (if a head exists) projections of data-range samples ``x``."""
    enc.eval()
    hs, zs = [], []
    for i in range(0, len(x), batch):
        xb = torch.as_tensor(x[i:i + batch], dtype=torch.float32, device=device)
        h = enc.features(xb)
        hs.append(h.cpu().numpy())
        if enc.head is not None:
            zs.append(enc.head(h).cpu().numpy())
    h_all = np.concatenate(hs).astype(np.float32)
    z_all = np.concatenate(zs).astype(np.float32) if zs else None
    return h_all, z_all


def _data_hash(train: Split, test: Split) -> str:
    return str(train.manifest.get("content_hash") or content_hash(train.x, train.y, test.x, test.y))


def _fingerprint(cfg: PretrainConfig, data_hash: str) -> dict[str, Any]:
    d = to_dict(cfg)
    for k in _RUNTIME_ONLY:
        d.pop(k, None)
    return {"config": d, "data": data_hash}


def _views_fn(cfg: PretrainConfig, train: Split, normalizer: Normalizer, device: torch.device
              ) -> tuple[Callable[[torch.Tensor, torch.Generator], torch.Tensor], int]:
    """A function batch-indices -> one augmented, normalised view, and the number of samples."""
    aug = cfg.augment
    if train.modality == "image":
        x_unit_np = normalizer.to_unit(torch.as_tensor(train.x)).numpy()
        if aug.backend == "lightly":
            lv = LightlyImageViews(aug, x_unit_np, normalizer)
            return (lambda idx, g: lv(idx, g).to(device)), len(train.x)
        x_unit = torch.as_tensor(x_unit_np, device=device)
        bv = BatchedImageViews(aug, int(train.x.shape[1]), normalizer.to(device))
        return (lambda idx, g: bv(x_unit[idx.to(device)], g)), len(train.x)
    x_std = normalizer.to(device)(torch.as_tensor(train.x, device=device))
    vv = VectorViews(aug)
    return (lambda idx, g: vv(x_std[idx.to(device)], g)), len(train.x)


def pretrain(
    dataset: str, cfg: PretrainConfig, prepared_root: str | Path = PREPARED_ROOT,
    out_dir: str | Path | None = None, device: torch.device | str = "cpu",
    tracking_cfg: TrackingConfig | None = None, progress: bool = True, ckpt_path: str | Path | None = None,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train (or, for ``alexnet_random``, just initialise) the encoder of ``dataset``; returns metrics.

    Resumes from ``ckpt_path`` (default ``checkpoints/encoders/<dataset>.pt``) when it was written
    with the same config and data. SIGINT/SIGTERM stop after the current step with a checkpoint
    (:class:`PretrainInterrupted`): a scheduler's stop loses at most one step, and the resumed run
    ends with the weights an uninterrupted one would have. ``stop_after`` simulates that stop after
    so many steps (tests).
    """
    device = torch.device(device)
    out = Path(out_dir) if out_dir is not None else layout.encoder_dir(dataset)
    ckpt = Path(ckpt_path) if ckpt_path is not None else layout.encoder_checkpoint(dataset)
    train = load_split(dataset, "train", prepared_root)
    test = load_split(dataset, "test", prepared_root)
    modality = train.modality
    shape = [int(s) for s in train.manifest["shape"]]
    if modality not in ("image", "vector", "points"):
        raise DataError(f"{dataset}: manifest modality {modality!r} is not one of image, vector, points")
    if len(train.x) < 2:
        raise DataError(f"{dataset}: the train split has {len(train.x)} samples; SimCLR needs at least 2")
    name = resolve_backbone(cfg.backbone, modality, shape)
    channels = shape[0] if modality == "image" else 0
    cfg = dataclasses.replace(cfg, backbone=name, augment=resolve_augment(cfg.augment, modality, channels))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    data_hash = _data_hash(train, test)
    fingerprint = _fingerprint(cfg, data_hash)

    torch.manual_seed(cfg.seed)
    normalizer = Normalizer.fit(train.x, modality, train.value_range)
    backbone = build_backbone(name, shape, cfg.width)
    feature_dim = int(backbone.feature_dim)  # type: ignore[arg-type]
    trainable = name not in UNTRAINED
    head = _make_head(feature_dim, cfg.proj_hidden_dim, cfg.proj_dim) if trainable else None
    enc = Encoder(normalizer, backbone, head, {}).to(device)
    meta = {
        "backbone": name, "width": int(cfg.width or 0) or _default_width(name), "shape": shape,
        "modality": modality, "value_range": list(train.value_range) if train.value_range else None,
        "feature_dim": feature_dim, "proj_dim": cfg.proj_dim if head is not None else 0,
        "proj_hidden_dim": cfg.proj_hidden_dim, "dataset": dataset,
        "num_classes": train.num_classes, "class_names": [str(c) for c in train.manifest["class_names"]],
        "data_hash": data_hash,
    }
    enc.meta = meta

    tracking_cfg = tracking_cfg or TrackingConfig()
    with start_run(f"pretrain-{dataset}", tracking_cfg, tags={"stage": "pretrain", "dataset": dataset}) as run:
        run.log_params({"dataset": dataset, **to_dict(cfg), "feature_dim": feature_dim})
        state = _State()
        if trainable and cfg.epochs > 0:
            state = _train(enc, cfg, train, normalizer, device, ckpt, fingerprint, run, progress, stop_after)
        enc.eval()
        h_tr, z_tr = embed(enc, train.x, device)
        h_te, z_te = embed(enc, test.x, device)
        probe = float("nan")
        if cfg.probe:
            from ..clustering.probe import linear_probe_accuracy

            probe = linear_probe_accuracy(h_tr, train.y, h_te, test.y)
        losses = state.losses
        spe = max(1, _steps_per_epoch(len(train.x), cfg.batch_size))
        first = float(np.mean(losses[:spe])) if losses else float("nan")
        last = float(np.mean(losses[-spe:])) if losses else float("nan")
        metrics: dict[str, Any] = {
            "dataset": dataset, "backbone": name, "feature_dim": feature_dim,
            "proj_dim": meta["proj_dim"], "n_train": int(len(train.x)), "n_test": int(len(test.x)),
            "epochs_done": state.epoch, "epochs_planned": cfg.epochs if trainable else 0, "steps": state.step,
            "stopped_early": bool(trainable and state.epoch < cfg.epochs),
            "resumed_from_epoch": state.resumed_from_epoch,
            "train_seconds": round(state.train_seconds, 2),
            # wall time of the fastest / median epoch (this session): on shared machines the minimum
            # is the best estimate of the uncontended speed; cpu_seconds is process CPU time
            "epoch_seconds_min": round(min(state.epoch_seconds), 3) if state.epoch_seconds else float("nan"),
            "epoch_seconds_median": round(float(np.median(state.epoch_seconds)), 3) if state.epoch_seconds else float("nan"),
            "cpu_seconds": round(state.cpu_seconds, 2), "threads": torch.get_num_threads(),
            "loss_first_epoch": first, "loss_last_epoch": last,
            "loss_min": float(np.min(losses)) if losses else float("nan"),
            "probe_acc": probe, "device": device.type,
        }
        encoder_obj = {
            "format": FORMAT, "meta": meta, "config": to_dict(cfg),
            "normalizer": {k: v.detach().cpu() for k, v in normalizer.state_dict().items()},
            "backbone": {k: v.detach().cpu() for k, v in backbone.state_dict().items()},
            "head": {k: v.detach().cpu() for k, v in head.state_dict().items()} if head is not None else {},
        }
        arrays = {"train_h": h_tr, "test_h": h_te, "train_y": train.y, "test_y": test.y}
        if z_tr is not None and z_te is not None:
            arrays.update(train_z=z_tr, test_z=z_te)
        csv = io.StringIO()
        csv.write("step,loss\n")
        for i, v in enumerate(losses):
            csv.write(f"{i},{v:.6f}\n")
        with atomic_dir(out) as tmp:
            torch_save(tmp / "encoder.pt", encoder_obj)
            save_npz(tmp / "embeddings.npz", **arrays)
            write_json(tmp / "metrics.json", metrics)
            write_text(tmp / "loss.csv", csv.getvalue())
        ckpt.unlink(missing_ok=True)  # the finished outputs supersede the resume state
        run.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
        for f in ("metrics.json", "loss.csv", "encoder.pt"):
            run.log_artifact(out / f, artifact_path="pretrain")
    return metrics


def _default_width(name: str) -> int:
    from .backbones import DEFAULT_WIDTH

    return DEFAULT_WIDTH[name]


def _steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches only (BN and NT-Xent behave badly on a tiny last batch); at least one step."""
    return max(1, n // min(batch_size, n))


def _train(enc: Encoder, cfg: PretrainConfig, train: Split, normalizer: Normalizer, device: torch.device,
           ckpt_path: Path, fingerprint: dict[str, Any], run: Any, progress: bool,
           stop_after: int | None = None) -> _State:
    from lightly.loss import NTXentLoss
    from tqdm.auto import tqdm

    assert enc.head is not None
    params = list(enc.backbone.parameters()) + list(enc.head.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    criterion = NTXentLoss(temperature=cfg.temperature)
    g = torch.Generator().manual_seed(cfg.seed)
    views, n = _views_fn(cfg, train, normalizer, device)
    bs = min(cfg.batch_size, n)
    spe = _steps_per_epoch(n, cfg.batch_size)
    total = spe * cfg.epochs
    warmup = spe * cfg.warmup_epochs
    state = _State()
    if ckpt_path.is_file():
        state = _try_resume(ckpt_path, fingerprint, enc, opt, g)

    enc.train()
    t_start, c_start = time.perf_counter(), time.process_time()
    base_seconds, base_cpu = state.train_seconds, state.cpu_seconds
    bar = tqdm(range(state.epoch, cfg.epochs), desc=f"pretrain {fingerprint['config']['backbone']}",
               initial=state.epoch, total=cfg.epochs, disable=not progress, mininterval=1.0)
    with StopRequest() as stop:
        for epoch in bar:
            t_epoch = time.perf_counter()
            if state.perm is not None:  # resumed inside this epoch: same order, from the next step
                perm, first, epoch_losses = state.perm, state.epoch_step, list(state.epoch_losses)
                state.perm, state.epoch_step, state.epoch_losses = None, 0, []
            else:
                perm, first, epoch_losses = torch.randperm(n, generator=g), 0, []
            for i in range(first, spe):
                idx = perm[i * bs:(i + 1) * bs]
                time_frac = 0.0
                if cfg.max_minutes > 0:
                    time_frac = (base_seconds + time.perf_counter() - t_start) / (cfg.max_minutes * 60)
                for group in opt.param_groups:
                    group["lr"] = _lr_at(state.step, total, warmup, cfg.lr, time_frac)
                v0, v1 = views(idx, g), views(idx, g)
                z0 = enc.head(enc.backbone(v0))
                z1 = enc.head(enc.backbone(v1))
                loss = criterion(z0, z1)
                if not torch.isfinite(loss):
                    raise DivergenceError(
                        f"SimCLR loss became {loss.item()} at step {state.step}; lower pretrain.lr "
                        f"(now {cfg.lr}) or raise pretrain.temperature (now {cfg.temperature})."
                    )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                epoch_losses.append(float(loss.item()))
                state.step += 1
                if (stop.signum is not None or state.step == stop_after) and i + 1 < spe:
                    state.train_seconds = base_seconds + time.perf_counter() - t_start
                    state.cpu_seconds = base_cpu + time.process_time() - c_start
                    state.perm, state.epoch_step, state.epoch_losses = perm, i + 1, epoch_losses
                    _save_ckpt(ckpt_path, fingerprint, enc, opt, g, state)
                    _interrupted(stop, stop_after, state, cfg, spe, ckpt_path)
            state.losses.extend(epoch_losses)
            state.epoch = epoch + 1
            state.train_seconds = base_seconds + time.perf_counter() - t_start
            state.cpu_seconds = base_cpu + time.process_time() - c_start
            state.epoch_seconds.append(time.perf_counter() - t_epoch)
            first_step = state.step - len(epoch_losses)
            for j, v in enumerate(epoch_losses):
                run.log_metrics({"loss": v}, step=first_step + j)
            run.log_metrics({"epoch_loss": float(np.mean(epoch_losses)), "lr": opt.param_groups[0]["lr"]}, step=state.step)
            bar.set_postfix(loss=f"{np.mean(epoch_losses):.3f}", img_s=f"{state.step * bs * 2 / max(1e-9, state.train_seconds):.0f}")
            done = state.epoch >= cfg.epochs
            out_of_time = cfg.max_minutes > 0 and state.train_seconds >= cfg.max_minutes * 60
            if not done and cfg.checkpoint_every and (state.epoch % cfg.checkpoint_every == 0 or out_of_time):
                _save_ckpt(ckpt_path, fingerprint, enc, opt, g, state)
            if out_of_time and not done:
                bar.write(f"pretrain: stopping after {state.epoch}/{cfg.epochs} epochs (max_minutes={cfg.max_minutes})")
                break
            if not done and (stop.signum is not None or state.step == stop_after):
                _save_ckpt(ckpt_path, fingerprint, enc, opt, g, state)
                _interrupted(stop, stop_after, state, cfg, spe, ckpt_path)
    bar.close()
    return state


def _interrupted(stop: StopRequest, stop_after: int | None, state: _State, cfg: PretrainConfig, spe: int,
                 ckpt_path: Path) -> NoReturn:
    why = stop.name or f"stop_after={stop_after}"
    raise PretrainInterrupted(
        f"pretraining stopped at step {state.step}/{spe * cfg.epochs} ({why}); checkpoint saved to {ckpt_path}. "
        "Re-run the same command to resume.")


def _save_ckpt(path: Path, fingerprint: dict[str, Any], enc: Encoder, opt: torch.optim.Optimizer,
               g: torch.Generator, state: _State) -> None:
    assert enc.head is not None
    torch_save(path, {
        "format": FORMAT, "fingerprint": fingerprint, "epoch": state.epoch, "step": state.step,
        "losses": torch.tensor(state.losses, dtype=torch.float64), "train_seconds": state.train_seconds,
        "cpu_seconds": state.cpu_seconds,
        "backbone": enc.backbone.state_dict(), "head": enc.head.state_dict(), "opt": opt.state_dict(),
        "rng": g.get_state(), "torch_rng": torch.get_rng_state(),
        # a stop inside an epoch: that epoch's order and progress (empty between epochs)
        "epoch_perm": state.perm if state.perm is not None else torch.empty(0, dtype=torch.long),
        "epoch_step": state.epoch_step, "epoch_losses": torch.tensor(state.epoch_losses, dtype=torch.float64),
    })


def _try_resume(path: Path, fingerprint: dict[str, Any], enc: Encoder, opt: torch.optim.Optimizer,
                g: torch.Generator) -> _State:
    """Load the resume checkpoint if it matches this config and data; otherwise start over (and say why)."""
    from tqdm.auto import tqdm

    try:
        obj = torch_load(path)
    except DataError as exc:
        tqdm.write(f"pretrain: ignoring unreadable checkpoint ({exc})")
        return _State()
    if not isinstance(obj, dict) or obj.get("format") != FORMAT or obj.get("fingerprint") != fingerprint:
        tqdm.write(f"pretrain: {path} was written with another config or data; starting from scratch")
        return _State()
    assert enc.head is not None
    enc.backbone.load_state_dict(obj["backbone"])
    enc.head.load_state_dict(obj["head"])
    opt.load_state_dict(obj["opt"])
    g.set_state(obj["rng"])
    torch.set_rng_state(obj["torch_rng"])
    epoch = int(obj["epoch"])
    perm = obj.get("epoch_perm")
    inside = perm is not None and perm.numel() > 0
    tqdm.write(f"pretrain: resuming from {path} at epoch {epoch}"
               + (f", step {int(obj['epoch_step'])} of the epoch" if inside else ""))
    return _State(epoch=epoch, step=int(obj["step"]), losses=[float(v) for v in obj["losses"].tolist()],
                  train_seconds=float(obj["train_seconds"]), cpu_seconds=float(obj.get("cpu_seconds", 0.0)),
                  resumed_from_epoch=epoch, perm=perm if inside else None,
                  epoch_step=int(obj.get("epoch_step", 0)) if inside else 0,
                  epoch_losses=[float(v) for v in obj["epoch_losses"].tolist()] if inside else [])
