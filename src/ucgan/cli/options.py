"""Command-line options shared by the ``ucgan`` commands, defined once.

Why: every stage command takes ``--params`` and most take one run's ``--dataset/--method/--seed``;
defined in each command module they drift (defaults, help, the seed range). Imports click and
:mod:`ucgan.env` only, so every module of :mod:`ucgan.cli` may import it at start-up.
"""
from __future__ import annotations

from typing import Any, Callable

import click

from ..env import MAX_SEED

#: ``--params FILE`` (default params.yaml): the pipeline parameters every stage checks in full
PARAMS_OPTION = click.option("--params", "params_path", default="params.yaml", show_default=True,
                             type=click.Path(dir_okay=False), help="Pipeline parameters file.")


def run_options(dataset_help: str = "Dataset name (prepared).",
                method_help: str = "Method name or variant id (`ucgan methods` lists them).") -> Callable[[Any], Any]:
    """``--dataset``, ``--method`` and ``--seed``: the three coordinates of one run."""

    def deco(fn: Any) -> Any:
        fn = click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True)(fn)
        fn = click.option("--method", required=True, help=method_help)(fn)
        return click.option("--dataset", required=True, help=dataset_help)(fn)

    return deco
