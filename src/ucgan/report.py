"""The ``report`` stage: the benchmark's tables, tests, pictures and the registry's champion.

Reads the evaluate stage's ``metrics/<dataset>/<method>-s<seed>.json`` for the run matrix of
params.yaml (``train.datasets x train.methods x train.seeds``, then ``train.runs``) and writes:

* ``reports/summary.csv``: one row per dataset x method, mean and std over seeds of every metric
  (FID, ICFID, NMI, mixing L1 and, for synthetic 2-D mixtures, the mode metrics). Std is the
  sample std (ddof=1) because seeds are a sample of training randomness; with one seed it is empty.
* ``reports/wilcoxon.csv``: SLOGAN (``--reference``) against every other method per metric, the
  Wilcoxon rank-sum (Mann-Whitney U) test over seeds as in SLOGAN appendix A.4, *exact*
  (``scipy.stats.mannwhitneyu(method="exact")``; the normal approximation of ``ranksums`` prints
  p = 0.0495 for 3 seeds against 3, where the exact two-sided test cannot go below p = 0.1), and
  Cohen's d (pooled std) as the effect size. With fewer than two seeds on either side the test is
  not run and the report says "n/a (needs ≥2 seeds)"; the report states how many seeds a
  significance claim needs (:func:`min_seeds_for_significance`).
* ``reports/<dataset>.md``: the tables above, the champion, pictures (samples per method and
  component, learned vs true mixing bars, per-class ICFID bars) under ``reports/figures/``.
* ``reports/plots/<kind>/<dataset>.csv`` and ``reports/plots/losses/``: the same numbers as plot
  data for ``dvc plots show/diff``, one chart per dataset titled with its extractor
  (:mod:`ucgan.plotdata`).

With tracking enabled it also registers every run (idempotent, see :mod:`ucgan.registry`) and moves
the alias ``champion`` of ``ucgan-<dataset>`` to the lowest-ICFID run. Nothing in the written files
depends on the clock, so re-running on unchanged metrics gives identical outputs (clean DVC/git diffs).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import click

from . import layout
from .errors import DataError, UcganError
from .io import atomic_path, read_json, write_text
from .numbers import _num, finite, mean_std, stats  # noqa: F401  (re-exported: report.finite etc.)
from .options import PARAMS_OPTION

REFERENCE_METHOD = "slogan"
NEEDS_SEEDS = "n/a (needs ≥2 seeds)"
ALPHA = 0.05
#: Metrics that are undefined for an unconditional generator (no components): shown as "n/a".
CONDITIONAL_ONLY = ("icfid", "mixing_l1", "mixing_l1_grouped", "attribute_accuracy_independent",
                    "attribute_control_accuracy")


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    better: str  # "lower" | "higher"


#: Metrics the report aggregates, in table order; mode metrics only appear when present.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("fid", "FID", "lower"),
    MetricSpec("icfid", "ICFID", "lower"),
    MetricSpec("nmi", "NMI", "higher"),
    MetricSpec("nmi_assignment", "NMI (own assignment)", "higher"),
    MetricSpec("purity", "purity", "higher"),
    MetricSpec("precision", "precision", "higher"),
    MetricSpec("recall", "recall", "higher"),
    MetricSpec("mixing_l1", "mixing L1", "lower"),
    MetricSpec("mixing_l1_grouped", "mixing L1 (grouped)", "lower"),
    MetricSpec("attribute_accuracy_independent", "class agreement", "higher"),
    MetricSpec("attribute_control_accuracy", "attribute control acc. (own classifier)", "higher"),
    MetricSpec("inception_score", "IS", "higher"),
    MetricSpec("modes_covered", "modes covered", "higher"),
    MetricSpec("high_quality_share", "high-quality share", "higher"),
    MetricSpec("reverse_kl", "reverse KL", "lower"),
    MetricSpec("reverse_kl_uniform", "reverse KL (uniform)", "lower"),
)
_BY_KEY = {m.key: m for m in METRICS}


# ----------------------------------------------------------------------------- numbers
# ----------------------------------------------------------------------------- loading
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


def _group(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """dataset -> method -> records sorted by seed (insertion order of datasets/methods kept)."""
    out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in records:
        out.setdefault(str(r["dataset"]), {}).setdefault(str(r["method"]), []).append(r)
    for by_m in out.values():
        for lst in by_m.values():
            lst.sort(key=lambda r: int(r["seed"]))
    return out


def metrics_present(records: Iterable[Mapping[str, Any]]) -> list[MetricSpec]:
    """The metrics at least one record has a value for (mode metrics only for 2-D mixtures)."""
    recs = list(records)
    return [m for m in METRICS if any(m.key in r for r in recs)]


# ----------------------------------------------------------------------------- aggregation
def summarize(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per dataset x method: ``n_seeds``, ``seeds`` and ``<metric>_mean/_std/_n``."""
    rows = []
    for d, by_m in _group(records).items():
        specs = metrics_present(r for lst in by_m.values() for r in lst)
        for method, lst in by_m.items():
            row: dict[str, Any] = {"dataset": d, "method": method, "n_seeds": len(lst),
                                   "seeds": ";".join(str(int(r["seed"])) for r in lst)}
            for spec in specs:
                m, s, n = stats(r.get(spec.key) for r in lst)
                row[f"{spec.key}_mean"], row[f"{spec.key}_std"], row[f"{spec.key}_n"] = m, s, n
            rows.append(row)
    return rows


