"""Plot data for ``dvc plots show/diff``: one file per chart, so each chart shows one truth.

Why this layout (and not one long CSV for everything):

* **One chart per dataset.** FIDs of different datasets are scored by different extractors (raw
  2-D points near 1e-4, MNIST encoder features near 1, Inception near 100): on one axis the small
  ones vanish and the comparison is meaningless. ``reports/plots/<kind>/<dataset>.csv`` gives every
  dataset its own chart through one directory entry in dvc.yaml.
* **Every chart names its extractor.** Each row carries ``panel`` (e.g.
  ``"ring8-1to3 - FID, extractor raw (lower is better)"``) and the templates in ``.dvc/plots/``
  draw it as the chart's header, so a number is never read without how it was made.
* **Log scale where values span decades.** FID/ICFID bars use the ``bar_log`` template (a log
  x-axis); only positive values can sit on it, so zero/missing values are left out of those files
  (the tables in ``reports/<dataset>.md`` still list them). Shares and NMI stay linear in [0, 1].
* **Losses with explicit fields.** ``losses/<dataset>/<method>-s<seed>.csv`` is long format
  (``step, value, term, kind``): the ``losses`` template draws x = step, y = value, one line per
  term (``d_loss``, ``g_loss`` and each method's extra terms such as SLOGAN's ``g_adv``/``u2c``),
  with losses and diagnostics (``used_categories``, ``pi_max``, ...) in separate panels because
  their scales differ. A wide CSV
  made DVC pick whatever column came last (``images_per_second``).

Everything is deterministic (no clock), so unchanged metrics give byte-identical files.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .io import write_text

#: Columns of losses.csv that are bookkeeping, not curves.
NOT_TERMS = ("step", "images", "images_per_second")
#: Chart kinds written per dataset: (folder, metric key, label, better, log scale).
BAR_KINDS: tuple[tuple[str, str, str, str, bool], ...] = (
    ("fid", "fid", "FID", "lower", True),
    ("icfid", "icfid", "ICFID", "lower", True),
    ("nmi", "nmi", "NMI", "higher", False),
    ("mixing_l1", "mixing_l1", "mixing L1", "lower", False),
)


def _csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (repr(r[k]) if isinstance(r.get(k), float) else r[k])) for k in columns})
    return buf.getvalue()


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _mean(values: Iterable[Any]) -> float | None:
    xs = [f for f in (_num(v) for v in values) if f is not None]
    return sum(xs) / len(xs) if xs else None


def extractor_of(records: Sequence[Mapping[str, Any]]) -> str:
    """The extractor id(s) of a dataset's records, shortened for a header (``inception-v3-pool3``,
    ``raw``, ``encoder``). Several ids mean runs were scored differently: all are named."""
    ids = sorted({str(r.get("extractor") or "unknown").split(":")[0] for r in records})
    return " + ".join(ids)


def _per_class(lst: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    vecs = [r.get(key) for r in lst if isinstance(r.get(key), list)]
    if not vecs:
        return []
    k = max(len(v) for v in vecs)
    return [_mean(v[c] for v in vecs if c < len(v)) for c in range(k)]


def _class_names(lst: Sequence[Mapping[str, Any]], k: int) -> list[str]:
    for r in lst:
        names = r.get("class_names")
        if isinstance(names, list) and len(names) >= k:
            return [str(n) for n in names]
    return [str(c) for c in range(k)]


def write_dataset_plots(grouped: Mapping[str, Mapping[str, Sequence[Mapping[str, Any]]]], plots_dir: Path) -> list[Path]:
    """``plots_dir/<kind>/<dataset>.csv`` for every bar kind, mixing and per-class ICFID."""
    out: list[Path] = []
    for d, by_m in grouped.items():
        recs = [r for lst in by_m.values() for r in lst]
        ext = extractor_of(recs)
        for folder, key, label, better, log in BAR_KINDS:
            rows = []
            for method, lst in by_m.items():
                v = _mean(r.get(key) for r in lst)
                if v is None or (log and v <= 0):
                    continue
                rows.append({"method": method, key: v, "seeds": len(lst),
                             "panel": f"{d} - {label}, extractor {ext} ({better} is better"
                                      f"{', log scale' if log else ''})"})
            if rows:
                p = plots_dir / folder / f"{d}.csv"
                write_text(p, _csv(rows, ["method", key, "seeds", "panel"]))
                out.append(p)
        mix_rows, ic_rows = [], []
        true = next((r["mixing_true"] for r in recs if isinstance(r.get("mixing_true"), list)), None)
        k = max([len(true or [])] + [len(_per_class(lst, "icfid_per_class")) for lst in by_m.values()])
        names = _class_names(recs, k)
        for c, t in enumerate(true or []):
            mix_rows.append({"bar": f"class {names[c]} | true", "share": float(t), "class": names[c], "method": "true"})
        for method, lst in by_m.items():
            for c, m in enumerate(_per_class(lst, "mixing_learned")):
                if m is not None:
                    mix_rows.append({"bar": f"class {names[c] if c < len(names) else c} | {method}", "share": m,
                                     "class": names[c] if c < len(names) else str(c), "method": method})
            for c, m in enumerate(_per_class(lst, "icfid_per_class")):
                if m is not None and m > 0:
                    ic_rows.append({"bar": f"class {names[c] if c < len(names) else c} | {method}", "icfid": m,
                                    "class": names[c] if c < len(names) else str(c), "method": method})
        for rows in (mix_rows,):
            for r in rows:
                r["panel"] = f"{d} - learned vs true mixing (share of samples per matched class)"
        for r in ic_rows:
            r["panel"] = f"{d} - per-class ICFID, extractor {ext} (lower is better, log scale)"
        for folder, rows, cols in (("mixing", mix_rows, ["bar", "class", "method", "share", "panel"]),
                                   ("icfid_per_class", ic_rows, ["bar", "class", "method", "icfid", "panel"])):
            if rows:
                p = plots_dir / folder / f"{d}.csv"
                write_text(p, _csv(rows, cols))
                out.append(p)
    return out


def loss_terms(columns: Iterable[str]) -> list[str]:
    """The curve columns of a losses.csv (everything but step, images and throughput)."""
    return [c for c in columns if c not in NOT_TERMS]


#: Name fragments of logged values that are diagnostics, not optimised terms (counts, shares,
#: entropies, fit statistics, event flags): they get their own panel.
DIAGNOSTIC_MARKERS = ("used_", "entropy", "pi_max", "pi_min", "moves", "reassign", "r2", "acc", "share", "count", "nmi", "lr")


def term_kind(term: str) -> str:
    """``loss`` for the terms a method optimises (``d_loss``, ``g_loss``, ``g_adv``, ``u2c``,
    ``penalty``, ``q_cls``, ...), ``diagnostic`` for logged statistics such as ``used_categories``
    or ``pi_max``: separate panels, because a count of 16 categories flattens a loss of 0.7."""
    t = term.lower()
    return "diagnostic" if any(m in t for m in DIAGNOSTIC_MARKERS) else "loss"


def long_losses(src: Path, dataset: str, run: str) -> str:
    """A wide ``losses.csv`` as long-format CSV text (``step, value, term, kind, panel``)."""
    with open(src, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        terms = loss_terms(reader.fieldnames or [])
        rows = []
        for row in reader:
            step = row.get("step")
            for t in terms:
                v = _num(row.get(t))
                if step not in (None, "") and v is not None:
                    kind = term_kind(t)
                    rows.append({"step": int(float(step)), "value": v, "term": t, "kind": kind,
                                 "panel": f"{dataset} - {run} - {'losses' if kind == 'loss' else 'diagnostics'}"})
    return _csv(rows, ["step", "value", "term", "kind", "panel"])


def write_loss_plots(runs: Iterable[tuple[str, str, Path]], dest_root: Path) -> list[Path]:
    """``(dataset, run name, losses.csv)`` -> ``dest_root/<dataset>/<run>.csv`` (long format)."""
    out = []
    for dataset, run, src in runs:
        if src.is_file():
            p = dest_root / dataset / f"{run}.csv"
            write_text(p, long_losses(src, dataset, run))
            out.append(p)
    return out


__all__ = ["BAR_KINDS", "extractor_of", "long_losses", "loss_terms", "term_kind", "write_dataset_plots",
           "write_loss_plots"]
