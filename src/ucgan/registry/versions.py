"""Reading the registry: which datasets have a model, and their versions as the comparison shows them.

Why apart: ``ucgan registry compare`` and ``ucgan registry champion`` read versions through the tags
of :mod:`.tags` only (never by downloading a model), and hide superseded retrainings the same way.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from ..errors import TrackingError, UcganError
from ..tracking import TrackingConfig
from .store import client, connect
from .tags import MODEL_PREFIX, model_name, parse_tag


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

    mlflow_client = client()
    name = model_name(dataset)
    try:
        versions = mlflow_client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        raise TrackingError(f"cannot read {name} from the registry: {exc}") from exc
    if not versions:
        raise UcganError(f"no versions of {name} in the registry; run the pipeline (`dvc repro`) or "
                         f"`ucgan registry register --dataset {dataset} ...` first")
    # search_model_versions does not fill in aliases on every store: read them from the model
    aliases: dict[int, list[str]] = {}
    with contextlib.suppress(MlflowException):
        for alias, ver in (mlflow_client.get_registered_model(name).aliases or {}).items():
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
    return sorted(m.name[len(MODEL_PREFIX):] for m in client().search_registered_models()
                  if m.name.startswith(MODEL_PREFIX))