def rank_sum_tests(records: Iterable[Mapping[str, Any]], reference: str = REFERENCE_METHOD) -> list[dict[str, Any]]:
    """Wilcoxon rank-sum test of ``reference`` against every other method, per dataset and metric.

    Each row: dataset, metric, reference, method, n_reference, n_method, statistic, p_value and
    ``result`` (text: the p-value and which side is better by median, or :data:`NEEDS_SEEDS`).
    Undefined values (``null`` in the metrics files) are left out of the samples.
    """
    rows = []
    for d, by_m in _group(records).items():
        if reference not in by_m:
            continue
        specs = metrics_present(r for lst in by_m.values() for r in lst)
        for spec in specs:
            ref = [f for f in (finite(r.get(spec.key)) for r in by_m[reference]) if f is not None]
            for method, lst in by_m.items():
                if method == reference:
                    continue
                other = [f for f in (finite(r.get(spec.key)) for r in lst) if f is not None]
                row: dict[str, Any] = {"dataset": d, "metric": spec.key, "reference": reference, "method": method,
                                       "n_reference": len(ref), "n_method": len(other),
                                       "statistic": None, "p_value": None, "cohens_d": None,
                                       "min_p_possible": None}
                if len(ref) < 2 or len(other) < 2:
                    row["result"] = NEEDS_SEEDS
                else:
                    stat, p = exact_rank_sum(ref, other)
                    eff = cohens_d(ref, other)
                    floor = min_p_value(len(ref), len(other))
                    row.update(statistic=stat, p_value=p, cohens_d=eff, min_p_possible=floor)
                    med_r, med_o = _median(ref), _median(other)
                    if med_r == med_o:
                        side = "equal medians"
                    else:
                        ref_better = (med_r < med_o) == (spec.better == "lower")
                        side = f"{reference if ref_better else method} better"
                    d_txt = "" if eff is None else f", d = {_num(eff, 3)}"
                    cap = f"; cannot reach {ALPHA} with {len(ref)} vs {len(other)} seeds" if floor >= ALPHA else ""
                    row["result"] = f"p = {_num(p, 3)}{' *' if p < ALPHA else ''} ({side}{d_txt}{cap})"
                rows.append(row)
    return rows


def exact_rank_sum(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test: (U of ``a``, p).

    Exact for small samples without ties (the seed counts a benchmark runs, where the normal
    approximation of ``scipy.stats.ranksums`` is too optimistic); scipy's asymptotic test with tie
    correction when values tie (the exact null distribution assumes none) or samples are large.
    """
    from scipy.stats import mannwhitneyu

    ties = len(set(a) | set(b)) < len(a) + len(b)
    method = "asymptotic" if ties or len(a) + len(b) > 40 else "exact"
    res = mannwhitneyu(a, b, alternative="two-sided", method=method)
    return float(res.statistic), float(res.pvalue)


def min_p_value(n1: int, n2: int) -> float:
    """Smallest two-sided p the exact rank-sum test can give with n1 vs n2 values (complete separation):
    2 / C(n1 + n2, n1). 3 vs 3: 0.1, 4 vs 4: 0.029, 5 vs 5: 0.0079."""
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def min_seeds_for_significance(alpha: float = ALPHA) -> int:
    """Seeds per method (equal on both sides) the exact two-sided test needs to be able to reach ``alpha``."""
    n = 2
    while min_p_value(n, n) >= alpha:
        n += 1
    return n


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Cohen's d of ``a`` minus ``b`` with the pooled sample std (SLOGAN appendix A.4 reports it with
    the rank-sum test); None when both samples are constant."""
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return None
    m1, m2 = sum(a) / n1, sum(b) / n2
    v1 = sum((x - m1) ** 2 for x in a) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in b) / (n2 - 1)
    pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    if pooled == 0:
        return None
    return (m1 - m2) / pooled


