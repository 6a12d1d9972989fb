"""``sweeps:`` in params.yaml (:mod:`ucgan.sweeps` says what a sweep is): the dataclass and its check.

Why a module of its own (:mod:`ucgan.sweeps` re-exports it): every stage checks params.yaml first,
and the rest of :mod:`ucgan.sweeps` is report code (tables, figures, samples of trained runs); the
stages must not import it (``tests/infra/test_layering.py``) nor depend on it in dvc.yaml
(``infra/stage_deps.py``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from .config import from_mapping, require
from .errors import ConfigError
from .sections import register_section

#: |learned - true| share of the tracked attribute still counted as "sized right"
SHARE_TOLERANCE = 0.05


@dataclasses.dataclass(frozen=True)
class SweepSpec:
    datasets: list[str] = dataclasses.field(default_factory=list)
    classes: list[int] = dataclasses.field(default_factory=list)
    label: str = ""
    tolerance: float = SHARE_TOLERANCE

    def validate(self, where: str) -> None:
        require(len(self.datasets) >= 2, f"{where}.datasets", "a sweep needs at least two datasets")
        require(len(set(self.datasets)) == len(self.datasets), f"{where}.datasets", "lists a dataset twice")
        require(bool(self.classes) and all(c >= 0 for c in self.classes), f"{where}.classes",
                "list the class ids (>= 0) of the tracked attribute")
        require(0 < self.tolerance < 1, f"{where}.tolerance", "must be in (0, 1)")


def load_sweeps(raw: Mapping[str, Any]) -> dict[str, SweepSpec]:
    section = raw.get("sweeps") or {}
    if not isinstance(section, Mapping):
        raise ConfigError("sweeps: expected a mapping name -> {datasets: [...], classes: [...], label: ...}")
    out = {str(k): from_mapping(SweepSpec, v, f"sweeps.{k}") for k, v in section.items()}
    trained = set(((raw.get("train") or {}).get("datasets")) or [])
    for name, spec in out.items():
        missing = [d for d in spec.datasets if d not in trained]
        require(not missing, f"sweeps.{name}.datasets",
                f"{missing[0] if missing else ''!r} is not in train.datasets: a sweep reports runs the pipeline trains")
    return out


register_section("sweeps", lambda section, raw: load_sweeps(raw))
