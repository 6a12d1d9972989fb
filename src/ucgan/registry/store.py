"""Which MLflow store the registry talks to, and the few raw look-ups every other module shares.

Why apart: connecting is where a wrong URI or an unreachable server must fail, once and before any
work (:class:`~ucgan.errors.TrackingError`); the modules that log, read or move aliases all start
here. MLflow is imported inside the functions, so importing the registry stays cheap.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import TrackingError
from ..tracking import TrackingConfig
from .tags import CHAMPION_ALIAS


def connect(cfg: TrackingConfig | None = None, *, create: bool = False) -> str:
    """Point MLflow's tracking and registry at the configured store; returns its URI.

    ``create=False`` (read-only commands) refuses a local SQLite store that does not exist yet,
    because silently creating an empty one makes "no such model" errors confusing.
    """
    from ..tracking import check_reachable, resolve_uri, setup

    cfg = cfg or TrackingConfig()
    # Download progress bars would flood DVC/Prefect logs (one line per file).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if create:
        return setup(cfg)
    uri = resolve_uri(cfg)
    check_reachable(uri)
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        raise TrackingError(
            f"no MLflow store at {uri}: run the pipeline first (`dvc repro`), or point MLFLOW_TRACKING_URI / "
            "tracking.uri in params.yaml at the team server.")
    import mlflow

    mlflow.set_tracking_uri(uri)
    return uri


def tracking_from_params(params_path: str) -> TrackingConfig:
    """The ``tracking:`` section of params.yaml, or the defaults when the file is absent (so that
    ``ucgan sample`` works outside the repository with ``MLFLOW_TRACKING_URI``)."""
    if not Path(params_path).is_file():
        return TrackingConfig()
    from .. import params as P

    return P.load(params_path).tracking


def client() -> Any:
    """An MLflow client of the store :func:`connect` pointed at."""
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def ensure_registered_model(mlflow_client: Any, name: str, dataset: str) -> None:
    """Create the registered model ``name`` unless it exists (a parallel stage may create it first)."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow_client.get_registered_model(name)
    except MlflowException:
        try:
            mlflow_client.create_registered_model(
                name, tags={"dataset": dataset, "created_by": "ucgan"},
                description=f"Generators trained by ucgan on {dataset}; alias '{CHAMPION_ALIAS}' = lowest ICFID.")
        except MlflowException:  # created concurrently by a parallel evaluate stage
            mlflow_client.get_registered_model(name)


def find_version(mlflow_client: Any, name: str, sha: str) -> Any | None:
    """The newest version of ``name`` whose ``model_sha256`` tag is ``sha`` (``None``: not registered)."""
    found = mlflow_client.search_model_versions(f"name = '{name}' and tags.model_sha256 = '{sha}'")
    return max(found, key=lambda mv: int(mv.version)) if found else None

