"""Loading a registered (or local) generator and drawing samples from it: what ``ucgan sample`` does.

Why apart: this is the read side of a version, and the reason versions hold no pickle: nothing from
the store is executed; the artifacts are downloaded and ``model.pt`` is read with
``weights_only=True`` by the installed ucgan package. The served pyfunc (:mod:`.pyfunc`) samples
through the same functions.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Mapping

from ..errors import DataError, TrackingError, UcganError
from ..tracking import TrackingConfig
from .store import connect
from .tags import RESOURCE_KEYS


def load_model_file(model_pt: Path, device: Any, resources: Mapping[str, str] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(method, ema_state, meta) from a ``model.pt``; ``resources`` replaces the repository paths of
    the pretrain/cluster outputs for methods that need them (a downloaded version carries its own)."""
    from ..experiment import load_trained

    return load_trained(model_pt, device, dict(resources) if resources else None)


def _artifacts_from_mlmodel(model_dir: Path) -> dict[str, Path]:
    """Artifact name -> local file, read from the MLmodel file with a *safe* YAML loader."""
    import yaml

    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise DataError(f"{model_dir} is not an MLflow model (no MLmodel file)")
    spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
    arts = ((spec.get("flavors") or {}).get("python_function") or {}).get("artifacts") or {}
    out = {k: model_dir / v["path"] for k, v in arts.items() if isinstance(v, Mapping) and "path" in v}
    if "model" not in out:
        raise DataError(f"{model_dir} was not registered by ucgan (no 'model' artifact in MLmodel)")
    return out


def load_generator(model_ref: str, device: Any, tracking_cfg: TrackingConfig | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """Load a generator from the registry (``models:/ucgan-D@champion``, ``models:/ucgan-D/3``,
    ``runs:/<id>/generator``), a downloaded MLflow model folder, or a local run folder
    ``models/<dataset>/<method>-s<seed>``. Returns (method, ema_state, meta).

    Nothing from the store is executed: the artifacts are downloaded and ``model.pt`` is read with
    ``weights_only=True``; the method's code is the installed ucgan package.
    """
    local = Path(model_ref)
    if "://" not in model_ref and ":/" not in model_ref:
        if local.is_file():
            return load_model_file(local, device)
        if (local / "model.pt").is_file():
            return load_model_file(local / "model.pt", device)
        if (local / "MLmodel").is_file():
            return _load_from_mlflow_dir(local, device)
        raise DataError(f"{model_ref} is neither a model URI (models:/ucgan-<dataset>@champion) nor a folder "
                        "holding model.pt or an MLmodel file")
    connect(tracking_cfg)
    import mlflow
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="ucgan-download-") as tmp:
        try:
            path = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_ref, dst_path=tmp))
        except MlflowException as exc:
            raise TrackingError(f"cannot fetch {model_ref} from {mlflow.get_tracking_uri()}: {exc}") from exc
        return _load_from_mlflow_dir(path, device)


def _load_from_mlflow_dir(path: Path, device: Any) -> tuple[Any, Any, dict[str, Any]]:
    arts = _artifacts_from_mlmodel(path)
    resources = {k: str(v) for k, v in arts.items() if k in RESOURCE_KEYS}
    return load_model_file(arts["model"], device, resources)


def sample_tensor(method: Any, ema_state: Any, n: int, component: int | None = None, seed: int = 0) -> Any:
    """``n`` samples (EMA weights when the run kept them), seeded, from one component or the mixture."""
    import torch

    from ..training import use_ema

    if n < 1:
        raise UcganError(f"-n must be at least 1, got {n}")
    k = int(method.num_components)
    if component is not None and not 0 <= component < k:
        raise UcganError(f"component {component} does not exist: {method.name} on {method.info.dataset or 'this data'} "
                         f"generates from components 0..{k - 1}")
    g = torch.Generator(device=method.device).manual_seed(int(seed))
    method.eval()
    with use_ema(method, ema_state), torch.no_grad():
        return method.sample(int(n), component=component, generator=g).detach().float().cpu()


def save_samples_png(x: Any, path: Path, method: Any, title: str) -> Path:
    """A square PNG grid for images, a scatter for 2-D points, a heat-map for vectors."""
    from ..training import save_grid

    info = method.info
    if info.modality == "image":
        row = max(1, math.ceil(math.sqrt(len(x))))
        chunks = list(x.split(row))
        return save_grid(chunks, path, "image", info.value_range, row_labels=[""] * len(chunks))
    return save_grid([x], path, info.modality, info.value_range, title=title)


def save_samples_npy(x: Any, path: str | Path) -> None:
    """The raw samples (a tensor from :func:`sample_tensor`) as ``.npy``, written atomically."""
    import numpy as np

    from ..io import atomic_path

    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, x.numpy())
