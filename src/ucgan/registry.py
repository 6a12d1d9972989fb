"""MLflow model registry of trained generators: one registered model ``ucgan-<dataset>`` per dataset.

Every evaluated run (``models/<dataset>/<method>-s<seed>/``) becomes one *version* of
``ucgan-<dataset>``, tagged with what a teammate needs to choose between versions without opening
them (``method``, ``seed``, ``icfid``, ``fid``, ``nmi``, ``mixing_l1``, ``extractor``, the training
``run_id`` and the ``model_sha256`` of ``model.pt``). The report stage points the alias
``champion`` at the version with the lowest ICFID, so ``models:/ucgan-<dataset>@champion`` always
names the current best generator.

Why no pickles: stores (the team server, its artifact bucket, DVC caches) are shared, and loading a
pickle executes whatever code is in it. A version is therefore logged as an MLflow *models from
code* pyfunc: the ``python_model`` is the path of :mod:`ucgan.registry_model_code` (three lines that
import this installed module) and the only artifact is ``model.pt`` (tensors and plain data, read
with ``weights_only=True``). ``ucgan sample`` goes further and never executes anything from the
store: it downloads the artifacts and reads ``model.pt`` itself (:func:`load_generator`).

Where: the local SQLite store ``mlruns/mlflow.db`` by default (see :mod:`ucgan.tracking`), a team
server when ``MLFLOW_TRACKING_URI`` or ``tracking.uri`` says so; an unreachable server is a
:class:`~ucgan.errors.TrackingError` before any work.

Each run is registered once, by its evaluate stage. The report stage only looks the champion's
version up (:func:`registered_version`) and moves the alias; it registers a run itself only when
that run has no version yet (evaluated while tracking was off). Registration is idempotent anyway
(a version whose ``model_sha256`` tag matches is reused, its metric tags refreshed).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import click

from . import layout
from .env import MAX_SEED
from .errors import DataError, TrackingError, UcganError
from .options import PARAMS_OPTION, run_options
from .tracking import TrackingConfig

MODEL_PREFIX = "ucgan-"
CHAMPION_ALIAS = "champion"
ARTIFACT_NAME = "generator"
#: Metrics copied into version tags (the comparison table and the champion rule read them).
METRIC_TAGS = ("icfid", "fid", "nmi", "mixing_l1")
#: Pipeline outputs (pretrain/cluster) that methods with ``needs_encoder`` load in ``attach``;
#: they travel with the version so a registered generator loads away from the repository.
RESOURCE_KEYS = ("encoder_path", "clusters_path", "classifier_path")
#: The models-from-code entry point logged as ``python_model`` (see the module docstring).
CODE_PATH = Path(__file__).with_name("registry_model_code.py")
#: Packages a serving environment needs; pinned to what produced the version. Explicit because
#: MLflow's inference takes ~13 s per model and drags in unrelated packages.
REQUIREMENT_PACKAGES = ("ucgan", "mlflow", "torch", "numpy", "pandas")


def model_name(dataset: str) -> str:
    """Registered-model name of a dataset's generators."""
    return f"{MODEL_PREFIX}{dataset}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Content hash of ``model.pt``: identifies a version independently of where it was logged."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


# ----------------------------------------------------------------------------- tag values
def fmt_tag(value: Any) -> str:
    """Tag text of a metric: full precision, ``null`` for missing/non-finite (JSON's convention)."""
    if value is None or isinstance(value, bool):
        return "null"
    try:
        f = float(value)
    except (TypeError, ValueError):
        return "null"
    return repr(f) if math.isfinite(f) else "null"


