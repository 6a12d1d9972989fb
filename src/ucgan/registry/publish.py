"""Logging a run's ``model.pt`` as an MLflow model and registering it as a version of ``ucgan-<dataset>``.

Why apart: this is the one place that writes versions (the evaluate stage calls it for every run, the
report stage for a champion evaluated while tracking was off, ``ucgan registry register`` by hand),
and the one that decides what a version holds: the models-from-code entry point
:mod:`ucgan.registry_model_code`, ``model.pt`` and the pipeline resources a method needs, pinned
requirements and an explicit signature; never a pickle.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .. import layout
from ..errors import DataError, TrackingError
from ..tracking import TrackingConfig
from .store import client, connect, ensure_registered_model, find_version
from .tags import ARTIFACT_NAME, METRIC_TAGS, RESOURCE_KEYS, file_sha256, model_name, version_tags

#: The module MLflow runs as the version's ``python_model`` (models from code, see the package docstring).
CODE_MODULE = "ucgan.registry_model_code"


def _module_file(module: str) -> Path:
    """The source file of ``module``, found without importing it (the entry point imports mlflow)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ImportError(f"{module} is not part of the installed ucgan package")
    return Path(spec.origin)


#: The models-from-code entry point logged as ``python_model``.
CODE_PATH = _module_file(CODE_MODULE)
#: Packages a serving environment needs; pinned to what produced the version. Explicit because
#: MLflow's inference takes ~13 s per model and drags in unrelated packages.
REQUIREMENT_PACKAGES = ("ucgan", "mlflow", "torch", "numpy", "pandas")


def pip_requirements() -> list[str]:
    """``pkg==version`` for :data:`REQUIREMENT_PACKAGES` as installed now."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in REQUIREMENT_PACKAGES:
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            out.append(pkg)
    return out


@contextlib.contextmanager
def _logging_run(run_id: str | None, run_name: str, tags: Mapping[str, str]) -> Iterator[None]:
    """Log the model into the training run (so the UI links version <-> run), or into the active
    run, or, when the training run lives in another store, into a new run that says so."""
    import mlflow

    from ..tracking import run_exists

    if mlflow.active_run() is not None:
        yield
        return
    if run_id and run_exists(run_id):
        with mlflow.start_run(run_id=run_id):
            yield
    else:
        with mlflow.start_run(run_name=f"{run_name}-register", tags={**tags, "stage": "register"}):
            yield


def _signature(shape: Sequence[int]) -> Any:
    import numpy as np
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    inputs = Schema([ColSpec("long", "n"), ColSpec("long", "component", required=False),
                     ColSpec("long", "seed", required=False)])
    outputs = Schema([TensorSpec(np.dtype(np.float32), (-1, *[int(s) for s in shape]))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def _model_shape(model_pt: Path) -> tuple[int, ...]:
    from ..io import torch_load

    ck = torch_load(model_pt)
    return tuple(int(s) for s in ck["meta"]["info"]["shape"])


def registered_version(model_dir: str | os.PathLike[str], dataset: str,
                       tracking_cfg: TrackingConfig | None = None) -> str | None:
    """The registry version of ``model_dir/model.pt`` (matched by its sha256), or ``None`` when it
    has none (or tracking is off, or the file is missing)."""
    cfg = tracking_cfg or TrackingConfig()
    model_pt = Path(model_dir) / "model.pt"
    if not cfg.enabled or not model_pt.is_file():
        return None
    connect(cfg, create=True)
    found = find_version(client(), model_name(dataset), file_sha256(model_pt))  # none: an empty search
    return None if found is None else str(found.version)


def register_generator(
    model_dir: str | os.PathLike[str],
    metrics: Mapping[str, Any],
    tracking_cfg: TrackingConfig | None = None,
) -> str | None:
    """Log ``model_dir/model.pt`` as an MLflow model and register it as a version of
    ``ucgan-<metrics['dataset']>`` tagged with its metrics; returns the version (``None`` when
    tracking is disabled in params.yaml).

    ``metrics`` is the evaluate stage's result (the ``metrics/<dataset>/<method>-s<seed>.json``
    content). Safe to call twice for the same ``model.pt``: the existing version is returned with
    refreshed metric tags. Called inside an active MLflow run, the model is logged into that run.
    """
    cfg = tracking_cfg or TrackingConfig()
    if not cfg.enabled:
        return None
    from ..io import read_json, write_json

    model_dir = Path(model_dir)
    model_pt = model_dir / "model.pt"
    if not model_pt.is_file():
        raise DataError(f"{model_pt} does not exist; run `dvc repro train@{metrics.get('dataset')}-"
                        f"{metrics.get('method')}-{metrics.get('seed')}` first")
    missing = [k for k in ("dataset", "method", "seed") if k not in metrics]
    if missing:
        raise DataError(f"metrics for {model_dir} lack {missing}; pass the evaluate stage's result dict")
    dataset, method, seed = str(metrics["dataset"]), str(metrics["method"]), int(metrics["seed"])
    name = model_name(dataset)
    run_info = read_json(model_dir / "run.json") if (model_dir / "run.json").is_file() else {}
    run_id = run_info.get("run_id")
    sha = file_sha256(model_pt)
    tags = version_tags(metrics, sha, run_id)

    connect(cfg, create=True)
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        ensure_registered_model(mlflow_client, name, dataset)
        existing = find_version(mlflow_client, name, sha)
        if existing is not None:
            for k in (*METRIC_TAGS, "extractor"):
                if existing.tags.get(k) != tags[k]:
                    mlflow_client.set_model_version_tag(name, existing.version, k, tags[k])
            return str(existing.version)

        from ..experiment import pipeline_resources
        from ..methods import base_method, get_method

        with tempfile.TemporaryDirectory(prefix="ucgan-register-") as tmp:
            mpath = Path(tmp) / "metrics.json"
            write_json(mpath, dict(metrics))
            artifacts = {"model": str(model_pt), "metrics": str(mpath)}
            grid = model_dir / "grids" / "final.png"
            if grid.is_file():
                artifacts["grid"] = str(grid)
            if get_method(base_method(method)).needs_encoder:
                for key, p in pipeline_resources(dataset).items():
                    if key in RESOURCE_KEYS and Path(p).is_file():
                        artifacts[key] = str(p)
            shape = _model_shape(model_pt)
            with _logging_run(run_id, layout.run_id(dataset, method, seed), tags), warnings.catch_warnings():
                # No input_example on purpose (it would load and run the model while logging); the
                # explicit signature documents the input instead, so MLflow's hint is noise here.
                warnings.simplefilter("ignore", UserWarning)
                info = mlflow.pyfunc.log_model(
                    name=ARTIFACT_NAME,
                    python_model=str(CODE_PATH),
                    artifacts=artifacts,
                    signature=_signature(shape),
                    pip_requirements=pip_requirements(),
                    metadata={"ucgan": {"dataset": dataset, "method": method, "seed": seed,
                                        "model_sha256": sha, "loader": "ucgan.registry.load_generator"}},
                )
        mv = mlflow.register_model(info.model_uri, name, tags=tags)
        return str(mv.version)
    except MlflowException as exc:
        raise TrackingError(f"cannot register {model_dir} as a version of {name} at {mlflow.get_tracking_uri()}: {exc}") from exc
