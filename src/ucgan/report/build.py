"""The report stage itself: every file for a set of records, and the run of the stage from params.yaml.

Why apart: :func:`build_report` is where the pieces meet (tables, tests, figures, plot data, claims,
sweeps, the champion hook) and :func:`run_report` is what ``ucgan report`` calls: it reads the run
matrix of params.yaml, the claims file and the sweeps, and checks the tracking server before any work.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import layout
from ..errors import DataError, UcganError
from ..io import write_text
from ..numbers import finite
from .champion import champions, registry_hook
from .datafiles import copy_loss_curves, csv_text, summary_columns, write_plot_data
from .figures import plot_icfid_per_class, plot_mixing, sample_figure
from .markdown import render_markdown
from .runs import group_runs, load_runs
from .significance import REFERENCE_METHOD, rank_sum_tests
from .summary import summarize


@dataclasses.dataclass
class ReportResult:
    """What :func:`build_report` wrote, and the champions it chose."""

    out_dir: Path
    datasets: list[str]
    files: list[Path]
    champions: dict[str, dict[str, Any]]  # dataset -> {method, seed, icfid, version}
    missing: list[tuple[str, str, int]]


def build_report(
    records: Sequence[Mapping[str, Any]],
    out_dir: str | Path = "reports",
    models_root: str | Path = layout.MODELS,
    reference: str = REFERENCE_METHOD,
    missing: Sequence[tuple[str, str, int]] = (),
    registry: Any = None,
    claims: Sequence[Any] = (),
    sweeps: Mapping[str, Any] | None = None,
    claim_stages: Mapping[tuple[str, str], Sequence[str]] | None = None,
    paper_tables: Sequence[Any] = (),
) -> ReportResult:
    """Write every report file for ``records``. ``registry`` (optional) is a callable
    ``(dataset, champion_record, records_of_dataset) -> note`` that registers runs and sets the
    alias; the report stage passes one bound to the tracking config, tests pass None. ``claims``
    (:class:`ucgan.claims.Claim`) add ``claims.md`` and ``claims.json``; ``sweeps`` (name ->
    :class:`ucgan.sweeps.SweepSpec`) add ``sweeps/<name>.md`` with its figures and plot data.
    ``<method>-defaults`` runs with a tuned counterpart add ``defaults_gap.md`` / ``.json``;
    ``paper_tables`` (:class:`ucgan.orderings.PaperTable`) add ``orderings.md`` / ``.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not records:
        raise DataError("no metrics files found for the run matrix; run the evaluate stages first (`dvc repro`)")
    files: list[Path] = []
    summary = summarize(records)
    p = out / "summary.csv"
    write_text(p, csv_text(summary, summary_columns(summary)))
    files.append(p)
    tests = rank_sum_tests(records, reference)
    p = out / "wilcoxon.csv"
    write_text(p, csv_text(tests, ["dataset", "metric", "reference", "method", "n_reference", "n_method",
                                   "statistic", "p_value", "cohens_d", "min_p_possible", "result"]))
    files.append(p)
    files += write_plot_data(records, out / "plots")
    files += copy_loss_curves(records, Path(models_root), out / "plots" / "losses")
    champs = champions(records)
    result_champs: dict[str, dict[str, Any]] = {}
    grouped = group_runs(records)
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
        from ..claims import claims_json, claims_markdown, evaluate_claims
        from ..io import write_json

        rows = evaluate_claims(claims, records, claim_stages)
        write_text(out / "claims.md", claims_markdown(rows))
        write_json(out / "claims.json", claims_json(rows))
        files += [out / "claims.md", out / "claims.json"]
    from ..defaults_gap import defaults_gap, defaults_gap_markdown

    gap = defaults_gap(records)
    if gap:  # <method>-defaults runs beside tuned ones: how far a new dataset's untuned run falls
        from ..io import write_json

        write_text(out / "defaults_gap.md", defaults_gap_markdown(gap))
        write_json(out / "defaults_gap.json", gap)
        files += [out / "defaults_gap.md", out / "defaults_gap.json"]
    if paper_tables:  # a paper's comparison table: does our order of the methods match the paper's?
        from ..io import write_json
        from ..orderings import compare_orderings, orderings_markdown

        order_rows = compare_orderings(paper_tables, records)
        write_text(out / "orderings.md", orderings_markdown(order_rows))
        write_json(out / "orderings.json", order_rows)
        files += [out / "orderings.md", out / "orderings.json"]
    for name, spec in (sweeps or {}).items():
        from ..sweeps import write_sweep

        files += write_sweep(name, spec, records, out, Path(models_root))
    return ReportResult(out, list(grouped), files, result_champs, list(missing))


#: the papers' claims checked by every report (``--claims ''`` skips them)
DEFAULT_CLAIMS = "benchmarks/claims.yaml"
#: the papers' comparison tables whose method order every report checks (``--paper-tables ''`` skips them)
DEFAULT_PAPER_TABLES = "benchmarks/paper_tables.yaml"


def _wanted(path: str | None, default: str) -> bool:
    """A data file the report reads: a named one must exist (its loader says so); the default is optional."""
    return bool(path) and (path != default or Path(str(path)).is_file())


def run_report(params_path: str = "params.yaml", out_dir: str = "reports", datasets: Sequence[str] = (),
               reference: str = REFERENCE_METHOD, use_registry: bool = True,
               claims_path: str | None = DEFAULT_CLAIMS,
               paper_tables_path: str | None = DEFAULT_PAPER_TABLES) -> ReportResult:
    """The stage: read the runs from params.yaml, build the report (and the claims table when
    ``claims_path`` is given, the orderings when ``paper_tables_path`` is), set the champions."""
    from .. import params as P

    prm = P.load(params_path)
    tsec, esec = prm.train, prm.evaluate
    claims = []
    if _wanted(claims_path, DEFAULT_CLAIMS):
        from ..claims import load_claims

        claims = load_claims(claims_path)  # a bad claims file stops here, before any work
    tables = []
    if _wanted(paper_tables_path, DEFAULT_PAPER_TABLES):
        from ..orderings import load_paper_tables

        tables = load_paper_tables(paper_tables_path)  # likewise
    names = list(datasets) or list(tsec.datasets)
    unknown = [d for d in names if d not in tsec.datasets]
    if unknown:
        raise UcganError(f"--dataset {unknown[0]} is not in train.datasets of {params_path} ({tsec.datasets})")
    hook = None
    if use_registry and prm.tracking.enabled:
        from ..tracking import check_reachable, resolve_uri

        check_reachable(resolve_uri(prm.tracking))  # fail in seconds, before any work
        hook = registry_hook(prm.tracking, tsec.out_root)
    runs = load_runs(esec.out_root, [r for r in tsec.all_runs() if r[0] in names])
    from ..sweeps import load_sweeps

    listed = {(r.dataset, r.method, r.seed): i for i, r in enumerate(tsec.runs)}
    stages: dict[tuple[str, str], list[str]] = {}
    for d, m, s in tsec.all_runs():  # each claim's rerun command names the stages of its runs
        stages.setdefault((d, m), []).append(layout.evaluate_stage(d, m, s, listed.get((d, m, s))))
    return build_report(runs.records, out_dir, tsec.out_root, reference, runs.missing, hook, claims,
                        load_sweeps(prm.raw), stages, tables)