def _from_cluster_stage(lst: Sequence[Mapping[str, Any]]) -> bool:
    return any(r.get("attributes_from") == "cluster-stage" for r in lst)


def _representations(by_m: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    reps = []
    for m, lst in by_m.items():
        rep = next(((r.get("protocol") or {}).get("nmi_representation") for r in lst), None)
        reps.append(f"{m}: {rep or 'none'}")
    return "; ".join(reps) or "-"


def _icfid_n_text(recs: Sequence[Mapping[str, Any]]) -> str:
    ns = sorted({int(n) for n in ((r.get("protocol") or {}).get("icfid_n_per_class") for r in recs) if n is not None})
    excl = {str(r["method"]): int((r.get("protocol") or {}).get("components_excluded") or 0) for r in recs}
    txt = f"N = {', '.join(map(str, ns)) or '-'}"
    dropped = [f"{m}: {n}" for m, n in excl.items() if n]
    if dropped:
        txt += "; components under the method's minimum share left out of the matching: " + ", ".join(dropped)
    return txt


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def champions(records: Iterable[Mapping[str, Any]], metric: str = "icfid") -> dict[str, Mapping[str, Any]]:
    """Per dataset, the run with the lowest ICFID (:func:`ucgan.registry.pick_champion`)."""
    from .registry import pick_champion

    out = {}
    for d, by_m in _group(records).items():
        best = pick_champion([r for lst in by_m.values() for r in lst], metric)
        if best is not None:
            out[d] = best
    return out


# ----------------------------------------------------------------------------- files
def _csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (repr(r[k]) if isinstance(r.get(k), float) else r[k])) for k in columns})
    return buf.getvalue()


def summary_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = {k for r in rows for k in r}
    cols = ["dataset", "method", "n_seeds", "seeds"]
    for spec in METRICS:
        if f"{spec.key}_mean" in keys:
            cols += [f"{spec.key}_mean", f"{spec.key}_std", f"{spec.key}_n"]
    return cols


def write_plot_data(records: Sequence[Mapping[str, Any]], plots_dir: Path) -> list[Path]:
    """Per-dataset CSVs for ``dvc plots`` (``plots/<kind>/<dataset>.csv``, see :mod:`ucgan.plotdata`):
    one chart per dataset, each titled with its extractor, so datasets scored by different
    extractors never share an axis."""
    from .plotdata import write_dataset_plots

    return write_dataset_plots(_group(records), plots_dir)


def _first_list(by_m: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> list[float] | None:
    for lst in by_m.values():
        for r in lst:
            if isinstance(r.get(key), list):
                return r[key]
    return None


def _per_class_stats(lst: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float | None, float | None]]:
    """Per-class mean/std over seeds of a per-class list metric (``null`` entries skipped)."""
    vecs = [r.get(key) for r in lst if isinstance(r.get(key), list)]
    if not vecs:
        return []
    k = max(len(v) for v in vecs)
    out = []
    for c in range(k):
        m, s, _n = stats(v[c] for v in vecs if c < len(v))
        out.append((m, s))
    return out


def copy_loss_curves(records: Iterable[Mapping[str, Any]], models_root: Path, dest_root: Path) -> list[Path]:
    """``models/<d>/<m>-s<s>/losses.csv`` -> ``reports/plots/losses/<d>/<m>-s<s>.csv`` in long format
    (``step, value, term``; see :mod:`ucgan.plotdata`).

    Why a copy: DVC refuses a plot file *inside* a stage's output directory (the train stage's
    ``outs`` is the whole run folder: "overlapping outputs"), while a top-level plot on this folder
    gives one loss chart per run in ``dvc plots show/diff``.
    """
    from .plotdata import write_loss_plots

    runs = [(str(r["dataset"]), layout.run_name(str(r["method"]), int(r["seed"])),
             layout.run_dir(models_root, str(r["dataset"]), str(r["method"]), int(r["seed"])) / "losses.csv")
            for r in records]
    return write_loss_plots(runs, dest_root)


