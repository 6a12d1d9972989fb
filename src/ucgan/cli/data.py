"""``ucgan prepare``, ``validate``, ``presets`` and ``check-params``: the data stages and params.yaml.

Why one module: these commands read params.yaml's ``data`` and ``validate`` sections and call
:mod:`ucgan.data` (building, validating, the presets); they are the first stages of the graph and
share nothing with the run commands. Click wiring only: the work is in :mod:`ucgan.data.build`,
:mod:`ucgan.data.validate` and :mod:`ucgan.params`.
"""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import UcganError
from ..preflight import preflight
from .options import PARAMS_OPTION


@click.command()
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset name (preset or data.custom entry); repeatable. Default: data.datasets.")
@click.option("--download", is_flag=True, help="Allow torchvision to download MNIST/FashionMNIST/CIFAR-10 into data.raw_root.")
@click.option("--root", default=None, help="Output root (default: data.root of params.yaml).")
def prepare(params_path: str, datasets: tuple[str, ...], download: bool, root: str | None) -> None:
    """Build imbalanced datasets: data/prepared/<name>/{train,test}.npz + manifest.json."""
    from .. import params as P
    from ..data.build import prepare as build

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


@click.command()
@PARAMS_OPTION
@click.option("--dataset", "datasets", multiple=True, help="Dataset name; repeatable. Default: data.datasets.")
@click.option("--out", "out_dir", default="data/validated", show_default=True, help="Report folder (<out>/<dataset>.json).")
def validate(params_path: str, datasets: tuple[str, ...], out_dir: str) -> None:
    """Check prepared datasets with a Great Expectations suite; writes the validation report."""
    from .. import params as P
    from ..data.validate import validate_dataset

    prm = P.load(params_path)
    names = list(datasets) or prm.data.datasets
    preflight([Path(out_dir) / f"{n}.json" for n in names], what=f"the validation reports in {out_dir}")
    for name in names:
        path = Path(out_dir) / f"{name}.json"
        rep = validate_dataset(name, prm.validate, prm.data.root, path)
        n = sum(len(s["results"]) for s in rep["splits"].values())
        click.echo(f"validated {name}: {n} expectations passed -> {path}")


@click.command("presets")
@click.option("--offline", is_flag=True, help="Only presets that need no download.")
def presets_cmd(offline: bool) -> None:
    """List the dataset presets and how each rebuilds its paper's data."""
    import textwrap

    from ..data.presets import PRESETS

    for name, p in PRESETS.items():
        if offline and not p.offline:
            continue
        click.echo(f"{name}{'' if p.offline else '  [needs download]'}")
        click.echo(textwrap.indent(textwrap.fill(" ".join(p.doc.split()), 96), "    "))


@click.command("check-params")
@PARAMS_OPTION
def check_params(params_path: str) -> None:
    """Validate params.yaml in full (what every stage does first)."""
    from .. import params as P

    P.load(params_path)
    click.echo(f"{params_path}: OK")


COMMANDS: tuple[click.Command, ...] = (prepare, validate, presets_cmd, check_params)
