"""Collecting the report's rows: the evaluate stage's metrics files of the run matrix, grouped.

Why apart: every table, test and figure starts from the same records, grouped the same way
(dataset -> method -> seeds in order); a missing file is collected here, not fatal, so a report over
the runs that exist can be read while a benchmark is still filling in.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, Mapping

from .. import layout
from ..errors import DataError
from ..io import read_json


@dataclasses.dataclass
class Runs:
    records: list[dict[str, Any]]
    missing: list[tuple[str, str, int]]  # (dataset, method, seed) without a metrics file


def load_runs(metrics_root: str | Path, runs: Iterable[tuple[str, str, int]]) -> Runs:
    """Metrics files of the given runs (``TrainSection.all_runs()``: the matrix, then ``train.runs``).
    Missing files are collected, not fatal: a report over the runs that exist is useful while a
    benchmark is still filling in (DVC's graph guarantees completeness when the stage runs under
    ``dvc repro``)."""
    root = Path(metrics_root)
    records, missing = [], []
    for d, m, s in runs:
        p = layout.metrics_path(root, d, m, s)
        if not p.is_file():
            missing.append((d, m, int(s)))
            continue
        try:
            rec = read_json(p)
        except ValueError as exc:
            raise DataError(f"{p} is not valid JSON ({exc}); re-run the evaluate stage of {d}/{m}/seed {s} "
                            f"(`ucgan evaluate --dataset {d} --method {m} --seed {s}`)") from exc
        rec.setdefault("dataset", d)
        rec.setdefault("method", m)
        rec.setdefault("seed", int(s))
        rec["_path"] = str(p)
        records.append(rec)
    return Runs(records, missing)


def group_runs(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """dataset -> method -> records sorted by seed (insertion order of datasets/methods kept)."""
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in records:
        out.setdefault(str(r["dataset"]), {}).setdefault(str(r["method"]), []).append(r)
    for by_m in out.values():
        for lst in by_m.values():
            lst.sort(key=lambda r: int(r["seed"]))
    return out
