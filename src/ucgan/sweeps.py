"""Imbalance sweeps: how each method holds up as one attribute becomes rare.

Why a section of its own: the question users bring is "which method still finds and sizes my
attributes when one of them is rare?". A sweep is a list of datasets that differ only in the share of
one attribute (the SLOGAN ring at 1:1 ... 1:9, MNIST-2 from 9:1 to 1:9, MNIST with one class at 0.1
of the others). It is declared in params.yaml::

    sweeps:
      ring-imbalance:
        datasets: [ring8-1to1, ring8-1to3, ring8-1to5, ring8-1to9]
        classes: [0, 1, 2, 3]     # the tracked attribute: these classes together
        label: the four small modes

and the report stage writes, per sweep, ``reports/sweeps/<name>.md`` with the summary table, the
figures (learned vs true share of the tracked attribute with the y = x line, ICFID and the tracked
classes' own FID against the imbalance, samples of the rare component at the most extreme ratio) and
``reports/plots/sweep_*/<name>.csv`` for ``dvc plots``.

Per run, from its metrics file (components matched to classes by ICFID's matching):

* ``true_share`` = sum of ``mixing_true`` over the tracked classes, ``learned_share`` the same sum of
  ``mixing_learned``;
* ``imbalance`` = largest / smallest true class share of the dataset (1 = balanced);
* ``rare_fid`` = mean of ``icfid_per_class`` over the tracked classes;
* ``rare_generated``: every tracked class has a matched component with a finite FID *and* a component
  of its own (a grouped share above 0: some component generates mostly that class). Why both: the
  matching gives every class a component even when none generates it (in SLOGAN A.7 at 10 %, SLOGAN's
  8s are matched to a component of another digit), and with a rare class's true share of 0.01 a learned
  share of 0 is within any absolute tolerance, so the share alone would credit a method that lost it.

The summary gives, per method, the largest imbalance *up to which* it holds: at every dataset of the
sweep with that imbalance or less, the learned share is within ``tolerance`` (0.05) of the truth (mean
over seeds) and the rare component is generated in every seed. A pass beyond a failure does not count
(MNIST-2 at 7:3 and 3:7 have the same imbalance: a method must hold at both), and the datasets where it
fails are listed beside it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from . import layout
from .errors import ConfigError
from .numbers import finite, stats
from .sweeps_config import SHARE_TOLERANCE, SweepSpec, load_sweeps  # noqa: F401  (re-exported)


def run_row(rec: Mapping[str, Any], classes: Sequence[int]) -> dict[str, Any] | None:
    """The sweep quantities of one metrics record (``None`` when it has no true mixing)."""
    true = rec.get("mixing_true")
    if not true:
        return None
    t = np.asarray(true, float)
    if max(classes) >= len(t):
        raise ConfigError(f"sweep classes {list(classes)} do not exist in {rec.get('dataset')} ({len(t)} classes)")
    # every component counted for the class holding most of its samples, so an over-clustering method
    # (Self-Conditioned GAN's k = 50) is not judged by the one component matched per class
    grouped = rec.get("mixing_learned_grouped")
    learned = grouped or rec.get("mixing_learned")
    per_class = rec.get("icfid_per_class") or []
    assignment = rec.get("assignment") or []
    rare = [finite(per_class[c]) if c < len(per_class) else None for c in classes]
    own = not grouped or all(c < len(grouped) and float(grouped[c]) > 0.0 for c in classes)
    generated = bool(assignment) and all(c < len(assignment) and assignment[c] is not None and int(assignment[c]) >= 0
                                         for c in classes) and all(v is not None for v in rare) and own
    return {
        "dataset": str(rec["dataset"]), "method": str(rec["method"]), "seed": int(rec["seed"]),
        "true_share": float(t[list(classes)].sum()),
        "learned_share": None if learned is None else float(np.asarray(learned, float)[list(classes)].sum()),
        "imbalance": float(t.max() / t.min()) if t.min() > 0 else math.inf,
        "icfid": finite(rec.get("icfid")),
        "rare_fid": None if any(v is None for v in rare) else float(np.mean([v for v in rare if v is not None])),
        "rare_generated": generated,
        "given": rec.get("attributes_from") == "cluster-stage",
    }


def _stats(vals: Sequence[float | None]) -> tuple[float | None, float | None]:
    m, sd, n = stats(vals)
    return m, (0.0 if n == 1 else sd)


def aggregate(rows: Sequence[Mapping[str, Any]], datasets: Sequence[str]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per (method, dataset), datasets in the sweep's order."""
    out = []
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for m in methods:
        for d in datasets:
            rs = [r for r in rows if r["method"] == m and r["dataset"] == d]
            if not rs:
                continue
            row: dict[str, Any] = {"method": m, "dataset": d, "n_seeds": len(rs), "true_share": rs[0]["true_share"],
                                   "imbalance": rs[0]["imbalance"],
                                   "rare_generated_all_seeds": all(r["rare_generated"] for r in rs),
                                   "given": any(r.get("given") for r in rs)}
            for key in ("learned_share", "icfid", "rare_fid"):
                row[key], row[key + "_std"] = _stats([r[key] for r in rs])
            out.append(row)
    return out


