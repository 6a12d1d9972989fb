"""A paper's comparison table beside ours: does the pipeline order the methods as the paper does?

Why: absolute numbers do not carry from a paper to this benchmark (Inception FID on 60k MNIST digits
against an offline encoder's FID on 5k; five of the paper's runs against three of ours), but the
*order* of the methods under one protocol should, and it is what a reader of a comparison table takes
away. ``benchmarks/paper_tables.yaml`` holds rows of a paper's table (for example SLOGAN Table 7,
MNIST-2 7:3: NMI, FID and ICFID of nine methods, mean ± std); :func:`compare_orderings` ranks the
methods by the paper's means and by ours (the same metric of the metrics JSON, mean over seeds),
and gives per metric:

* Kendall's tau between the two orders over the methods both have (scipy), with its p-value;
* the pairs whose order flips *clearly*: the paper separates them by more than the sum of its two
  standard deviations and we separate them the other way by more than the sum of ours (each of ours
  from two or more finite seeds). A flip inside either side's seed spread is noise, not a disagreement;
* each method's rank in both.

The report writes ``orderings.md`` / ``orderings.json``. A leaf module above ``numbers`` and ``config``.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

from .config import load_data_file, require, require_unique
from .numbers import finite, stats


@dataclasses.dataclass(frozen=True)
class PaperMetric:
    """One metric row of a paper's table: method id -> [mean, std] (std 0 when not given)."""

    direction: Literal["lower", "higher"] = "lower"
    paper: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def validate(self, where: str) -> None:
        require(len(self.paper) >= 2, f"{where}.paper", "needs at least two methods to order")
        for m, v in self.paper.items():
            require(len(v) in (1, 2), f"{where}.paper.{m}", "is [mean] or [mean, std]")


@dataclasses.dataclass(frozen=True)
class PaperTable:
    """One row group of a paper's table, on one of our datasets."""

    id: str = ""
    title: str = ""
    dataset: str = ""
    source: str = ""
    metrics: dict[str, PaperMetric] = dataclasses.field(default_factory=dict)
    note: str = ""

    def validate(self, where: str) -> None:
        for key in ("id", "title", "dataset"):
            require(bool(getattr(self, key)), f"{where}.{key}", "is required")
        require(bool(self.metrics), f"{where}.metrics", "needs at least one metric")


@dataclasses.dataclass(frozen=True)
class PaperTablesFile:
    tables: list[PaperTable] = dataclasses.field(default_factory=list)

    def validate(self, where: str) -> None:
        require_unique([t.id for t in self.tables], f"{where}.tables", "table")


def load_paper_tables(path: str | Path) -> list[PaperTable]:
    """Read and check a paper-tables file; a bad entry stops with its position and key."""
    return load_data_file(PaperTablesFile, path, "ucgan report --paper-tables").tables


def _ranks(means: Mapping[str, float], higher: bool) -> dict[str, float]:
    """Rank 1 = best; ties share the average rank (scipy's ``rankdata``)."""
    from scipy.stats import rankdata

    names = list(means)
    vals = [-means[n] if higher else means[n] for n in names]
    return {n: float(r) for n, r in zip(names, rankdata(vals))}


def _kendall(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, float | None]:
    if len(a) < 3:
        return None, None
    from scipy.stats import kendalltau

    res = kendalltau(a, b)
    tau, p = finite(res.statistic), finite(res.pvalue)
    return tau, p


