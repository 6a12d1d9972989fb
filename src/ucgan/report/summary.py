"""Mean and std over seeds: the summary rows (``summary.csv``) and the per-class lists behind the figures.

Why apart: the summary is the benchmark's headline numbers; std is the sample std (ddof=1) because
seeds are a sample of training randomness, and undefined values (``null``) are left out of both.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from ..numbers import stats
from .runs import group_runs
from .specs import metrics_present


def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per dataset x method: ``n_seeds``, ``seeds`` and ``<metric>_mean/_std/_n``."""
    rows = []
    for d, by_m in group_runs(records).items():
        specs = metrics_present(r for lst in by_m.values() for r in lst)
        for method, lst in by_m.items():
            row: dict[str, Any] = {"dataset": d, "method": method, "n_seeds": len(lst),
                                   "seeds": ";".join(str(int(r["seed"])) for r in lst)}
            for spec in specs:
                m, s, n = stats(r.get(spec.key) for r in lst)
                row[f"{spec.key}_mean"], row[f"{spec.key}_std"], row[f"{spec.key}_n"] = m, s, n
            rows.append(row)
    return rows


def first_list(by_m: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> list[float] | None:
    """The first list stored under ``key`` in any record (e.g. the true class shares)."""
    for lst in by_m.values():
        for r in lst:
            v = r.get(key)
            if isinstance(v, list):
                return v
    return None


def per_class_stats(lst: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float | None, float | None]]:
    """Per-class mean/std over seeds of a per-class list metric (``null`` entries skipped)."""
    vecs = [v for v in (r.get(key) for r in lst) if isinstance(v, list)]
    if not vecs:
        return []
    k = max(len(v) for v in vecs)
    out = []
    for c in range(k):
        m, s, _n = stats(v[c] for v in vecs if c < len(v))
        out.append((m, s))
    return out
