"""``ucgan report``: the last stage of the graph (tables, tests, pictures, plot data, the champions).

Click wiring only: the stage is :func:`ucgan.report.run_report`; this module checks that the report
folder (and, with ``--registry``, the tracking server) can take the output, and prints one line per
dataset. Its option defaults come from :mod:`ucgan.report`, which imports no plotting or MLflow at
import time.
"""
from __future__ import annotations

from pathlib import Path

import click

from .. import layout
from ..report import DEFAULT_CLAIMS, DEFAULT_PAPER_TABLES, REFERENCE_METHOD
from .options import PARAMS_OPTION


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
@click.option("--paper-tables", "paper_tables_path", default=DEFAULT_PAPER_TABLES, show_default=True,
              help="The papers' comparison tables: writes orderings.md/.json (their method order vs ours); '' skips.")
def report_command(params_path: str, out_dir: str, datasets: tuple[str, ...], reference: str, use_registry: bool,
                   claims_path: str, paper_tables_path: str) -> None:
    """Tables (mean ± std over seeds), Wilcoxon tests, pictures, DVC plot data; sets the champions."""
    from .. import params as P
    from ..numbers import _num
    from ..preflight import preflight
    from ..report import run_report

    preflight([Path(out_dir) / "summary.csv"], tracking=P.load(params_path).tracking if use_registry else None,
              what=f"the report {out_dir}")
    res = run_report(params_path, out_dir, datasets, reference, use_registry, claims_path or None,
                     paper_tables_path or None)
    for d in res.datasets:
        c = res.champions.get(d)
        line = f"{d}: champion {c['method']} seed {c['seed']} (ICFID {_num(c['icfid'])})" if c else f"{d}: no champion"
        click.echo(line + (f"; {c['note']}" if c and c.get("note") else ""))
    if res.missing:
        click.echo(f"warning: {len(res.missing)} run(s) have no metrics yet: "
                   + ", ".join(f"{d}/{layout.run_name(m, s)}" for d, m, s in res.missing), err=True)
    click.echo(f"report: {res.out_dir / 'summary.csv'} and " + ", ".join(str(res.out_dir / f'{d}.md') for d in res.datasets))


COMMANDS: tuple[click.Command, ...] = (report_command,)
