"""The report's champion per dataset, and the hook that moves the registry's alias to it.

Why apart: the choice uses the registry's rule (:func:`ucgan.registry.pick_champion`) on the metrics
files; the hook is the report stage's only write to the registry, injected into
:func:`~.build.build_report` so that tests build reports without a store.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .. import layout
from ..numbers import finite
from .runs import group_runs


def champions(records: Iterable[Mapping[str, Any]], metric: str = "icfid") -> dict[str, Mapping[str, Any]]:
    """Per dataset, the run with the lowest ICFID (:func:`ucgan.registry.pick_champion`)."""
    from ..registry import pick_champion

    out = {}
    for d, by_m in group_runs(records).items():
        best = pick_champion([r for lst in by_m.values() for r in lst], metric)
        if best is not None:
            out[d] = best
    return out


def registry_hook(tracking_cfg: Any, models_root: str | Path) -> Any:
    """The ``registry`` callable of :func:`build_report`: point ``champion`` at the best run's
    version. The evaluate stage registered every run; a champion without a version (evaluated while
    tracking was off) is registered here. Returns the sentence for the report."""
    from ..registry import CHAMPION_ALIAS, model_name, register_generator, registered_version, set_champion

    def hook(dataset: str, champ: Mapping[str, Any], recs: Sequence[Mapping[str, Any]]) -> str:
        run_dir = layout.run_dir(models_root, dataset, str(champ["method"]), int(champ["seed"]))
        if not (run_dir / "model.pt").is_file():
            return f"Not registered: `{(run_dir / 'model.pt').as_posix()}` is not here."
        version = registered_version(run_dir, dataset, tracking_cfg)
        if version is None:
            version = register_generator(run_dir, {k: v for k, v in champ.items() if not k.startswith("_")}, tracking_cfg)
        if version is None:
            return "Not registered: tracking is off."
        set_champion(dataset, version, tracking_cfg, finite(champ.get("icfid")))
        return f"Registry: `models:/{model_name(dataset)}@{CHAMPION_ALIAS}` = version {version}."

    return hook
