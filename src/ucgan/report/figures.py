"""The report's pictures: learned vs true mixing, per-class ICFID bars, each run's sample grid.

Why apart: matplotlib (imported inside, Agg backend) and the trained models (regenerated samples)
are needed only here; figures are written atomically without a timestamp, so an unchanged report
gives identical files.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import layout
from ..io import atomic_path
from .summary import first_list, per_class_stats


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


#: one bar series: (label, per-class means, per-class stds); ``None`` where a class has no value
Series = tuple[str, list[float | None], list[float | None]]


def _bar_chart(series: list[Series], k: int, ylabel: str, title: str, path: Path) -> Path:
    """Grouped bars over the ``k`` classes, one group member per series (the ``true`` series greyed),
    error bars from the stds; saved as ``path``."""
    import numpy as np

    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * k * len(series) / 2 + 3), 3.5))
    width = 0.8 / max(1, len(series))
    x = np.arange(k)
    for i, (label, means, stds) in enumerate(series):
        m = [np.nan if v is None else v for v in means] + [np.nan] * (k - len(means))
        s = [0.0 if v is None else v for v in stds] + [0.0] * (k - len(stds))
        kw = {"color": "black", "alpha": 0.25, "edgecolor": "black"} if label == "true" else {}
        ax.bar(x - 0.4 + width * (i + 0.5), m, width, yerr=s if any(s) else None, label=label, capsize=2, **kw)
    ax.set_xticks(x)
    ax.set_xticklabels([str(c) for c in range(k)])
    ax.set_xlabel("class")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save_fig(fig, path)


def plot_mixing(dataset: str, by_m: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path | None:
    """Learned (mean ± std over seeds, after ICFID's matching) vs true class shares."""
    true = first_list(by_m, "mixing_true")
    if not true:
        return None
    k = len(true)
    series: list[Series] = [("true", list(true), [None] * k)]
    for method, lst in by_m.items():
        st = per_class_stats(lst, "mixing_learned")
        series.append((method, [m for m, _ in st], [s for _, s in st]))
    return _bar_chart(series, k, "share", f"{dataset}: learned vs true mixing", path)


def plot_icfid_per_class(dataset: str, by_m: Mapping[str, Sequence[Mapping[str, Any]]], path: Path) -> Path | None:
    """Per-class FID of the matched component (the terms ICFID averages), mean ± std over seeds."""
    series: list[Series] = []
    k = 0
    for method, lst in by_m.items():
        st = per_class_stats(lst, "icfid_per_class")
        if st:
            k = max(k, len(st))
            series.append((method, [m for m, _ in st], [s for _, s in st]))
    if not series:
        return None
    return _bar_chart(series, k, "FID of matched component", f"{dataset}: per-class ICFID terms", path)


def sample_figure(rec: Mapping[str, Any], models_root: Path, dest: Path) -> tuple[Path | None, str]:
    """The run's sample grid (one row or colour per component): the training stage's
    ``grids/final.png`` when present, else regenerated from ``model.pt`` with the same fixed noise."""
    run_dir = layout.run_dir(models_root, str(rec["dataset"]), str(rec["method"]), int(rec["seed"]))
    grid = run_dir / "grids" / "final.png"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if grid.is_file():
        from ..grids import matched_labels, relabel

        k = len(rec.get("mixing_components") or []) or len(rec.get("assignment") or [])
        if not (k and relabel(grid, dest, matched_labels(dict(rec), k, rec.get("mixing_components")))):
            with atomic_path(dest, suffix=".png") as tmp:
                shutil.copyfile(grid, tmp)
        return dest, f"{grid}"
    if (run_dir / "model.pt").is_file():
        import torch

        from ..experiment import load_trained
        from ..training import component_samples, save_grid, use_ema

        m, ema, _meta = load_trained(run_dir, torch.device("cpu"))
        with use_ema(m, ema):
            samples = component_samples(m, 400 if m.info.modality == "points" else 8)
        save_grid(samples, dest, m.info.modality, m.info.value_range, title=f"{rec['method']} s{rec['seed']}")
        return dest, f"regenerated from {run_dir / 'model.pt'}"
    return None, f"no {grid} or model.pt (pull the train outputs: `dvc pull {run_dir}`)"