def compare_orderings(tables: Sequence[PaperTable], records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One JSON-ready row per (table, metric): both orders, Kendall's tau, the clear flips."""
    by_run: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        by_run.setdefault((str(r["dataset"]), str(r["method"])), []).append(r)
    rows: list[dict[str, Any]] = []
    for t in tables:
        if not any(d == t.dataset for d, _ in by_run):
            continue  # a table of a dataset this report has no runs of (CIFAR-2 in the offline default)
        for metric, pm in t.metrics.items():
            higher = pm.direction == "higher"
            paper = {m: (float(v[0]), float(v[1]) if len(v) > 1 else 0.0) for m, v in pm.paper.items()}
            ours: dict[str, tuple[float, float | None, int]] = {}
            for m in paper:
                mean, std, n = stats([finite(r.get(metric)) for r in by_run.get((t.dataset, m), [])])
                if mean is not None:
                    ours[m] = (mean, std, n)  # std None with one finite seed
            shared = [m for m in paper if m in ours]
            p_rank = _ranks({m: paper[m][0] for m in shared}, higher) if shared else {}
            o_rank = _ranks({m: ours[m][0] for m in shared}, higher) if shared else {}
            tau, p_value = _kendall([p_rank[m] for m in shared], [o_rank[m] for m in shared])
            flips = []
            for a, b in itertools.combinations(shared, 2):
                pd, od = paper[a][0] - paper[b][0], ours[a][0] - ours[b][0]
                if pd * od >= 0:
                    continue  # same order (or a tie) on one side
                sa, sb = ours[a][1], ours[b][1]
                if sa is None or sb is None:
                    continue  # a spread needs two finite seeds: one seed cannot flip the paper's order
                if abs(pd) > paper[a][1] + paper[b][1] and abs(od) > sa + sb:
                    better_paper, better_ours = (a, b) if (pd > 0) == higher else (b, a)
                    flips.append({"paper_better": better_paper, "ours_better": better_ours})
            p_best = min(p_rank, key=p_rank.get) if p_rank else None
            o_best = min(o_rank, key=o_rank.get) if o_rank else None
            rows.append({
                "table": t.id, "title": t.title, "dataset": t.dataset, "source": t.source, "note": t.note,
                "metric": metric, "direction": pm.direction,
                "methods": [{"method": m, "paper_mean": paper[m][0], "paper_std": paper[m][1],
                             "paper_rank": p_rank.get(m),
                             "ours_mean": ours[m][0] if m in ours else None,
                             "ours_std": ours[m][1] if m in ours else None,
                             "ours_n": ours[m][2] if m in ours else 0,
                             "ours_rank": o_rank.get(m)} for m in paper],
                "n_shared": len(shared), "kendall_tau": tau, "kendall_p": p_value,
                "paper_best": p_best, "ours_best": o_best, "same_best": p_best is not None and p_best == o_best,
                "clear_flips": flips,
                "missing": [m for m in paper if m not in ours],
            })
    return rows


def _f(v: float | None, digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.{digits}g}"


def _rank(v: float | None) -> str:
    return "—" if v is None else (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}")


def orderings_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """``orderings.md``: per table and metric, both orders side by side, tau and the clear flips."""
    lines = ["# The papers' method orderings beside ours", "",
             "Absolute values do not carry from a paper's setting to this benchmark; the order of the methods should. "
             "Rank 1 is best. Kendall's tau compares the two orders over the methods both have (1: the same order, "
             "0: unrelated, -1: reversed). A *clear flip* is a pair the paper separates by more than its two standard "
             "deviations and we separate the other way by more than our two.", ""]
    current = None
    for r in rows:
        if r["table"] != current:
            current = r["table"]
            lines += [f"## {r['title']} ({r['dataset']})", "", f"Source: {r['source'] or '—'}." +
                      (f" {r['note']}" if r["note"] else ""), ""]
        arrow = "higher is better" if r["direction"] == "higher" else "lower is better"
        lines += [f"### {r['metric']} ({arrow})", "",
                  "| method | paper, mean ± std | paper rank | ours, mean ± std (n seeds) | our rank |",
                  "|---|---|---|---|---|"]
        for m in sorted(r["methods"], key=lambda x: (x["paper_rank"] is None, x["paper_rank"] or 0, x["method"])):
            ours = ("not run" if m["ours_mean"] is None else
                    f"{_f(m['ours_mean'])}" + ("" if m["ours_std"] is None else f" ± {_f(m['ours_std'], 2)}") + f" ({m['ours_n']})")
            lines.append(f"| {m['method']} | {_f(m['paper_mean'])} ± {_f(m['paper_std'], 2)} | {_rank(m['paper_rank'])} | "
                         f"{ours} | {_rank(m['ours_rank'])} |")
        tau = "—" if r["kendall_tau"] is None else f"{r['kendall_tau']:.2f} (p = {_f(r['kendall_p'], 2)})"
        flips = "; ".join(f"paper: {f['paper_better']} better than {f['ours_better']}, ours: the reverse"
                          for f in r["clear_flips"]) or "none"
        best = ("the same" if r["same_best"] else f"paper {r['paper_best']}, ours {r['ours_best']}") if r["paper_best"] else "—"
        lines += ["", f"Kendall's tau over {r['n_shared']} methods: {tau}. Best method: {best}. Clear flips: {flips}."
                  + (f" Not run here: {', '.join(r['missing'])}." if r["missing"] else ""), ""]
    return "\n".join(lines) + "\n"