# ----------------------------------------------------------------------------- figures
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_fig(fig: Any, path: Path) -> Path:
    plt = _plt()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _grouped_bars(ax: Any, series: list[tuple[str, list[float | None], list[float | None]]], k: int) -> None:
    import numpy as np

    width = 0.8 / max(1, len(series))
    x = np.arange(k)
    for i, (label, means, stds) in enumerate(series):
        m = [np.nan if v is None else v for v in means] + [np.nan] * (k - len(means))
        s = [0.0 if v is None else v for v in stds] + [0.0] * (k - len(stds))
        kw = {"color": "black", "alpha": 0.25, "edgecolor": "black"} if label == "true" else {}
        ax.bar(x - 0.4 + width * (i + 0.5), m, width, yerr=s if any(s) else None, label=label, capsize=2, **kw)
    ax.set_xticks(x)
    ax.set_xticklabels([str(c) for c in range(k)])


def plot_mixing(dataset: str, by_m: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path | None:
    """Learned (mean ± std over seeds, after ICFID's matching) vs true class shares."""
    true = _first_list(by_m, "mixing_true")
    if not true:
        return None
    k = len(true)
    series = [("true", list(true), [None] * k)]
    for method, lst in by_m.items():
        st = _per_class_stats(lst, "mixing_learned")
        series.append((method, [m for m, _ in st], [s for _, s in st]))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * k * len(series) / 2 + 3), 3.5))
    _grouped_bars(ax, series, k)
    ax.set_xlabel("class")
    ax.set_ylabel("share")
    ax.set_title(f"{dataset}: learned vs true mixing")
    ax.legend(fontsize=8)
    return _save_fig(fig, path)


def plot_icfid_per_class(dataset: str, by_m: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path | None:
    """Per-class FID of the matched component (the terms ICFID averages), mean ± std over seeds."""
    series = []
    k = 0
    for method, lst in by_m.items():
        st = _per_class_stats(lst, "icfid_per_class")
        if st:
            k = max(k, len(st))
            series.append((method, [m for m, _ in st], [s for _, s in st]))
    if not series:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * k * len(series) / 2 + 3), 3.5))
    _grouped_bars(ax, series, k)
    ax.set_xlabel("class")
    ax.set_ylabel("FID of matched component")
    ax.set_title(f"{dataset}: per-class ICFID terms")
    ax.legend(fontsize=8)
    return _save_fig(fig, path)


def sample_figure(rec: Mapping[str, Any], models_root: Path, dest: Path) -> tuple[Path | None, str]:
    """The run's sample grid (one row or colour per component): the training stage's
    ``grids/final.png`` when present, else regenerated from ``model.pt`` with the same fixed noise."""
    run_dir = layout.run_dir(models_root, str(rec["dataset"]), str(rec["method"]), int(rec["seed"]))
    grid = run_dir / "grids" / "final.png"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if grid.is_file():
        from .grids import matched_labels, relabel

        k = len(rec.get("mixing_components") or []) or len(rec.get("assignment") or [])
        if not (k and relabel(grid, dest, matched_labels(dict(rec), k, rec.get("mixing_components")))):
            with atomic_path(dest, suffix=".png") as tmp:
                shutil.copyfile(grid, tmp)
        return dest, f"{grid}"
    if (run_dir / "model.pt").is_file():
        import torch

        from .experiment import load_trained
        from .training import component_samples, save_grid, use_ema

        m, ema, _meta = load_trained(run_dir, torch.device("cpu"))
        with use_ema(m, ema):
            samples = component_samples(m, 400 if m.info.modality == "points" else 8)
        save_grid(samples, dest, m.info.modality, m.info.value_range, title=f"{rec['method']} s{rec['seed']}")
        return dest, f"regenerated from {run_dir / 'model.pt'}"
    return None, f"no {grid} or model.pt (pull the train outputs: `dvc pull {run_dir}`)"