def summary(agg: Sequence[Mapping[str, Any]], tolerance: float = SHARE_TOLERANCE) -> list[dict[str, Any]]:
    """Per method: the largest imbalance up to which the tracked share is within ``tolerance`` of the
    truth (mean over seeds) and the rare component is generated in every seed, at every dataset of
    that imbalance or less (why: a user asks how far a method can be trusted, not where it got lucky)."""
    out = []
    for m in dict.fromkeys(a["method"] for a in agg):
        rows = [a for a in agg if a["method"] == m]
        ok = [a for a in rows if a["learned_share"] is not None and abs(a["learned_share"] - a["true_share"]) <= tolerance
              and a["rare_generated_all_seeds"]]
        failed = [a["dataset"] for a in rows if a not in ok]
        first_fail = min((a["imbalance"] for a in rows if a not in ok), default=math.inf)
        held = [a for a in ok if a["imbalance"] < first_fail]
        best = max(held, key=lambda a: a["imbalance"]) if held else None
        out.append({"method": m, "given": any(a.get("given") for a in rows), "largest_imbalance_ok": None if best is None else best["imbalance"],
                    "at_dataset": None if best is None else best["dataset"], "failed_at": failed,
                    "n_datasets": len(rows), "seeds": sorted({a["n_seeds"] for a in rows})})
    return out


# ----------------------------------------------------------------------------- files
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _errorbar_plot(agg: Sequence[Mapping[str, Any]], x: str, y: str, path: Path, title: str, xlabel: str,
                   ylabel: str, diagonal: bool = False, logy: bool = False) -> Path | None:
    pts = [a for a in agg if a.get(y) is not None]
    if not pts:
        return None
    from .io import atomic_path

    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for m in dict.fromkeys(a["method"] for a in pts):
        rs = sorted((a for a in pts if a["method"] == m), key=lambda a: a[x])
        ax.errorbar([a[x] for a in rs], [a[y] for a in rs], yerr=[a[y + "_std"] or 0.0 for a in rs], marker="o",
                    capsize=3, label=m)
    if diagonal:
        lo = min(0.0, min(a[x] for a in pts))
        hi = max(a[x] for a in pts)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="truth (y = x)")
    if logy:
        ax.set_yscale("log")
    if x == "imbalance":
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def rare_samples(rows: Sequence[Mapping[str, Any]], classes: Sequence[int], records: Sequence[Mapping[str, Any]],
                 models_root: Path, out_dir: Path) -> dict[str, tuple[str | None, str]]:
    """Per method at the sweep's most extreme dataset (lowest seed): samples of the component
    matched to the first tracked class, drawn from ``model.pt`` (EMA generator when trained with one)."""
    if not rows:
        return {}
    extreme = max(rows, key=lambda r: (r["imbalance"], -r["true_share"]))["dataset"]
    out: dict[str, tuple[str | None, str]] = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        recs = sorted((r for r in records if r["dataset"] == extreme and r["method"] == m), key=lambda r: int(r["seed"]))
        if not recs:
            continue
        rec = recs[0]
        comp = (rec.get("assignment") or [None] * (max(classes) + 1))[classes[0]]
        run_dir = layout.run_dir(models_root, extreme, m, int(rec["seed"]))
        if comp is None or int(comp) < 0:
            out[m] = (None, f"no component matched to class {classes[0]} in {run_dir.name}")
            continue
        if not (run_dir / "model.pt").is_file():
            out[m] = (None, f"no {run_dir / 'model.pt'} (pull the train outputs: `dvc pull {run_dir}`)")
            continue
        import torch

        from .experiment import load_trained
        from .training import save_grid, use_ema

        method, ema, _meta = load_trained(run_dir, torch.device("cpu"))
        n = 400 if method.info.modality == "points" else 16
        gen = torch.Generator().manual_seed(1234)
        with use_ema(method, ema), torch.no_grad():
            was = {k: mod.training for k, mod in method.modules().items()}
            method.eval()
            try:
                x = method.sample(n, int(comp), gen).detach().cpu()
            finally:
                for k, mod in method.modules().items():
                    mod.train(was[k])
        dest = out_dir / f"{m}.png"
        save_grid([x], dest, method.info.modality, method.info.value_range,
                  title=f"{m} s{int(rec['seed'])}: component {int(comp)} (class {classes[0]}) on {extreme}")
        out[m] = (dest.name, f"{run_dir / 'model.pt'}")
    return out


