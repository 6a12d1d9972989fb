"""MLflow tracking: one place that decides where runs go and checks the server before work starts.

Default: a local SQLite store ``mlruns/mlflow.db`` with artifacts in ``mlruns/artifacts`` (nothing
to start). A team server is used when ``MLFLOW_TRACKING_URI`` is set or ``tracking.uri`` is given in
params.yaml. A remote URI is probed (``/health``) before any expensive work so an unreachable server
fails in seconds with a message naming the URI, not after an hour of training.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, Mapping

from .config import flatten
from .errors import TrackingError

DEFAULT_DIR = Path("mlruns")
EXPERIMENT = "ucgan"


@dataclasses.dataclass(frozen=True)
class TrackingConfig:
    """``tracking:`` section of params.yaml."""

    enabled: bool = True
    uri: str = ""            # empty: $MLFLOW_TRACKING_URI, else the local SQLite store
    experiment: str = EXPERIMENT
    local_dir: str = str(DEFAULT_DIR)


def resolve_uri(cfg: TrackingConfig | None = None) -> str:
    cfg = cfg or TrackingConfig()
    if cfg.uri:
        return cfg.uri
    env = os.environ.get("MLFLOW_TRACKING_URI", "")
    if env:
        return env
    return f"sqlite:///{(Path(cfg.local_dir).resolve() / 'mlflow.db').as_posix()}"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Raise :class:`TrackingError` if an http(s) tracking server does not answer ``/health``."""
    if not uri.startswith(("http://", "https://")):
        return
    url = uri.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (user-configured URI)
            if r.status >= 400:
                raise TrackingError(f"MLflow tracking server {uri} answered HTTP {r.status} on /health")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({exc}). Start it, fix MLFLOW_TRACKING_URI / "
            "tracking.uri in params.yaml, or unset them to use the local store."
        ) from exc


def setup(cfg: TrackingConfig | None = None) -> str:
    """Point MLflow at the configured store, create the experiment; returns the tracking URI."""
    cfg = cfg or TrackingConfig()
    uri = resolve_uri(cfg)
    check_reachable(uri)
    import mlflow

    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    try:
        if mlflow.get_experiment_by_name(cfg.experiment) is None:
            kwargs: dict[str, Any] = {}
            if uri.startswith("sqlite:"):
                art = (Path(cfg.local_dir).resolve() / "artifacts").as_uri()
                kwargs["artifact_location"] = art
            mlflow.create_experiment(cfg.experiment, **kwargs)
        mlflow.set_experiment(cfg.experiment)
    except Exception as exc:  # server errors, DB locked, permission...
        raise TrackingError(f"cannot use MLflow experiment {cfg.experiment!r} at {uri}: {exc}") from exc
    return uri


class _NullRun:
    """Stand-in when tracking is disabled, so callers never branch on it."""

    info = None

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, Any]) -> None: ...
    @property
    def run_id(self) -> str | None:
        return None


class Run:
    """Thin wrapper over the active MLflow run with the calls the stages use."""

    def __init__(self, run: Any) -> None:
        self._run = run

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        import mlflow

        flat = {k: str(v)[:6000] for k, v in flatten(params).items()}
        items = list(flat.items())
        for i in range(0, len(items), 90):
            mlflow.log_params(dict(items[i:i + 90]))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        import math

        import mlflow

        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}
        if clean:
            mlflow.log_metrics(clean, step=step)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        import mlflow

        mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        import mlflow

        mlflow.set_tags({k: str(v) for k, v in tags.items()})


