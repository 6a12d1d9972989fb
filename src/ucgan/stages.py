"""The `train` and `evaluate` pipeline stages (what dvc.yaml runs for every dataset x method x seed).

Outputs:
* ``models/<dataset>/<method>-s<seed>/``: ``model.pt`` (tensors + plain data: method state, EMA,
  resolved config, data info), ``losses.csv`` (DVC plot), ``train.json``, ``run.json`` (MLflow run
  id), ``grids/final.png`` (samples per component).
* ``metrics/<dataset>/<method>-s<seed>.json``: the metrics contract (fid, icfid, icfid_per_class,
  assignment, nmi, nmi_assignment, precision, recall, purity, mixing_true/learned/l1, mode metrics for
  2-D data, and the ``protocol`` object: extractor id, nmi_representation, icfid_n_per_class,
  components_excluded, variant; see :mod:`ucgan.metrics.suite`). ``<method>`` may be a variant id
  declared under ``methods.<method>.variants`` (``slogan+moves``).

Resumable checkpoints live outside DVC's outputs (``checkpoints/``) so that DVC's clean-up before
a re-run cannot delete them; a checkpoint is only resumed when its config+data fingerprint matches.

The ``ucgan train`` and ``ucgan evaluate`` commands (:mod:`ucgan.cli.runs`) call :func:`train_one`
and :func:`evaluate_one`; this module holds the stages' logic and no command-line wiring.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from . import layout
from .config import to_dict
from .data.dataset import load_split
from .env import resolve_device, seed_everything
from .experiment import build_method, load_trained, pipeline_resources
from .io import read_json, write_json
from .methods import DataInfo, Method, base_method
from .preflight import preflight


def provenance(inputs: dict[str, Any], fingerprint: str, data_root: str, dataset: str) -> dict[str, Any]:
    """What a reader needs to reproduce a run: the resolved config and loop, the data hash, the git
    commit of the code (and whether the tree had uncommitted changes) and the package versions."""
    import importlib.metadata as md
    import platform
    import subprocess

    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    versions: dict[str, str | None] = {}
    for pkg in ("ucgan", "torch", "torchvision", "numpy", "scipy", "scikit-learn", "mlflow", "dvc", "lightly"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"method": inputs["method"], "dataset": dataset, "seed": inputs["seed"], "config": to_dict(inputs["cfg"]),
            "loop": to_dict(inputs["loop"]), "data": {"root": str(data_root), "content_hash": inputs["data"]},
            "device": inputs["device"], "fingerprint": fingerprint, "git_commit": git("rev-parse", "HEAD"),
            "git_dirty": None if status is None else bool(status), "python": platform.python_version(),
            "packages": versions}


def train_one(params_path: str, dataset: str, method: str, seed: int, device_spec: str | None = None,
              stop_after: int | None = None, fresh: bool = False, hooks: Any = None) -> dict[str, Any]:
    from . import params as P
    from . import tracking
    from .training import config_fingerprint, read_checkpoint, train

    prm = P.load(params_path)
    tsec = prm.train
    cfg = prm.method(method, dataset)
    loop = tsec.loop(dataset, method, seed)
    device = resolve_device(device_spec or prm.device)
    split = load_split(dataset, "train", prm.data.root)
    info = DataInfo.from_manifest({**split.manifest, "dataset": dataset})
    out = layout.run_dir(tsec.out_root, dataset, method, seed)
    ckpt = layout.checkpoint_path(tsec.checkpoint_root, dataset, method, seed)
    inputs = {"method": method, "cfg": cfg, "loop": loop, "seed": seed, "data": split.manifest["content_hash"],
              "device": device.type}
    fingerprint = config_fingerprint(inputs)
    resources = {**pipeline_resources(dataset), "train_x": split.x, "train_y": split.y}  # y: only attributes=labels
    # Everything a user can get wrong is checked before the MLflow run opens and before step 0, so a
    # mistake leaves neither a FAILED run nor a half-trained model behind.
    seed_everything(seed)
    m = build_method(method, cfg, info, device, resources)
    preflight([out, ckpt], need_bytes=_run_bytes(m), tracking=prm.tracking, what=f"the run {out}")
    resume = read_checkpoint(ckpt, fingerprint, inputs, fresh)  # a mismatch stops here, before the MLflow run
    with tracking.start_run(layout.run_id(dataset, method, seed), prm.tracking,
                            tags={"dataset": dataset, "method": method, "base_method": base_method(method),
                                  "seed": seed, "stage": "train"},
                            resume_run_id=resume.get("run_id") if resume else None) as run:
        run.log_params({"method": method, "dataset": dataset, "seed": seed, "device": str(device),
                        "config": to_dict(cfg), "loop": to_dict(loop), "data_hash": split.manifest["content_hash"]})
        meta = {"method": method, "dataset": dataset, "seed": seed, "config": to_dict(cfg),
                "info": dataclasses.asdict(info), "run_id": run.run_id}

        def finalize(stage_dir: Path) -> None:  # lands in the run folder in the same rename as model.pt
            write_json(stage_dir / "run.json", {"run_id": run.run_id, "dataset": dataset, "method": method, "seed": seed})
            write_json(stage_dir / "config.json", provenance(inputs, fingerprint, prm.data.root, dataset))

        res = train(m, split.x, loop, seed, out, ckpt, run=run, fingerprint=fingerprint, fingerprint_inputs=inputs,
                    fresh=fresh, real_for_plots=split.x[:5000] if info.modality == "points" else None,
                    stop_after=stop_after, meta=meta, finalize=finalize, hooks=hooks)
        run.log_metrics({"train_seconds": res.seconds, "train_images_per_second": res.images_per_second})
        run.log_artifact(out / "losses.csv")
    return {**dataclasses.asdict(res), "out": str(out)}


def _run_bytes(m: Method) -> int:
    """Disk a run needs: weights, two Adam moments and the EMA, once in the checkpoint and once in
    ``model.pt`` (both exist for a moment), plus the grids and logs."""
    weights: int = sum(t.numel() * t.element_size() for mod in m.modules().values() for t in mod.state_dict().values())
    return 2 * 4 * weights + 16 * 2**20


def evaluate_one(params_path: str, dataset: str, method: str, seed: int, device_spec: str | None = None) -> dict[str, Any]:
    from . import params as P
    from . import tracking
    from .metrics.cache import StatsCache
    from .metrics.suite import evaluate_method
    from .stages_params import variant_note
    from .training import use_ema

    prm = P.load(params_path)
    tsec, esec = prm.train, prm.evaluate
    profile = prm.eval_profile(dataset)
    device = resolve_device(device_spec or prm.device)
    model_dir = layout.run_dir(tsec.out_root, dataset, method, seed)
    preflight([layout.metrics_path(esec.out_root, dataset, method, seed), Path(esec.cache_dir) / "x"],
              tracking=prm.tracking, what="the metrics and the feature-statistics cache")
    m, ema_state, meta = load_trained(model_dir, device)
    train_split = load_split(dataset, "train", prm.data.root)
    test_split = load_split(dataset, "test", prm.data.root)
    encoder: Any = None
    consumed_ids: tuple[str, ...] = ()
    res_paths = pipeline_resources(dataset)
    if profile.extractor in ("encoder", "eval-encoder"):
        from .metrics.protocol import eval_encoder_resources

        encoder, consumed_ids = eval_encoder_resources(m, method, dataset, profile.extractor, res_paths, device)
    t0 = time.perf_counter()
    seed_everything(seed)
    with use_ema(m, ema_state):
        result = evaluate_method(m, train_split, test_split, profile, StatsCache(esec.cache_dir), device,
                                 encoder=encoder, dataset=dataset, variant=method, consumed_ids=consumed_ids)
    out = layout.metrics_path(esec.out_root, dataset, method, seed)
    result = {"dataset": dataset, "method": method, "base_method": base_method(method),
              "variant_note": variant_note(prm.raw, method), "seed": seed,
              "model": str(model_dir / "model.pt"),
              "ema": ema_state is not None, "supervised": bool(getattr(m, "supervised", False)), **result, "eval_seconds": round(time.perf_counter() - t0, 2)}
    write_json(out, result)
    run_id = (read_json(model_dir / "run.json") if (model_dir / "run.json").is_file() else {}).get("run_id")
    if prm.tracking.enabled and run_id:
        import mlflow

        with tracking.log_into_run(run_id, prm.tracking, layout.run_id(dataset, method, seed),
                                   tags={"dataset": dataset, "method": method, "base_method": base_method(method),
                                         "seed": seed}) as run:
            scalars = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            run.log_metrics(scalars)
            mlflow.log_artifact(str(out), artifact_path="metrics")
            from .registry import register_generator

            register_generator(model_dir, result, prm.tracking)  # version of ucgan-<dataset>, tagged with metrics
    return {**result, "out": str(out)}