# ----------------------------------------------------------------------------- markdown
def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(
    dataset: str,
    by_m: Mapping[str, Sequence[Mapping[str, Any]]],
    tests: Sequence[Mapping[str, Any]],
    champion: Mapping[str, Any] | None,
    champion_note: str,
    figures: Mapping[str, Any],
    missing: Sequence[tuple[str, str, int]],
    reference: str,
) -> str:
    """The per-dataset report. ``figures`` paths are relative to the report folder."""
    recs = [r for lst in by_m.values() for r in lst]
    specs = metrics_present(recs)
    extractors = sorted({str(r.get("extractor")) for r in recs if r.get("extractor")})
    seeds = sorted({int(r["seed"]) for r in recs})
    out = [f"# {dataset}: benchmark report", ""]
    out.append(f"{len(recs)} run(s): methods {', '.join(by_m)}; seeds {', '.join(map(str, seeds))}. "
               f"Feature extractor: {', '.join(extractors) or '-'}. Generated by `ucgan report` from "
               f"`metrics/{dataset}/*.json`.")
    if missing:
        out += ["", "**Missing runs** (no metrics file yet): " + ", ".join(
            f"`evaluate@{d}-{m}-{s}`" for d, m, s in missing) + "."]
    # summary
    out += ["", "## Summary (mean ± std over seeds)", ""]
    best: dict[str, float] = {}
    for spec in specs:
        # the NMI of a method given its attributes by the cluster stage is not a learned number
        means = [stats(r.get(spec.key) for r in lst)[0] for lst in by_m.values()
                 if not (spec.key in ("nmi", "nmi_assignment", "purity") and _from_cluster_stage(lst))]
        fin = [m for m in means if m is not None]
        if len(fin) > 1:
            best[spec.key] = min(fin) if spec.better == "lower" else max(fin)
    header = ["method", "seeds"] + [f"{s.label} {'↓' if s.better == 'lower' else '↑'}" for s in specs]
    rows = []
    for method, lst in by_m.items():
        # a run conditioned on the true labels (InfoSCC-GAN attributes: labels) is not unsupervised
        cells = [method + (" (supervised)" if any(r.get("supervised") for r in lst) else ""), str(len(lst))]
        for spec in specs:
            if spec.key in CONDITIONAL_ONLY and lst and all(r.get("conditional") is False for r in lst):
                cells.append("n/a")
                continue
            txt = mean_std(r.get(spec.key) for r in lst)
            if spec.key in ("nmi", "nmi_assignment", "purity") and _from_cluster_stage(lst) and txt != "-":
                txt += " †"
            if spec.key == "modes_covered" and lst and lst[0].get("num_modes") is not None:
                txt += f" / {lst[0]['num_modes']}"
            m = stats(r.get(spec.key) for r in lst)[0]
            cells.append(f"**{txt}**" if spec.key in best and m == best[spec.key] else txt)
        rows.append(cells)
    out.append(_md_table(header, rows))
    clf = sorted({f"{r['attribute_classifier']} (test acc. {_num(finite(r.get('attribute_classifier_test_acc')))})"
                  for lst in by_m.values() for r in lst if r.get("attribute_classifier")})
    out += ["", "Bold: best mean per column. NMI (SLOGAN §4.3): k-means with k = number of classes on each "
            "method's own representation of the test split (" + _representations(by_m) + "); purity is on the same "
            "clustering; NMI (own assignment) is the method's native assignment rule. † the method's attributes come "
            "from the cluster stage (k-means on the SimCLR encoder it was given), so this NMI is not learned by the GAN "
            "and is not ranked. ICFID: SLOGAN Algorithm 2 with the same N real samples per class and fakes per "
            f"component for every method ({_icfid_n_text(recs)}); n/a for unconditional generators (no components). "
            "Mixing L1 counts the mass of components matched to no class as error; mixing L1 (grouped) gives each "
            "component to its FID-closest class, the fairer view for over-clustering methods (Self-Conditioned GAN's "
            "k = 50 / 100). Precision/recall: k-NN manifolds (Kynkäänniemi et al. 2019, k = 3) in the extractor's features. "
            "Class agreement: share of a component's samples that a label classifier fit on the real data "
            f"({', '.join(clf) or '-'}) assigns to the class ICFID matched it to; attribute control acc.: the "
            "papers' definition with the method's own classifier (InfoSCC-GAN, CGPGAN). Undefined values (an infinite "
            "ICFID when a class got no component) are left out of the means; the per-run table below shows them as `-`."]
    out += ["", "## Methods and variants", "",
            _md_table(["run id", "method", "settings"],
                      [[m, str(lst[0].get("base_method") or m),
                        "paper" if str(lst[0].get("base_method") or m) == m else
                        f"variant: {lst[0].get('variant_note') or 'see params.yaml'}"]
                       for m, lst in by_m.items()]),
            "", "A method's name always runs its paper's settings; options that change an algorithm run under "
            "a variant id declared in params.yaml (`methods.<method>.variants`, listed by `ucgan methods`)."]
    # champion
    out += ["", "## Champion", ""]
    if champion is None:
        out.append("No run has a finite ICFID, so no champion was chosen.")
    else:
        out.append(f"Lowest ICFID: **{champion['method']}**, seed {int(champion['seed'])} "
                   f"(ICFID {_num(finite(champion.get('icfid')))}, FID {_num(finite(champion.get('fid')))}). {champion_note}")
    # tests
    out += ["", f"## {reference} vs each method: Wilcoxon rank-sum test over seeds (SLOGAN appendix A.4)", ""]
    if reference not in by_m:
        out.append(f"`{reference}` is not in this benchmark's methods, so there is nothing to test against.")
    elif not tests:
        out.append("No other method to compare with.")
    else:
        header = ["metric"] + [m for m in by_m if m != reference]
        table = []
        for spec in specs:
            cells = [spec.label]
            for method in header[1:]:
                t = next((t for t in tests if t["metric"] == spec.key and t["method"] == method), None)
                cells.append(t["result"] if t else "-")
            table.append(cells)
        out.append(_md_table(header, table))
        out += ["", f"Two-sided exact Wilcoxon rank-sum (Mann-Whitney U, `scipy.stats.mannwhitneyu(method=\"exact\")`; "
                f"asymptotic with tie correction when values tie) of {reference}'s per-seed values against the other "
                f"method's; `*` marks p < {ALPHA}; the side named is better by median; d is Cohen's d "
                f"({reference} minus the other, pooled std). With n seeds on each side the exact test cannot give "
                "p below 2 / C(2n, n): 0.33 for 2 vs 2, 0.1 for 3 vs 3, 0.029 for 4 vs 4, so a significance claim "
                f"at {ALPHA} needs at least {min_seeds_for_significance()} seeds per method. "
                f"\"{NEEDS_SEEDS}\": add seeds under `train.seeds`."]
    # mixing
    out += ["", "## Learned vs true mixing", ""]
    if figures.get("mixing"):
        out.append(f"![learned vs true mixing]({figures['mixing']})")
        out.append("")
    true = _first_list(by_m, "mixing_true")
    if true:
        header = ["class", "true"] + list(by_m)
        per = {m: _per_class_stats(lst, "mixing_learned") for m, lst in by_m.items()}
        table = []
        for c, t in enumerate(true):
            cells = [str(c), _num(float(t))]
            for m in by_m:
                st = per[m][c] if c < len(per[m]) else (None, None)
                cells.append("-" if st[0] is None else (_num(st[0]) if st[1] is None else f"{_num(st[0])} ± {_num(st[1], 2)}"))
            table.append(cells)
        out.append(_md_table(header, table))
        out += ["", "Learned share of the component matched to each class (ICFID's assignment); methods "
                "that learn no mixing are shown with the uniform prior they assume."]
    # icfid per class
    out += ["", "## Per-class ICFID", ""]
    if figures.get("icfid"):
        out.append(f"![per-class ICFID]({figures['icfid']})")
        out.append("")
    per_icfid = {m: _per_class_stats(lst, "icfid_per_class") for m, lst in by_m.items()}
    k = max((len(v) for v in per_icfid.values()), default=0)
    if k:
        header = ["class"] + list(by_m)
        table = [[str(c)] + ["-" if c >= len(per_icfid[m]) or per_icfid[m][c][0] is None else
                             (_num(per_icfid[m][c][0]) if per_icfid[m][c][1] is None else
                              f"{_num(per_icfid[m][c][0])} ± {_num(per_icfid[m][c][1], 2)}") for m in by_m]
                 for c in range(k)]
        out.append(_md_table(header, table))
    # samples
    out += ["", "## Samples", "", "One row (images) or colour (2-D) per component, fixed noise."]
    for method in by_m:
        for label, (path, src) in figures.get("samples", {}).get(method, []):
            out += ["", f"### {method} ({label})", ""]
            out.append(f"![{method} {label}]({path})" if path else f"_not available: {src}_")
    # runs
    out += ["", "## Runs", ""]
    header = ["method", "seed"] + [s.label for s in specs] + ["metrics"]
    table = []
    for method, lst in by_m.items():
        for r in lst:
            table.append([method, str(int(r["seed"]))] + [_num(finite(r.get(s.key))) for s in specs]
                         + [f"`{r.get('_path', '')}`"])
    out.append(_md_table(header, table))
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- the stage
@dataclasses.dataclass
class ReportResult:
    out_dir: Path
    datasets: list[str]
    files: list[Path]
    champions: dict[str, dict[str, Any]]  # dataset -> {method, seed, icfid, version}
    missing: list[tuple[str, str, int]]


