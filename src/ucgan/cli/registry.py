"""``ucgan registry compare|register|champion`` and ``ucgan sample``: the MLflow registry of generators.

Why together: all four read or write versions of ``ucgan-<dataset>`` in the store that params.yaml's
``tracking`` section (or ``MLFLOW_TRACKING_URI``) names. Click wiring only: the registry is
:mod:`ucgan.registry`, imported inside the commands (it reaches mlflow and torch when it works).
"""
from __future__ import annotations

from pathlib import Path

import click

from .. import layout
from ..env import MAX_SEED
from ..errors import DataError, UcganError
from .options import PARAMS_OPTION, run_options


@click.group("registry")
def registry_group() -> None:
    """MLflow registry of trained generators: one model `ucgan-<dataset>`, one version per run,
    alias `champion` on the lowest ICFID."""


@registry_group.command("compare")
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset (repeatable). Default: every ucgan-* model.")
@click.option("--all-versions", is_flag=True, help="Show superseded versions too (default: newest per method and seed).")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]), default="table", show_default=True)
def compare_command(params_path: str, datasets: tuple[str, ...], all_versions: bool, fmt: str) -> None:
    """Print the comparison table of registered versions (sorted by ICFID) and per-method means."""
    from ..registry import (
        CHAMPION_ALIAS,
        format_means,
        format_rows,
        model_name,
        registered_datasets,
        registry_rows,
        tracking_from_params,
    )

    cfg = tracking_from_params(params_path)
    names = list(datasets) or registered_datasets(cfg)
    if not names:
        raise UcganError("the registry holds no ucgan-* models yet; run the pipeline (`dvc repro`) first")
    for d in names:
        rows = registry_rows(d, cfg, all_versions=all_versions)
        if fmt in ("csv", "json"):
            click.echo(format_rows(rows, fmt))
            continue
        click.echo(f"{model_name(d)}  ({len(rows)} version{'s' if len(rows) != 1 else ''}; '{CHAMPION_ALIAS}' marks the alias)")
        click.echo(format_rows(rows, fmt))
        click.echo("")
        click.echo("mean ± std over seeds:")
        click.echo(format_means(rows))
        click.echo("")


@registry_group.command("register")
@PARAMS_OPTION
@run_options()
def register_command(params_path: str, dataset: str, method: str, seed: int) -> None:
    """Register one evaluated run (models/... + metrics/...) by hand; idempotent."""
    from .. import params as P
    from ..io import read_json
    from ..registry import model_name, register_generator

    prm = P.load(params_path)
    tsec, esec = prm.train, prm.evaluate
    mpath = layout.metrics_path(esec.out_root, dataset, method, seed)
    if not mpath.is_file():
        raise DataError(f"{mpath} does not exist; run `dvc repro {layout.evaluate_stage(dataset, method, seed)}` first")
    if not prm.tracking.enabled:
        raise UcganError("tracking.enabled is false in params.yaml: there is no registry to write to")
    v = register_generator(layout.run_dir(tsec.out_root, dataset, method, seed), read_json(mpath), prm.tracking)
    click.echo(f"{method} seed {seed} on {dataset}: models:/{model_name(dataset)}/{v}")


@registry_group.command("champion")
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset (repeatable). Default: every ucgan-* model.")
@click.option("--all-versions", is_flag=True, help="Consider superseded versions too.")
def champion_command(params_path: str, datasets: tuple[str, ...], all_versions: bool) -> None:
    """Move the `champion` alias to the lowest-ICFID version (the report stage does this too)."""
    from ..registry import (
        CHAMPION_ALIAS,
        model_name,
        pick_champion,
        registered_datasets,
        registry_rows,
        set_champion,
        tracking_from_params,
    )

    cfg = tracking_from_params(params_path)
    for d in list(datasets) or registered_datasets(cfg):
        best = pick_champion(registry_rows(d, cfg, all_versions=all_versions))
        if best is None:
            click.echo(f"{model_name(d)}: no version has a finite ICFID; alias unchanged")
            continue
        set_champion(d, best.version, cfg, best.icfid)
        click.echo(f"models:/{model_name(d)}@{CHAMPION_ALIAS} -> version {best.version} "
                   f"({best.method} seed {best.seed}, ICFID {best.icfid:.4g})")


@click.command("sample")
@PARAMS_OPTION
@click.option("--model", "model_ref", required=True,
              help="models:/ucgan-<dataset>@champion, models:/ucgan-<dataset>/<version>, runs:/<run>/generator, "
                   "or a local run folder models/<dataset>/<method>-s<seed>.")
@click.option("--component", type=int, default=None, help="Component to sample from (default: the learned mixture).")
@click.option("-n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("--out", "out", type=click.Path(), default="samples.png", show_default=True,
              help="PNG: a grid for images, a scatter for 2-D data. With --per-component: a folder.")
@click.option("--per-component", "per_component", type=int, default=None,
              help="Write N samples of every component into OUT/component_XX/ (the layout `ucgan fid --per-class` reads).")
@click.option("--overwrite", is_flag=True, help="With --per-component: write into a non-empty folder.")
@click.option("--npy", "npy", type=click.Path(dir_okay=False), default=None, help="Also save the raw samples (.npy).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)
@click.option("--device", "device_spec", default="auto", show_default=True, help="auto | cpu | cuda[:N]")
def sample_command(params_path: str, model_ref: str, component: int | None, n: int, out: str,
                   per_component: int | None, overwrite: bool, npy: str | None, seed: int, device_spec: str) -> None:
    """Load a registered (or local) generator and draw samples from one component (or, with
    --per-component, N samples of every component into one folder each)."""
    from ..env import resolve_device
    from ..registry import load_generator, sample_tensor, save_samples_npy, save_samples_png, tracking_from_params
    from ..tracking import TrackingConfig

    device = resolve_device(device_spec)
    cfg = tracking_from_params(params_path) if "://" in model_ref or ":/" in model_ref else TrackingConfig()
    method, ema, meta = load_generator(model_ref, device, cfg)
    if per_component is not None:
        from ..export import export_per_component

        if component is not None:
            raise UcganError("--component and --per-component exclude each other: --per-component writes every component")
        info = {"model": model_ref, "method": meta.get("method"), "dataset": meta.get("dataset"),
                "train_seed": meta.get("seed")}
        dirs = export_per_component(method, ema, per_component, out, seed, info, overwrite=overwrite)
        click.echo(f"{per_component} samples x {len(dirs)} components of {model_ref} -> {out}/component_XX/ "
                   f"(score with: ucgan fid REAL_DIR {out} --per-class)")
        return
    x = sample_tensor(method, ema, n, component, seed)
    what = "the mixture" if component is None else f"component {component}"
    path = save_samples_png(x, Path(out), method, f"{meta.get('method')} s{meta.get('seed')} on {meta.get('dataset')}: {what}")
    if npy:
        save_samples_npy(x, npy)
    click.echo(f"{n} samples from {what} of {model_ref} ({meta.get('method')} seed {meta.get('seed')} on "
               f"{meta.get('dataset')}) -> {path}" + (f", {npy}" if npy else ""))


COMMANDS: tuple[click.Command, ...] = (registry_group, sample_command)
