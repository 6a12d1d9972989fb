"""The report's data files: CSV text, DVC plot data per dataset, the copied loss curves.

Why apart: these are what ``dvc plots show/diff`` and a spreadsheet read (``summary.csv``,
``wilcoxon.csv``, ``plots/<kind>/<dataset>.csv``, ``plots/losses/``); their formats are fixed by
:mod:`ucgan.plotdata` and by the columns here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .. import layout
from ..plotdata import _csv
from .runs import group_runs
from .specs import METRICS


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV text (floats as ``repr``, ``None`` empty): the one dialect of every report file,
    the plot data's (:mod:`ucgan.plotdata`)."""
    return _csv(rows, columns)


def summary_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns of ``summary.csv``: the run's identity, then mean, std and n of each metric present."""
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
    from ..plotdata import write_dataset_plots

    return write_dataset_plots(group_runs(records), plots_dir)


def copy_loss_curves(records: Iterable[Mapping[str, Any]], models_root: Path, dest_root: Path) -> list[Path]:
    """``models/<d>/<m>-s<s>/losses.csv`` -> ``reports/plots/losses/<d>/<m>-s<s>.csv`` in long format
    (``step, value, term``; see :mod:`ucgan.plotdata`).

    Why a copy: DVC refuses a plot file *inside* a stage's output directory (the train stage's
    ``outs`` is the whole run folder: "overlapping outputs"), while a top-level plot on this folder
    gives one loss chart per run in ``dvc plots show/diff``.
    """
    from ..plotdata import write_loss_plots

    runs = [(str(r["dataset"]), layout.run_name(str(r["method"]), int(r["seed"])),
             layout.run_dir(models_root, str(r["dataset"]), str(r["method"]), int(r["seed"])) / "losses.csv")
            for r in records]
    return write_loss_plots(runs, dest_root)
