"""The papers' claims as data, checked against the runs of the pipeline.

Why a file of claims instead of prose: a reproduction is only a result when its bar, its metric and
the number of seeds it needs are fixed before the runs, and when the paper's value and the official
code's value stand beside ours in one table. ``benchmarks/claims.yaml`` holds one entry per claim;
:func:`evaluate_claims` reads the metrics files the evaluate stages wrote and gives each claim a
verdict; the report stage writes ``reports/claims.md`` and ``reports/claims.json``.

Verdicts:

* ``not run``: no run of the claim's dataset and method has metrics (it is not in the run list, or
  its stages have not run yet);
* ``too few seeds``: fewer seeds than the claim needs (a lead, not a result);
* ``not reproduced``: the bar is missed (in some seed, for ``rule: every_seed``; by the mean over
  seeds, for ``rule: mean``);
* ``reproduced``: the bar is met;
* ``better than the paper``: the bar is met and the mean is better than the paper's value by more
  than the standard deviation over seeds.

A claim's metric is a key of the metrics JSON (``mixing_l1_grouped``, ``nmi``, ``modes_covered``)
or one of :data:`DERIVED`, computed from such keys.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

import numpy as np

from .config import load_data_file, require, require_unique


def _max_abs_share_error(rec: Mapping[str, Any]) -> float | None:
    """Largest |learned - true| share over the classes (components matched one-to-one to classes)."""
    learned, true = rec.get("mixing_learned"), rec.get("mixing_true")
    if learned is None or true is None:
        return None
    return float(np.max(np.abs(np.asarray(learned, float) - np.asarray(true, float))))


def _majority_share_error(rec: Mapping[str, Any]) -> float | None:
    """|learned - true| share of the largest true class (SLOGAN: "the majority share")."""
    learned, true = rec.get("mixing_learned"), rec.get("mixing_true")
    if learned is None or true is None:
        return None
    t = np.asarray(true, float)
    i = int(np.argmax(t))
    return float(abs(float(np.asarray(learned, float)[i]) - t[i]))


def _majority_share(rec: Mapping[str, Any]) -> float | None:
    learned, true = rec.get("mixing_learned"), rec.get("mixing_true")
    if learned is None or true is None:
        return None
    return float(np.asarray(learned, float)[int(np.argmax(np.asarray(true, float)))])


def _all_modes(rec: Mapping[str, Any]) -> float | None:
    """1 when every mode of a synthetic mixture holds a high-quality sample, else 0."""
    if rec.get("modes_covered") is None or rec.get("num_modes") is None:
        return None
    return float(rec["modes_covered"] >= rec["num_modes"])


#: derived metrics a claim may name: name -> (function of one metrics record, what it is)
DERIVED: dict[str, tuple[Callable[[Mapping[str, Any]], float | None], str]] = {
    "mixing_max_abs_error": (_max_abs_share_error, "max over classes of |learned - true| share (one-to-one matching)"),
    "majority_share_error": (_majority_share_error, "|learned - true| share of the largest class"),
    "majority_share": (_majority_share, "learned share of the largest class"),
    "all_modes": (_all_modes, "1 when every mode is covered by a high-quality sample"),
}


@dataclasses.dataclass(frozen=True)
class Reference:
    """A value someone else reported: the paper, or the official code run on our data."""

    value: float | None = None   # None: the source shows it only in a figure, or has no such number
    text: str = ""               # how the source states it when it is not one number ("8/8 modes")
    source: str = ""             # table / figure / repository and how it was run


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str = ""
    title: str = ""
    dataset: str = ""
    method: str = ""
    metric: str = ""
    direction: Literal["lower", "higher"] = "lower"
    threshold: float = 0.0
    rule: Literal["every_seed", "mean"] = "every_seed"
    seeds: int = 3
    paper: Reference = dataclasses.field(default_factory=Reference)
    official: Reference = dataclasses.field(default_factory=Reference)
    note: str = ""

    def validate(self, where: str) -> None:
        for key in ("id", "title", "dataset", "method", "metric"):
            require(bool(getattr(self, key)), f"{where}.{key}", "is required")
        require(self.seeds >= 1, f"{where}.seeds", "must be >= 1")
        require(math.isfinite(self.threshold), f"{where}.threshold", "must be a finite number")

    def meets(self, value: float) -> bool:
        return value <= self.threshold if self.direction == "lower" else value >= self.threshold

    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "lower" else a > b


@dataclasses.dataclass(frozen=True)
class ClaimsFile:
    claims: list[Claim] = dataclasses.field(default_factory=list)

    def validate(self, where: str) -> None:
        require_unique([c.id for c in self.claims], f"{where}.claims", "claim")


def load_claims(path: str | Path) -> list[Claim]:
    """Read and check a claims file; a bad entry stops with its position and key."""
    cf = load_data_file(ClaimsFile, path, "ucgan report --claims")
    for c in cf.claims:
        if c.metric.startswith("derived:"):
            name = c.metric.split(":", 1)[1]
            require(name in DERIVED, f"{path}: claim {c.id}.metric", f"unknown derived metric {name!r}; known: {sorted(DERIVED)}")
    return cf.claims


def metric_value(claim: Claim, rec: Mapping[str, Any]) -> float | None:
    """The claim's metric in one metrics record (``None`` when the record has no such value)."""
    if claim.metric.startswith("derived:"):
        return DERIVED[claim.metric.split(":", 1)[1]][0](rec)
    v = rec.get(claim.metric)
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)) and math.isfinite(float(v)):
        return float(v)
    return None