def parse_tag(text: str | None) -> float | None:
    """Inverse of :func:`fmt_tag` (``None`` for ``null``, missing or unparsable tags)."""
    if text is None or text in ("", "null", "None"):
        return None
    try:
        f = float(text)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def version_tags(metrics: Mapping[str, Any], model_sha256: str, run_id: str | None) -> dict[str, str]:
    """The tags of one registered version (all strings, as the registry stores them)."""
    tags = {
        "dataset": str(metrics["dataset"]),
        "method": str(metrics["method"]),
        "variant": str((metrics.get("protocol") or {}).get("variant") or metrics["method"]),
        "conditional": "false" if metrics.get("conditional") is False else "true",
        "seed": str(int(metrics["seed"])),
        "extractor": str(metrics.get("extractor", "")),
        "model_sha256": model_sha256,
        "run_id": run_id or "",
    }
    tags.update({k: fmt_tag(metrics.get(k)) for k in METRIC_TAGS})
    return tags


# ----------------------------------------------------------------------------- champion rule
def _finite(v: Any) -> float | None:
    from .numbers import finite

    return finite(v)


def pick_champion(rows: Iterable[Mapping[str, Any]], metric: str = "icfid") -> Mapping[str, Any] | None:
    """The row with the lowest finite ``metric``; ties go to the lower FID, then method name and seed
    (deterministic, so two machines pick the same champion). ``None`` when no row has a finite value
    (e.g. every ICFID was infinite because components collapsed). Unconditional runs (``conditional``
    false, WGAN) are never champion: the benchmark ranks conditional generators, and their ICFID is
    undefined anyway."""
    best_key: tuple[Any, ...] | None = None
    best: Mapping[str, Any] | None = None
    for r in rows:
        if r.get("conditional") in (False, "false"):
            continue
        v = _finite(r.get(metric))
        if v is None:
            continue
        fid = _finite(r.get("fid"))
        key = (v, fid if fid is not None else math.inf, str(r.get("method", "")), int(r.get("seed", 0) or 0))
        if best_key is None or key < best_key:
            best_key, best = key, r
    return best