def write_sweep(name: str, spec: SweepSpec, records: Sequence[Mapping[str, Any]], out: Path,
                models_root: Path) -> list[Path]:
    """Every file of one sweep under the report folder ``out``; returns them."""
    from .io import write_text

    rows = [r for r in (run_row(rec, spec.classes) for rec in records if rec.get("dataset") in spec.datasets) if r]
    agg = aggregate(rows, spec.datasets)
    summ = summary(agg, spec.tolerance)
    fig_dir = out / "sweeps" / name
    files: list[Path] = []
    label = spec.label or f"classes {spec.classes}"
    figs = {
        "share": _errorbar_plot(agg, "true_share", "learned_share", fig_dir / "share.png",
                                f"{name}: learned vs true share of {label}", "true share", "learned share", diagonal=True),
        "icfid": _errorbar_plot(agg, "imbalance", "icfid", fig_dir / "icfid.png", f"{name}: ICFID vs imbalance",
                                "imbalance (largest / smallest class share)", "ICFID", logy=True),
        "rare_fid": _errorbar_plot(agg, "true_share", "rare_fid", fig_dir / "rare_fid.png",
                                   f"{name}: FID of the {label} component(s)", "true share of " + label,
                                   "per-class FID", logy=True),
    }
    files += [p for p in figs.values() if p]
    samples = rare_samples(rows, spec.classes, records, Path(models_root), fig_dir / "rare")
    files += [fig_dir / "rare" / f for f, _ in samples.values() if f]
    # DVC plot data: one CSV per sweep and kind (x, y, y_lo, y_hi, method)
    for kind, x, y in (("sweep_share", "true_share", "learned_share"), ("sweep_icfid", "imbalance", "icfid"),
                       ("sweep_rare_fid", "true_share", "rare_fid")):
        lines = [f"panel,method,dataset,{x},{y},{y}_lo,{y}_hi,n_seeds"]
        for a in agg:
            if a[y] is None:
                continue
            s = a[y + "_std"] or 0.0
            lines.append(f"{name},{a['method']},{a['dataset']},{a[x]:.6g},{a[y]:.6g},{a[y] - s:.6g},{a[y] + s:.6g},"
                         f"{a['n_seeds']}")
        if kind == "sweep_share":  # the y = x line as its own series (DVC's templates draw one data set)
            for d in spec.datasets:
                t = next((a["true_share"] for a in agg if a["dataset"] == d), None)
                if t is not None:
                    lines.append(f"{name},truth (y = x),{d},{t:.6g},{t:.6g},{t:.6g},{t:.6g},0")
        p = out / "plots" / kind / f"{name}.csv"
        write_text(p, "\n".join(lines) + "\n")
        files.append(p)

    def f(v: Any, nd: int = 3) -> str:
        return "—" if v is None else (f"{v:.{nd}g}" if isinstance(v, float) else str(v))

    md = [f"# Sweep `{name}`: {label}", "",
          f"Datasets (mild to extreme as declared): {', '.join(spec.datasets)}. Tracked attribute: classes "
          f"{spec.classes} ({label}). Mean ± std over seeds. Learned share: every component counted for the class "
          "holding most of its samples (`mixing_learned_grouped`); † = the shares are the cluster stage's, given to "
          "the method, not learned by it. Generated: every tracked class has a component of its own (a learned "
          "share above 0) and a matched component with a finite FID.", "",
          "## Summary", "",
          f"Largest imbalance (largest / smallest class share) up to which the learned share of {label} is within "
          f"{spec.tolerance:g} of the truth (mean over seeds) and a component of its own generates it in every seed, at every "
          "dataset of the sweep with that imbalance or less (a pass beyond a failure does not count; the failures "
          "are listed):", "",
          "| method | holds up to imbalance | at | fails at | seeds |", "|---|---|---|---|---|"]
    for s in summ:
        md.append(f"| {s['method']}{' †' if s.get('given') else ''} | {f(s['largest_imbalance_ok'])} | {s['at_dataset'] or '—'} | "
                  f"{', '.join(s['failed_at']) or '—'} | {', '.join(map(str, s['seeds']))} |")
    md += ["", "## Per dataset", "",
           "| method | dataset | imbalance | true share | learned share | ICFID | FID of the tracked class(es) | generated in every seed | seeds |",
           "|---|---|---|---|---|---|---|---|---|"]
    for a in agg:
        md.append(f"| {a['method']}{' †' if a.get('given') else ''} | {a['dataset']} | {f(a['imbalance'])} | {f(a['true_share'])} | "
                  f"{f(a['learned_share'])} ± {f(a['learned_share_std'], 2)} | {f(a['icfid'])} ± {f(a['icfid_std'], 2)} | "
                  f"{f(a['rare_fid'])} ± {f(a['rare_fid_std'], 2)} | {'yes' if a['rare_generated_all_seeds'] else 'no'} | "
                  f"{a['n_seeds']} |")
    md += ["", "## Figures", ""]
    for key, title in (("share", "Learned vs true share (y = x is the truth)"), ("icfid", "ICFID vs imbalance"),
                       ("rare_fid", "FID of the tracked class(es)")):
        if figs[key]:
            md.append(f"![{title}]({name}/{key}.png)")
    if samples:
        md += ["", "### The rare component at the most extreme ratio", ""]
        for m, (fname, src) in samples.items():
            md.append(f"- {m}: ![{m}]({name}/rare/{fname})" if fname else f"- {m}: {src}")
    p = out / "sweeps" / f"{name}.md"
    write_text(p, "\n".join(md) + "\n")
    files.append(p)
    return files
