"""The champion: which run is the best generator of a dataset, and the alias that names it.

Why apart: the rule (:func:`pick_champion`) is shared by the report stage, which ranks the metrics
files, and by ``ucgan registry champion``, which ranks the registered versions; it needs no MLflow.
Moving the alias (:func:`set_champion`) is the one write that follows from it.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Protocol, TypeVar, overload

from ..errors import TrackingError
from ..numbers import finite
from ..tracking import TrackingConfig
from .store import client, connect
from .tags import CHAMPION_ALIAS, fmt_tag, model_name


class Rankable(Protocol):
    """What the rule reads of a candidate: a metrics record (a mapping) or a :class:`~.versions.VersionRow`."""

    @overload
    def get(self, key: str, /) -> Any: ...
    @overload
    def get(self, key: str, default: Any, /) -> Any: ...


RowT = TypeVar("RowT", bound=Rankable)


def pick_champion(rows: Iterable[RowT], metric: str = "icfid") -> RowT | None:
    """The row with the lowest finite ``metric``; ties go to the lower FID, then method name and seed
    (deterministic, so two machines pick the same champion). ``None`` when no row has a finite value
    (e.g. every ICFID was infinite because components collapsed). Unconditional runs (``conditional``
    false, WGAN) are never champion: the benchmark ranks conditional generators, and their ICFID is
    undefined anyway."""
    best_key: tuple[Any, ...] | None = None
    best: RowT | None = None
    for r in rows:
        if r.get("conditional") in (False, "false"):
            continue
        v = finite(r.get(metric))
        if v is None:
            continue
        fid = finite(r.get("fid"))
        key = (v, fid if fid is not None else math.inf, str(r.get("method", "")), int(r.get("seed", 0) or 0))
        if best_key is None or key < best_key:
            best_key, best = key, r
    return best


def set_champion(dataset: str, version: str | int, tracking_cfg: TrackingConfig | None = None,
                 metric_value: float | None = None) -> None:
    """Point ``models:/ucgan-<dataset>@champion`` at ``version`` (and note its ICFID on the model)."""
    cfg = tracking_cfg or TrackingConfig()
    connect(cfg, create=True)
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    name = model_name(dataset)
    try:
        mlflow_client.set_registered_model_alias(name, CHAMPION_ALIAS, str(version))
        mlflow_client.set_registered_model_tag(name, "champion_icfid", fmt_tag(metric_value))
    except MlflowException as exc:
        raise TrackingError(f"cannot set alias {CHAMPION_ALIAS} of {name} to version {version}: {exc}") from exc