def build_report(
    records: Sequence[Mapping[str, Any]],
    out_dir: str | Path = "reports",
    models_root: str | Path = "models",
    reference: str = REFERENCE_METHOD,
    missing: Sequence[tuple[str, str, int]] = (),
    registry: Any = None,
    claims: Sequence[Any] = (),
    sweeps: Mapping[str, Any] | None = None,
    claim_stages: Mapping[tuple[str, str], Sequence[str]] | None = None,
) -> ReportResult:
    """Write every report file for ``records``. ``registry`` (optional) is a callable
    ``(dataset, champion_record, records_of_dataset) -> note`` that registers runs and sets the
    alias; the report stage passes one bound to the tracking config, tests pass None. ``claims``
    (:class:`ucgan.claims.Claim`) add ``claims.md`` and ``claims.json``; ``sweeps`` (name ->
    :class:`ucgan.sweeps.SweepSpec`) add ``sweeps/<name>.md`` with its figures and plot data."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not records:
        raise DataError("no metrics files found for the run matrix; run the evaluate stages first (`dvc repro`)")
    files: list[Path] = []
    summary = summarize(records)
    p = out / "summary.csv"
    write_text(p, _csv_text(summary, summary_columns(summary)))
    files.append(p)
    tests = rank_sum_tests(records, reference)
    p = out / "wilcoxon.csv"
    write_text(p, _csv_text(tests, ["dataset", "metric", "reference", "method", "n_reference", "n_method",
                                    "statistic", "p_value", "cohens_d", "min_p_possible", "result"]))
    files.append(p)
    files += write_plot_data(records, out / "plots")
    files += copy_loss_curves(records, Path(models_root), out / "plots" / "losses")
    champs = champions(records)
    result_champs: dict[str, dict[str, Any]] = {}
    grouped = _group(records)
    for d, by_m in grouped.items():
        fig_dir = out / "figures" / d
        figs: dict[str, Any] = {"samples": {}}
        f = plot_mixing(d, by_m, fig_dir / "mixing.png")
        if f:
            figs["mixing"] = f.relative_to(out).as_posix()
            files.append(f)
        f = plot_icfid_per_class(d, by_m, fig_dir / "icfid_per_class.png")
        if f:
            figs["icfid"] = f.relative_to(out).as_posix()
            files.append(f)
        champ = champs.get(d)
        for method, lst in by_m.items():
            chosen = [lst[0]]
            if champ is not None and champ["method"] == method and champ is not lst[0]:
                chosen.append(champ)
            entries = []
            for r in chosen:
                dest = fig_dir / "samples" / f"{layout.run_name(method, int(r['seed']))}.png"
                path, src = sample_figure(r, Path(models_root), dest)
                if path:
                    files.append(path)
                label = f"seed {int(r['seed'])}" + (", champion" if r is champ else "")
                entries.append((label, (path.relative_to(out).as_posix() if path else None, src)))
            figs["samples"][method] = entries
        note = ""
        if champ is not None:
            result_champs[d] = {"method": champ["method"], "seed": int(champ["seed"]), "icfid": finite(champ.get("icfid"))}
            if registry is not None:
                note = registry(d, champ, [r for lst in by_m.values() for r in lst])
                result_champs[d]["note"] = note
        md = render_markdown(d, by_m, [t for t in tests if t["dataset"] == d], champ, note, figs,
                             [m for m in missing if m[0] == d], reference)
        p = out / f"{d}.md"
        write_text(p, md)
        files.append(p)
    if claims:
        from .claims import claims_json, claims_markdown, evaluate_claims
        from .io import write_json

        rows = evaluate_claims(claims, records, claim_stages)
        write_text(out / "claims.md", claims_markdown(rows))
        write_json(out / "claims.json", claims_json(rows))
        files += [out / "claims.md", out / "claims.json"]
    for name, spec in (sweeps or {}).items():
        from .sweeps import write_sweep

        files += write_sweep(name, spec, records, out, Path(models_root))
    return ReportResult(out, list(grouped), files, result_champs, list(missing))


def registry_hook(tracking_cfg: Any, models_root: str | Path) -> Any:
    """The ``registry`` callable of :func:`build_report`: point ``champion`` at the best run's
    version. The evaluate stage registered every run; a champion without a version (evaluated while
    tracking was off) is registered here. Returns the sentence for the report."""
    from .registry import CHAMPION_ALIAS, model_name, register_generator, registered_version, set_champion

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


#: the papers' claims checked by every report (``--claims ''`` skips them)
DEFAULT_CLAIMS = "benchmarks/claims.yaml"


def run_report(params_path: str = "params.yaml", out_dir: str = "reports", datasets: Sequence[str] = (),
               reference: str = REFERENCE_METHOD, use_registry: bool = True,
               claims_path: str | None = DEFAULT_CLAIMS) -> ReportResult:
    """The stage: read the runs from params.yaml, build the report (and the claims table when
    ``claims_path`` is given), set the champions."""
    from . import params as P

    prm = P.load(params_path)
    tsec, esec = prm.train, prm.evaluate
    claims = []
    if claims_path and (claims_path != DEFAULT_CLAIMS or Path(claims_path).is_file()):  # the default is optional
        from .claims import load_claims

        claims = load_claims(claims_path)  # a bad claims file stops here, before any work
    names = list(datasets) or list(tsec.datasets)
    unknown = [d for d in names if d not in tsec.datasets]
    if unknown:
        raise UcganError(f"--dataset {unknown[0]} is not in train.datasets of {params_path} ({tsec.datasets})")
    hook = None
    if use_registry and prm.tracking.enabled:
        from .tracking import check_reachable, resolve_uri

        check_reachable(resolve_uri(prm.tracking))  # fail in seconds, before any work
        hook = registry_hook(prm.tracking, tsec.out_root)
    runs = load_runs(esec.out_root, [r for r in tsec.all_runs() if r[0] in names])
    from .sweeps import load_sweeps

    listed = {(r.dataset, r.method, r.seed): i for i, r in enumerate(tsec.runs)}
    stages: dict[tuple[str, str], list[str]] = {}
    for d, m, s in tsec.all_runs():  # each claim's rerun command names the stages of its runs
        stages.setdefault((d, m), []).append(layout.evaluate_stage(d, m, s, listed.get((d, m, s))))
    return build_report(runs.records, out_dir, tsec.out_root, reference, runs.missing, hook, claims,
                        load_sweeps(prm.raw), stages)




@click.command("report")
@PARAMS_OPTION
@click.option("--out", "out_dir", default="reports", show_default=True, help="Report folder.")
@click.option("--dataset", "datasets", multiple=True, help="Only these datasets (repeatable). Default: train.datasets.")
@click.option("--reference", default=REFERENCE_METHOD, show_default=True,
              help="Method tested against every other one (Wilcoxon rank-sum).")
@click.option("--registry/--no-registry", "use_registry", default=True, show_default=True,
              help="Register the runs in MLflow and set the `champion` alias (when tracking.enabled).")
@click.option("--claims", "claims_path", default=DEFAULT_CLAIMS, show_default=True,
              help="Claims file (benchmarks/claims.yaml): writes claims.md and claims.json; '' skips them.")
def report_command(params_path: str, out_dir: str, datasets: tuple[str, ...], reference: str, use_registry: bool,
                   claims_path: str) -> None:
    """Tables (mean ± std over seeds), Wilcoxon tests, pictures, DVC plot data; sets the champions."""
    from . import params as P
    from .preflight import preflight

    preflight([Path(out_dir) / "summary.csv"], tracking=P.load(params_path).tracking if use_registry else None,
              what=f"the report {out_dir}")
    res = run_report(params_path, out_dir, datasets, reference, use_registry, claims_path or None)
    for d in res.datasets:
        c = res.champions.get(d)
        line = f"{d}: champion {c['method']} seed {c['seed']} (ICFID {_num(c['icfid'])})" if c else f"{d}: no champion"
        click.echo(line + (f"; {c['note']}" if c and c.get("note") else ""))
    if res.missing:
        click.echo(f"warning: {len(res.missing)} run(s) have no metrics yet: "
                   + ", ".join(f"{d}/{layout.run_name(m, s)}" for d, m, s in res.missing), err=True)
    click.echo(f"report: {res.out_dir / 'summary.csv'} and " + ", ".join(str(res.out_dir / f'{d}.md') for d in res.datasets))


if __name__ == "__main__":  # `python -m ucgan.report` works before the CLI wiring exists
    report_command()