def verdict(claim: Claim, values: Sequence[float]) -> str:
    if not values:
        return "not run"
    if len(values) < claim.seeds:
        return "too few seeds"
    mean = float(np.mean(values))
    ok = all(claim.meets(v) for v in values) if claim.rule == "every_seed" else claim.meets(mean)
    if not ok:
        return "not reproduced"
    spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    if claim.paper.value is not None and claim.better(mean, claim.paper.value) and abs(mean - claim.paper.value) > spread:
        return "better than the paper"  # by more than the seeds' own spread, not a tie
    return "reproduced"


def evaluate_claims(claims: Iterable[Claim], records: Iterable[Mapping[str, Any]],
                    stages: Mapping[tuple[str, str], Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per claim: the references, our mean/std over seeds, per-seed values, verdict.
    ``stages``: (dataset, method) -> the evaluate stages of its runs, for the row's rerun command."""
    by_run: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        by_run.setdefault((str(r["dataset"]), str(r["method"])), []).append(r)
    rows = []
    for c in claims:
        recs = sorted(by_run.get((c.dataset, c.method), []), key=lambda r: int(r["seed"]))
        per_seed = {int(r["seed"]): metric_value(c, r) for r in recs}
        values = [v for v in per_seed.values() if v is not None]
        rows.append({
            "id": c.id, "title": c.title, "dataset": c.dataset, "method": c.method, "metric": c.metric,
            "direction": c.direction, "threshold": c.threshold, "rule": c.rule, "seeds_needed": c.seeds,
            "paper": c.paper.value, "paper_text": c.paper.text, "paper_source": c.paper.source,
            "official": c.official.value, "official_text": c.official.text, "official_source": c.official.source,
            "ours_mean": float(np.mean(values)) if values else None,
            "ours_std": float(np.std(values, ddof=1)) if len(values) > 1 else (0.0 if values else None),
            "ours_per_seed": per_seed, "n_seeds": len(values), "verdict": verdict(c, values), "note": c.note,
            "rerun": ("dvc repro " + " ".join([*st, "report"])) if (st := (stages or {}).get((c.dataset, c.method))) else "",
        })
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return "—"
    if abs(v) < 1e-12:
        return "0"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _ref(value: float | None, text: str) -> str:
    return text or _fmt(value)


def claims_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """``claims.md``: the table, then each claim's sources and per-seed values."""
    bar = {("lower", "every_seed"): "≤ {t} in every seed", ("lower", "mean"): "mean ≤ {t}",
           ("higher", "every_seed"): "≥ {t} in every seed", ("higher", "mean"): "mean ≥ {t}"}
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines = ["# The papers' claims, reproduced by the pipeline", "",
             "Each row: one claim, its bar, the paper's value, the official code's value (run on the same data), "
             "and ours as mean ± std over seeds. " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ".", "",
             "| claim | run | metric (bar) | paper | official code | ours, mean ± std (n seeds) | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ours = "—" if r["ours_mean"] is None else f"{_fmt(r['ours_mean'])} ± {_fmt(r['ours_std'])} ({r['n_seeds']})"
        b = bar[(r["direction"], r["rule"])].format(t=_fmt(r["threshold"]))
        lines.append(f"| {r['title']} | {r['dataset']} / {r['method']} | {r['metric']} ({b}) | "
                     f"{_ref(r['paper'], r['paper_text'])} | {_ref(r['official'], r['official_text'])} | {ours} | "
                     f"**{r['verdict']}** |")
    lines += ["", "## Sources and per-seed values", ""]
    for r in rows:
        seeds = ", ".join(f"s{s}: {_fmt(v)}" for s, v in r["ours_per_seed"].items()) or "no runs"
        lines.append(f"- **{r['id']}**: {seeds}. Paper: {r['paper_source'] or '—'}. "
                     f"Official: {r['official_source'] or '—'}." + (f" {r['note']}" if r["note"] else "")
                     + (f" Rerun: `{r['rerun']}`." if r.get("rerun") else ""))
    derived = sorted({r["metric"] for r in rows if str(r["metric"]).startswith("derived:")})
    if derived:
        lines += ["", "Derived metrics: " + "; ".join(f"`{m}` = {DERIVED[m.split(':', 1)[1]][1]}" for m in derived) + "."]
    return "\n".join(lines) + "\n"


def claims_json(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``claims.json``: one object per claim (``id, paper, official, ours_mean, ours_std, n_seeds,
    verdict`` and the rest of the row); per-seed keys become strings for JSON."""
    return [{**r, "ours_per_seed": {str(k): v for k, v in r["ours_per_seed"].items()}} for r in rows]