#: Tags naming the process that runs an MLflow run, so a later start can tell a dead run from a live one.
HOST_TAG, PID_TAG = "ucgan.host", "ucgan.pid"
#: Tags that say which work a run does (the same training started again has the same values).
RUN_IDENTITY = ("dataset", "method", "seed", "stage")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def end_stale_runs(tags: Mapping[str, Any], experiment: str) -> list[str]:
    """Mark as KILLED the RUNNING runs with the same ``tags`` whose process died on this host.

    A ``kill -9`` gives MLflow no chance to close its run, which then stays RUNNING forever. A
    run started by a live process (a concurrent identical training) or on another host is left
    alone. Returns the ids it closed.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return []
    filt = " and ".join([f"tags.`{k}` = '{v}'" for k, v in tags.items()] + ["attributes.status = 'RUNNING'"])
    host = socket.gethostname()
    closed = []
    client = MlflowClient()
    for r in client.search_runs([exp.experiment_id], filter_string=filt, max_results=200):
        t = r.data.tags
        pid = t.get(PID_TAG, "")
        if t.get(HOST_TAG) == host and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            client.set_terminated(r.info.run_id, status="KILLED")
            closed.append(r.info.run_id)
    return closed


@contextlib.contextmanager
def start_run(
    run_name: str, cfg: TrackingConfig | None = None, tags: Mapping[str, Any] | None = None,
    resume_run_id: str | None = None,
) -> Iterator[Run | _NullRun]:
    """Context manager yielding a :class:`Run` (or a no-op run when tracking is disabled).

    ``resume_run_id`` continues that run (a training resumed from its checkpoint keeps one MLflow
    run). The run ends FINISHED, KILLED on SIGINT/SIGTERM (:class:`~ucgan.errors.Interrupted`,
    ``KeyboardInterrupt``) or FAILED on any other error; RUNNING leftovers of killed processes with
    the same tags are closed as KILLED first.
    """
    cfg = cfg or TrackingConfig()
    if not cfg.enabled:
        yield _NullRun()
        return
    setup(cfg)
    import mlflow

    from .errors import Interrupted

    str_tags = {k: str(v) for k, v in (tags or {}).items()}
    identity = {k: v for k, v in str_tags.items() if k in RUN_IDENTITY}
    if identity:
        end_stale_runs(identity, cfg.experiment)
    own = {**str_tags, HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    r = None
    if resume_run_id:
        try:
            r = mlflow.start_run(run_id=resume_run_id)
            mlflow.set_tags(own)
        except Exception:  # deleted or from another store: start a new run instead
            r = None
    if r is None:
        r = mlflow.start_run(run_name=run_name, tags=own)
    try:
        yield Run(r)
    except (Interrupted, KeyboardInterrupt):
        mlflow.end_run(status="KILLED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")


def run_exists(run_id: str) -> bool:
    """Whether the current tracking store holds ``run_id``.

    A model folder restored from a team's shared DVC cache carries the id of a run in the store of
    whoever trained it; this store may not have it, and that is not an error.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        mlflow.get_run(run_id)
    except MlflowException:
        return False
    return True


@contextlib.contextmanager
def log_into_run(run_id: str, cfg: TrackingConfig, run_name: str = "",
                 tags: Mapping[str, Any] | None = None) -> Iterator[Run]:
    """Log more (evaluation metrics) into a finished run without changing its status, even when the
    logging fails: a failed evaluation must not mark the training run FAILED.

    When this store does not hold the training run (the model came from another machine's run
    through the DVC cache), the metrics go to a new run ``<run_name>-evaluate`` whose tag
    ``trained_run_id`` names the original, so evaluating a pulled model never fails on tracking.
    """
    setup(cfg)
    import mlflow

    if not run_exists(run_id):
        with start_run(f"{run_name or run_id}-evaluate", cfg,
                       tags={**(tags or {}), "stage": "evaluate", "trained_run_id": run_id}) as new:
            assert isinstance(new, Run)  # tracking is on here
            yield new
        return
    status = mlflow.get_run(run_id).info.status
    r = mlflow.start_run(run_id=run_id)
    try:
        yield Run(r)
    finally:
        mlflow.end_run(status=status if status in ("FINISHED", "FAILED", "KILLED") else "FINISHED")
