"""``ucgan train``, ``evaluate`` and ``methods``: one run (dataset x method x seed) and what can run.

Why together: these commands name a run by the same three coordinates (:func:`.options.run_options`)
and a method by the same names (``ucgan methods`` lists them). Click wiring only: the stages are
:func:`ucgan.stages.train_one` and :func:`ucgan.stages.evaluate_one`, imported inside the commands
because they pull in torch.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import UcganError
from .options import PARAMS_OPTION, run_options

_DEVICE_HELP = "auto | cpu | cuda[:N] (default: params device)."


@click.command("train")
@PARAMS_OPTION
@run_options()
@click.option("--device", "device_spec", default=None, help=_DEVICE_HELP)
@click.option("--fresh", is_flag=True, help="Discard a checkpoint written under another configuration and start over.")
@click.option("--max-minutes", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Stop with a checkpoint after this many minutes (0 = no limit); the same command resumes.")
def train_command(params_path: str, dataset: str, method: str, seed: int, device_spec: str | None, fresh: bool,
                  max_minutes: float) -> None:
    """Train one method on one dataset with one seed (resumes an interrupted run; writes config.json
    with the resolved config, data hash, git commit and package versions beside model.pt)."""
    from ..stages import train_one
    from ..training import LoopHooks

    res = train_one(params_path, dataset, method, seed, device_spec, fresh=fresh,
                    hooks=LoopHooks(max_seconds=60 * max_minutes))
    click.echo(f"trained {method} on {dataset} (seed {seed}): {res['steps']} steps, "
               f"{res['images_per_second']:.0f} img/s, {res['seconds']:.1f} s -> {res['out']}/")


@click.command("evaluate")
@PARAMS_OPTION
@run_options()
@click.option("--device", "device_spec", default=None, help=_DEVICE_HELP)
def evaluate_command(params_path: str, dataset: str, method: str, seed: int, device_spec: str | None) -> None:
    """Score a trained method: FID, ICFID, NMI, learned-vs-true mixing, mode metrics."""
    from ..stages import evaluate_one

    r = evaluate_one(params_path, dataset, method, seed, device_spec)
    nmi, l1, ic = r.get("nmi"), r.get("mixing_l1"), r.get("icfid")
    click.echo(f"{method} on {dataset} (seed {seed}): FID {r['fid']:.3f}, ICFID {'n/a' if ic is None else round(ic, 3)}, "
               f"NMI {nmi if nmi is None else round(nmi, 3)}, mixing L1 {l1 if l1 is None else round(l1, 3)} [{r['extractor']}] "
               f"-> {r['out']}")


@click.command("methods")
@PARAMS_OPTION
def methods_command(params_path: str) -> None:
    """List the registered GAN methods and the named variants declared in params.yaml."""
    from ..methods import available, get_method

    for name in available():
        cls = get_method(name)
        doc = (cls.__doc__ or (__import__(cls.__module__).__doc__) or "").strip().splitlines()
        click.echo(f"{name:18s} {doc[0] if doc else ''}")
    if Path(params_path).is_file():
        from .. import params as P
        from ..stages_params import list_variants

        try:
            variants = list_variants(P.load(params_path).raw)
        except UcganError as exc:  # still list the methods; say why the variants are missing
            click.echo(f"(variants not listed: {params_path}: {exc})")
            return
        for vid, (base, note) in variants.items():
            click.echo(f"{vid:18s} variant of {base}: {note}")
        click.echo(f"{'<method>-defaults':18s} built-in variant of every method: its default block alone, no "
                   "per-dataset settings (what a new dataset gets; the report's defaults_gap.md compares it)")


COMMANDS: tuple[click.Command, ...] = (train_command, evaluate_command, methods_command)
