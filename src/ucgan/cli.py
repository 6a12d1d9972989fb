"""``ucgan`` command line: one subcommand per pipeline stage (each is what dvc.yaml runs).

User-caused errors (:class:`~ucgan.errors.UcganError`) print one clear message and exit 2; anything
else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from .errors import UcganError
from .options import PARAMS_OPTION
from .preflight import preflight


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UcganError into a clean message + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except UcganError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)

    return wrapper


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from .preflight import describe_os_error

        try:
            return super().invoke(ctx)
        except UcganError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except OSError as exc:  # full disk, read-only folder: the user's to fix, not a bug
            msg = describe_os_error(exc)
            if msg is None:
                raise
            click.secho(f"error: {msg}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ucgan")
def main() -> None:
    """Train and benchmark unsupervised conditional GANs on imbalanced data.

    Stages (run in this order by `dvc repro`): prepare -> validate -> pretrain -> cluster -> train ->
    evaluate -> report. Every stage reads params.yaml (checked in full before any work).
    """


@main.command()
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset name (preset or data.custom entry); repeatable. Default: data.datasets.")
@click.option("--download", is_flag=True, help="Allow torchvision to download MNIST/FashionMNIST/CIFAR-10 into data.raw_root.")
@click.option("--root", default=None, help="Output root (default: data.root of params.yaml).")
def prepare(params_path: str, datasets: tuple[str, ...], download: bool, root: str | None) -> None:
    """Build imbalanced datasets: data/prepared/<name>/{train,test}.npz + manifest.json."""
    from . import params as P
    from .data.build import prepare as build

    prm = P.load(params_path)
    names = list(datasets) or prm.data.datasets
    if not names:
        raise UcganError("no dataset given: pass --dataset NAME or list names under data.datasets in params.yaml")
    out_root = Path(root or prm.data.root)
    specs = [(n, *prm.data.spec(n)) for n in names]  # all specs resolved before any work
    preflight([out_root / n for n in names], what=f"the prepared datasets under {out_root}")
    for name, spec, preset, doc in specs:
        m = build(name, spec, out_root, download=download, preset=preset, doc=doc)
        ach = m["counts"]["train"]["achieved"]
        click.echo(f"prepared {name}: train {m['n_train']} (per class {ach}), test {m['n_test']}, "
                   f"shape {m['shape']}, range {m['range']} -> {out_root / name}")


@main.command()
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset name; repeatable. Default: data.datasets.")
@click.option("--out", "out_dir", default="data/validated", show_default=True, help="Report folder (<out>/<dataset>.json).")
def validate(params_path: str, datasets: tuple[str, ...], out_dir: str) -> None:
    """Check prepared datasets with a Great Expectations suite; writes the validation report."""
    from . import params as P
    from .data.validate import validate_dataset

    prm = P.load(params_path)
    names = list(datasets) or prm.data.datasets
    preflight([Path(out_dir) / f"{n}.json" for n in names], what=f"the validation reports in {out_dir}")
    for name in names:
        path = Path(out_dir) / f"{name}.json"
        rep = validate_dataset(name, prm.validate, prm.data.root, path)
        n = sum(len(s["results"]) for s in rep["splits"].values())
        click.echo(f"validated {name}: {n} expectations passed -> {path}")


@main.command("presets")
@click.option("--offline", is_flag=True, help="Only presets that need no download.")
def presets_cmd(offline: bool) -> None:
    """List the dataset presets and how each rebuilds its paper's data."""
    import textwrap

    from .data.presets import PRESETS

    for name, p in PRESETS.items():
        if offline and not p.offline:
            continue
        click.echo(f"{name}{'' if p.offline else '  [needs download]'}")
        click.echo(textwrap.indent(textwrap.fill(" ".join(p.doc.split()), 96), "    "))


@main.command("check-params")
@PARAMS_OPTION
def check_params(params_path: str) -> None:
    """Validate params.yaml in full (what every stage does first)."""
    from . import params as P

    P.load(params_path)
    click.echo(f"{params_path}: OK")


def _add_optional_commands() -> None:
    """Stage commands owned by other modules, added when present."""
    import importlib

    for mod, attr in [
        ("ucgan.encoders.commands", "pretrain_command"),
        ("ucgan.clustering.commands", "cluster_command"),
        ("ucgan.metrics.commands", "fid_command"),
        ("ucgan.stages", "STAGE_COMMANDS"),
        ("ucgan.registry", "registry_group"),   # ucgan registry compare|register|champion
        ("ucgan.registry", "sample_command"),   # ucgan sample --model models:/ucgan-D@champion --component c
        ("ucgan.report", "report_command"),     # ucgan report
    ]:
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name and mod.startswith(exc.name):
                continue
            raise
        obj = getattr(m, attr, None)
        for cmd in obj if isinstance(obj, (list, tuple)) else [obj]:
            if isinstance(cmd, click.Command):
                main.add_command(cmd)


_add_optional_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
