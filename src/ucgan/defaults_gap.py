"""How far each method's ``default`` block falls from its tuned per-dataset settings.

Why: a user's own dataset gets a method's ``methods.<m>.default`` block and nothing else (no
per-dataset block matches its name). Whether such an *untuned* run can be trusted is an empirical
question, answered by running every method twice on the offline datasets: as ``<m>`` (its tuned
settings for that dataset) and as the built-in variant ``<m>-defaults`` (the default block alone,
see :func:`ucgan.stages_params.resolve_method`). This module pairs those runs in the metrics records
and renders the table the report writes as ``defaults_gap.md`` / ``defaults_gap.json``.

A leaf module (numbers only): the report calls it with the records it already read.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from .numbers import finite, stats

#: the built-in variant tag: ``<method>-defaults`` = the method's default block alone
DEFAULTS_TAG = "defaults"
DEFAULTS_SEPARATOR = "-"

#: metric -> True when higher is better; the headline metrics of the evaluation protocol
GAP_METRICS: dict[str, bool] = {
    "fid": False, "icfid": False, "nmi": True, "mixing_l1_grouped": False,
    "modes_covered": True, "high_quality_share": True,
}


def defaults_id(method: str) -> str:
    """The run name of ``method`` with its default block alone (``slogan`` -> ``slogan-defaults``)."""
    return f"{method}{DEFAULTS_SEPARATOR}{DEFAULTS_TAG}"


def _by_run(records: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    out: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        out.setdefault((str(r["dataset"]), str(r["method"])), []).append(r)
    return out


def defaults_gap(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, method, metric) where both the tuned run and ``<method>-defaults`` ran.

    ``gap`` is defaults minus tuned (means over seeds); ``worse`` says whether the defaults are worse
    than the tuned settings by more than the larger of the two seed spreads (one std), so a gap
    inside the seed-to-seed noise is not called a loss; with fewer than two finite seeds on a side
    (an ICFID that is null for a seed) neither is called.
    """
    runs = _by_run(records)
    rows: list[dict[str, Any]] = []
    for (dataset, method), tuned in sorted(runs.items()):
        untuned = runs.get((dataset, defaults_id(method)))
        if not untuned:
            continue
        for metric, higher in GAP_METRICS.items():
            t_mean, t_std, t_n = stats([finite(r.get(metric)) for r in tuned])
            d_mean, d_std, d_n = stats([finite(r.get(metric)) for r in untuned])
            if t_mean is None or d_mean is None:
                continue
            gap = d_mean - t_mean
            noise = max(t_std or 0.0, d_std or 0.0)
            loss = -gap if higher else gap
            judged = t_n >= 2 and d_n >= 2  # a spread needs two finite seeds on each side
            rows.append({"dataset": dataset, "method": method, "metric": metric, "higher_is_better": higher,
                         "tuned_mean": t_mean, "tuned_std": t_std, "tuned_n": t_n,
                         "defaults_mean": d_mean, "defaults_std": d_std, "defaults_n": d_n,
                         "gap": gap, "judged": judged, "worse": judged and bool(loss > noise),
                         "better": judged and bool(-loss > noise)})
    return rows


def _cell(mean: float, std: float | None, n: int) -> str:
    return f"{mean:.4g} ± {std:.2g} ({n})" if std is not None and n > 1 else f"{mean:.4g} ({n})"


def defaults_gap_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The table: dataset | method | metric | tuned | defaults alone | gap | verdict."""
    lines = ["# Defaults alone vs tuned settings", "",
             "A new dataset gets each method's `default` block and nothing else. Each row pairs the tuned run "
             "(`<method>`, with the dataset's own block) with `<method>-defaults` (the default block alone) on the "
             "same data and seeds: mean ± std (finite seeds). *worse* / *better* only beyond one std of the seeds' spread, "
             "and only with two or more finite seeds on each side. The mixing error counts every component for the "
             "class holding most of its samples (`mixing_l1_grouped`).",
             ""]
    if not rows:
        lines.append("No `<method>-defaults` run has a tuned counterpart in this report.")
        return "\n".join(lines) + "\n"
    lines += ["| dataset | method | metric | tuned | defaults alone | gap | verdict |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        verdict = ("too few seeds" if not r.get("judged", True) else "worse" if r["worse"]
                   else "better" if r["better"] else "within noise")
        lines.append(f"| {r['dataset']} | {r['method']} | {r['metric']} "
                     f"({'higher' if r['higher_is_better'] else 'lower'} is better) | "
                     f"{_cell(r['tuned_mean'], r['tuned_std'], r['tuned_n'])} | "
                     f"{_cell(r['defaults_mean'], r['defaults_std'], r['defaults_n'])} | {r['gap']:+.4g} | {verdict} |")
    return "\n".join(lines) + "\n"