# ----------------------------------------------------------------------------- connection
def connect(cfg: TrackingConfig | None = None, *, create: bool = False) -> str:
    """Point MLflow's tracking and registry at the configured store; returns its URI.

    ``create=False`` (read-only commands) refuses a local SQLite store that does not exist yet,
    because silently creating an empty one makes "no such model" errors confusing.
    """
    from .tracking import check_reachable, resolve_uri, setup

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


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def _ensure_registered_model(client: Any, name: str, dataset: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(
                name, tags={"dataset": dataset, "created_by": "ucgan"},
                description=f"Generators trained by ucgan on {dataset}; alias '{CHAMPION_ALIAS}' = lowest ICFID.")
        except MlflowException:  # created concurrently by a parallel evaluate stage
            client.get_registered_model(name)


def _find_version(client: Any, name: str, sha: str) -> Any | None:
    found = client.search_model_versions(f"name = '{name}' and tags.model_sha256 = '{sha}'")
    return max(found, key=lambda mv: int(mv.version)) if found else None


@contextlib.contextmanager
def _logging_run(run_id: str | None, run_name: str, tags: Mapping[str, str]) -> Iterator[None]:
    """Log the model into the training run (so the UI links version <-> run), or into the active
    run, or, when the training run lives in another store, into a new run that says so."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if mlflow.active_run() is not None:
        yield
        return
    if run_id:
        try:
            mlflow.get_run(run_id)
        except MlflowException:
            run_id = None
    if run_id:
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


def registered_version(model_dir: str | os.PathLike[str], dataset: str,
                       tracking_cfg: TrackingConfig | None = None) -> str | None:
    """The registry version of ``model_dir/model.pt`` (matched by its sha256), or ``None`` when it
    has none (or tracking is off, or the file is missing)."""
    cfg = tracking_cfg or TrackingConfig()
    model_pt = Path(model_dir) / "model.pt"
    if not cfg.enabled or not model_pt.is_file():
        return None
    connect(cfg, create=True)
    client = _client()
    found = _find_version(client, model_name(dataset), file_sha256(model_pt))  # none: an empty search
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
    from .io import read_json, write_json

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

    client = _client()
    try:
        _ensure_registered_model(client, name, dataset)
        existing = _find_version(client, name, sha)
        if existing is not None:
            for k in (*METRIC_TAGS, "extractor"):
                if existing.tags.get(k) != tags[k]:
                    client.set_model_version_tag(name, existing.version, k, tags[k])
            return str(existing.version)

        from .experiment import pipeline_resources
        from .methods import base_method, get_method

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


def _model_shape(model_pt: Path) -> tuple[int, ...]:
    from .io import torch_load

    ck = torch_load(model_pt)
    return tuple(int(s) for s in ck["meta"]["info"]["shape"])


def set_champion(dataset: str, version: str | int, tracking_cfg: TrackingConfig | None = None,
                 metric_value: float | None = None) -> None:
    """Point ``models:/ucgan-<dataset>@champion`` at ``version`` (and note its ICFID on the model)."""
    cfg = tracking_cfg or TrackingConfig()
    connect(cfg, create=True)
    from mlflow.exceptions import MlflowException

    client = _client()
    name = model_name(dataset)
    try:
        client.set_registered_model_alias(name, CHAMPION_ALIAS, str(version))
        client.set_registered_model_tag(name, "champion_icfid", fmt_tag(metric_value))
    except MlflowException as exc:
        raise TrackingError(f"cannot set alias {CHAMPION_ALIAS} of {name} to version {version}: {exc}") from exc


# ----------------------------------------------------------------------------- reading the registry
@dataclasses.dataclass
class VersionRow:
    """One registered version as the comparison table shows it."""

    dataset: str
    version: int
    method: str
    seed: int
    icfid: float | None
    fid: float | None
    nmi: float | None
    mixing_l1: float | None
    extractor: str
    aliases: list[str]
    run_id: str
    created: int
    conditional: bool = True

    def get(self, key: str, default: Any = None) -> Any:  # pick_champion reads rows like mappings
        return getattr(self, key, default)


def registry_rows(dataset: str, tracking_cfg: TrackingConfig | None = None, all_versions: bool = False) -> list[VersionRow]:
    """Versions of ``ucgan-<dataset>``, sorted by ICFID (missing last). By default only the newest
    version per (method, seed): older ones are superseded retrainings of the same run."""
    connect(tracking_cfg)
    from mlflow.exceptions import MlflowException

    client = _client()
    name = model_name(dataset)
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise TrackingError(f"cannot read {name} from the registry: {exc}") from exc
    if not versions:
        raise UcganError(f"no versions of {name} in the registry; run the pipeline (`dvc repro`) or "
                         f"`ucgan registry register --dataset {dataset} ...` first")
    # search_model_versions does not fill in aliases on every store: read them from the model
    aliases: dict[int, list[str]] = {}
    with contextlib.suppress(MlflowException):
        for alias, ver in (client.get_registered_model(name).aliases or {}).items():
            aliases.setdefault(int(ver), []).append(alias)
    rows = []
    for mv in versions:
        t = mv.tags or {}
        rows.append(VersionRow(
            dataset=dataset, version=int(mv.version), method=t.get("method", "?"), seed=int(t.get("seed", -1) or -1),
            icfid=parse_tag(t.get("icfid")), fid=parse_tag(t.get("fid")), nmi=parse_tag(t.get("nmi")),
            mixing_l1=parse_tag(t.get("mixing_l1")), extractor=t.get("extractor", ""),
            aliases=sorted(set(aliases.get(int(mv.version), [])) | set(getattr(mv, "aliases", None) or [])), run_id=t.get("run_id", ""),
            created=int(mv.creation_timestamp or 0), conditional=t.get("conditional", "true") != "false"))
    if not all_versions:
        newest: dict[tuple[str, int], VersionRow] = {}
        for r in rows:
            k = (r.method, r.seed)
            if k not in newest or r.version > newest[k].version:
                newest[k] = r
        keep = set(id(r) for r in newest.values())
        rows = [r for r in rows if id(r) in keep or r.aliases]  # an aliased version stays visible
    rows.sort(key=lambda r: (r.icfid is None, r.icfid if r.icfid is not None else 0.0, r.method, r.seed, -r.version))
    return rows


def registered_datasets(tracking_cfg: TrackingConfig | None = None) -> list[str]:
    """Datasets that have a ``ucgan-<dataset>`` registered model."""
    connect(tracking_cfg)
    return sorted(m.name[len(MODEL_PREFIX):] for m in _client().search_registered_models()
                  if m.name.startswith(MODEL_PREFIX))


# ----------------------------------------------------------------------------- loading and sampling
def _load_model_file(model_pt: Path, device: Any, resources: Mapping[str, str] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """(method, ema_state, meta) from a ``model.pt``; ``resources`` replaces the repository paths of
    the pretrain/cluster outputs for methods that need them (a downloaded version carries its own)."""
    from .experiment import load_trained

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
            return _load_model_file(local, device)
        if (local / "model.pt").is_file():
            return _load_model_file(local / "model.pt", device)
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
    return _load_model_file(arts["model"], device, resources)


def sample_tensor(method: Any, ema_state: Any, n: int, component: int | None = None, seed: int = 0) -> Any:
    """``n`` samples (EMA weights when the run kept them), seeded, from one component or the mixture."""
    import torch

    from .training import use_ema

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
    from .training import save_grid

    info = method.info
    if info.modality == "image":
        row = max(1, math.ceil(math.sqrt(len(x))))
        chunks = list(x.split(row))
        return save_grid(chunks, path, "image", info.value_range, row_labels=[""] * len(chunks))
    return save_grid([x], path, info.modality, info.value_range, title=title)


def make_pyfunc_model() -> Any:
    """The pyfunc wrapper MLflow serves (built lazily so importing this module stays cheap for the CLI).

    Input: a DataFrame with ``n`` and optional ``component`` (-1 or missing = the mixture) and
    ``seed`` columns, one request per row. Output: float32 samples ``(sum n, *shape)``. The device is
    ``$UCGAN_DEVICE`` (default auto).
    """
    import mlflow.pyfunc
    import numpy as np

    return _generator_model_class(mlflow.pyfunc.PythonModel, np)()


def _generator_model_class(base: type, np: Any) -> type:
    class GeneratorModel(base):  # type: ignore[misc,valid-type]
        """Samples from a ucgan generator stored as ``model.pt`` (tensors only)."""

        # The logged signature (a DataFrame with n/component/seed) is what MLflow validates inputs
        # against; this flag stops PythonModel from also wrapping predict for type-hint validation
        # (and from warning on every load that predict has no hints).
        _skip_type_hint_validation = True

        def load_context(self, context: Any) -> None:
            from .env import resolve_device

            device = resolve_device(os.environ.get("UCGAN_DEVICE", "auto"))
            arts = dict(context.artifacts)
            resources = {k: v for k, v in arts.items() if k in RESOURCE_KEYS}
            self.method, self.ema, self.meta = _load_model_file(Path(arts["model"]), device, resources)

        def predict(self, context, model_input, params=None):  # noqa: ANN001 - MLflow reads hints as a schema
            rows = model_input.to_dict("records") if hasattr(model_input, "to_dict") else list(model_input)
            outs = []
            for r in rows:
                comp = r.get("component")
                comp = None if comp is None or (isinstance(comp, float) and math.isnan(comp)) or int(comp) < 0 else int(comp)
                seed = r.get("seed")
                seed = 0 if seed is None or (isinstance(seed, float) and math.isnan(seed)) else int(seed)
                outs.append(sample_tensor(self.method, self.ema, int(r["n"]), comp, seed).numpy())
            return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0, *self.method.info.shape), np.float32)

    return GeneratorModel


# ----------------------------------------------------------------------------- tables
_COLUMNS = ("version", "method", "seed", "icfid", "fid", "nmi", "mixing_l1", "extractor", "aliases")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)


def format_rows(rows: Sequence[VersionRow], fmt: str = "table") -> str:
    """Render versions as an aligned text table, Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(r) for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(_COLUMNS)
        for r in rows:
            w.writerow(["" if getattr(r, c) is None else (";".join(getattr(r, c)) if c == "aliases" else getattr(r, c))
                        for c in _COLUMNS])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(getattr(r, c)) for c in _COLUMNS] for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(_COLUMNS)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def method_means(rows: Sequence[VersionRow]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per method of the tagged metrics (the registry's view of the benchmark)."""
    from .numbers import mean_std

    out = []
    for method in sorted({r.method for r in rows}):
        sel = [r for r in rows if r.method == method]
        d: dict[str, Any] = {"method": method, "n": len(sel)}
        for k in METRIC_TAGS:
            d[k] = mean_std([getattr(r, k) for r in sel])
        out.append(d)
    return out


# ----------------------------------------------------------------------------- CLI


def tracking_from_params(params_path: str) -> TrackingConfig:
    """The ``tracking:`` section of params.yaml, or the defaults when the file is absent (so that
    ``ucgan sample`` works outside the repository with ``MLFLOW_TRACKING_URI``)."""
    if not Path(params_path).is_file():
        return TrackingConfig()
    from . import params as P

    return P.load(params_path).tracking


@click.group("registry")
def registry_group() -> None:
    """MLflow registry of trained generators: one model `ucgan-<dataset>`, one version per run,
    alias `champion` on the lowest ICFID."""


@registry_group.command("compare")
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset (repeatable). Default: every ucgan-* model.")
@click.option("--all-versions", is_flag=True, help="Show superseded versions too (default: newest per method and seed).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]), default="table", show_default=True)
def compare_command(params_path: str, datasets: tuple[str, ...], all_versions: bool, fmt: str) -> None:
    """Print the comparison table of registered versions (sorted by ICFID) and per-method means."""
    cfg = tracking_from_params(params_path)
    names = list(datasets) or registered_datasets(cfg)
    if not names:
        raise UcganError("the registry holds no ucgan-* models yet; run the pipeline (`dvc repro`) first")
    for d in names:
        rows = registry_rows(d, cfg, all_versions=all_versions)
        if fmt in ("csv", "json"):
            click.echo(format_rows(rows, fmt))
            continue
        click.echo(f"{model_name(d)}  ({len(rows)} version{'s' if len(rows) != 1 else ''}; '{CHAMPION_ALIAS}' marks the alias)")
        click.echo(format_rows(rows, fmt))
        click.echo("")
        means = method_means(rows)
        hdr = ["method", "n", *METRIC_TAGS]
        click.echo("mean ± std over seeds:")
        table = [[m["method"], str(m["n"]), *[m[k] for k in METRIC_TAGS]] for m in means]
        widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(hdr)]
        click.echo("  ".join(h.ljust(w) for h, w in zip(hdr, widths)))
        for t in table:
            click.echo("  ".join(c.ljust(w) for c, w in zip(t, widths)))
        click.echo("")


@registry_group.command("register")
@PARAMS_OPTION
@run_options()
def register_command(params_path: str, dataset: str, method: str, seed: int) -> None:
    """Register one evaluated run (models/... + metrics/...) by hand; idempotent."""
    from . import params as P
    from .io import read_json

    prm = P.load(params_path)
    tsec, esec = prm.train, prm.evaluate
    mpath = layout.metrics_path(esec.out_root, dataset, method, seed)
    if not mpath.is_file():
        raise DataError(f"{mpath} does not exist; run `dvc repro evaluate@{dataset}-{method}-{seed}` first")
    if not prm.tracking.enabled:
        raise UcganError("tracking.enabled is false in params.yaml: there is no registry to write to")
    v = register_generator(layout.run_dir(tsec.out_root, dataset, method, seed), read_json(mpath), prm.tracking)
    click.echo(f"{method} seed {seed} on {dataset}: models:/{model_name(dataset)}/{v}")


@registry_group.command("champion")
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset (repeatable). Default: every ucgan-* model.")
@click.option("--all-versions", is_flag=True, help="Consider superseded versions too.")
def champion_command(params_path: str, datasets: tuple[str, ...], all_versions: bool) -> None:
    """Move the `champion` alias to the lowest-ICFID version (the report stage does this too)."""
    cfg = tracking_from_params(params_path)
    for d in list(datasets) or registered_datasets(cfg):
        best = pick_champion(registry_rows(d, cfg, all_versions=all_versions))
        if best is None:
            click.echo(f"{model_name(d)}: no version has a finite ICFID; alias unchanged")
            continue
        set_champion(d, best.version, cfg, best.icfid)
        click.echo(f"models:/{model_name(d)}@{CHAMPION_ALIAS} -> version {best.version} "
                   f"({best.method} seed {best.seed}, ICFID {best.icfid:.4g})")


@click.command("sample")
@PARAMS_OPTION
@click.option("--model", "model_ref", required=True,
              help="models:/ucgan-<dataset>@champion, models:/ucgan-<dataset>/<version>, runs:/<run>/generator, "
                   "or a local run folder models/<dataset>/<method>-s<seed>.")
@click.option("--component", type=int, default=None, help="Component to sample from (default: the learned mixture).")
@click.option("-n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--out", "out", type=click.Path(), default="samples.png", show_default=True,
              help="PNG: a grid for images, a scatter for 2-D data. With --per-component: a folder.")
@click.option("--per-component", "per_component", type=int, default=None,
              help="Write N samples of every component into OUT/component_XX/ (the layout `ucgan fid --per-class` reads).")
@click.option("--overwrite", is_flag=True, help="With --per-component: write into a non-empty folder.")
@click.option("--npy", "npy", type=click.Path(dir_okay=False), default=None, help="Also save the raw samples (.npy).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--device", "device_spec", default="auto", show_default=True, help="auto | cpu | cuda[:N]")
def sample_command(params_path: str, model_ref: str, component: int | None, n: int, out: str,
                   per_component: int | None, overwrite: bool, npy: str | None, seed: int, device_spec: str) -> None:
    """Load a registered (or local) generator and draw samples from one component (or, with
    --per-component, N samples of every component into one folder each)."""
    from .env import resolve_device

    device = resolve_device(device_spec)
    cfg = tracking_from_params(params_path) if "://" in model_ref or ":/" in model_ref else TrackingConfig()
    method, ema, meta = load_generator(model_ref, device, cfg)
    if per_component is not None:
        from .export import export_per_component

        if component is not None:
            raise UcganError("--component and --per-component exclude each other: --per-component writes every component")
        info = {"model": model_ref, "method": meta.get("method"), "dataset": meta.get("dataset"),
                "train_seed": meta.get("seed")}
        dirs = export_per_component(method, ema, per_component, out, seed, info, overwrite=overwrite)
        click.echo(f"{per_component} samples x {len(dirs)} components of {model_ref} -> {out}/component_XX/ "
                   f"(score with: ucgan fid REAL_DIR {out} --per-class)")
        return
    x = sample_tensor(method, ema, n, component, seed)
    what = "the mixture" if component is None else f"component {component}"
    path = save_samples_png(x, Path(out), method, f"{meta.get('method')} s{meta.get('seed')} on {meta.get('dataset')}: {what}")
    if npy:
        import numpy as np

        from .io import atomic_path

        with atomic_path(npy, suffix=".npy") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, x.numpy())
    click.echo(f"{n} samples from {what} of {model_ref} ({meta.get('method')} seed {meta.get('seed')} on "
               f"{meta.get('dataset')}) -> {path}" + (f", {npy}" if npy else ""))


__all__ = [
    "CHAMPION_ALIAS", "connect", "file_sha256", "load_generator", "make_pyfunc_model", "model_name", "pick_champion",
    "register_generator", "registry_group", "registry_rows", "sample_command", "sample_tensor", "set_champion",
]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(registry_group())
