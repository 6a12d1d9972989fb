"""``ucgan`` command line: the ``main`` group, its error handling, and the list of its commands.

One subcommand per pipeline stage (each is what dvc.yaml runs) plus the tools around them. The
commands live one module per group (:mod:`.data`, :mod:`.encoders`, :mod:`.runs`, :mod:`.metrics`,
:mod:`.registry`, :mod:`.report`); they hold only the click wiring and call the library, so this
package is the only part of ucgan that imports click, and nothing below it imports this package.
Every command keeps its heavy imports (torch, mlflow) inside its body: ``ucgan --help`` stays fast.

User-caused errors (:class:`~ucgan.errors.UcganError`) print one clear message and exit 2; anything
else is a bug and keeps its traceback.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable, NoReturn

import click

from ..errors import UcganError
from . import data, encoders, metrics, registry, report, runs


def _fail(msg: str) -> NoReturn:
    """The one way a user error ends a command: the message in red on stderr, exit code 2."""
    click.secho(f"error: {msg}", fg="red", err=True)
    sys.exit(2)


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn UcganError into a clean message + exit code 2."""

    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            return fn(*a, **kw)
        except UcganError as exc:
            _fail(str(exc))

    return wrapper


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from ..preflight import describe_os_error

        try:
            return super().invoke(ctx)
        except UcganError as exc:
            _fail(str(exc))
        except OSError as exc:  # full disk, read-only folder: the user's to fix, not a bug
            msg = describe_os_error(exc)
            if msg is None:
                raise
            _fail(msg)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ucgan")
def main() -> None:
    """Train and benchmark unsupervised conditional GANs on imbalanced data.

    Stages (run in this order by `dvc repro`): prepare -> validate -> pretrain -> cluster -> train ->
    evaluate -> report. Every stage reads params.yaml (checked in full before any work).
    """


#: every command of ``ucgan``, by the module that wires it (``ucgan --help`` lists them by name)
COMMANDS: tuple[click.Command, ...] = (
    *data.COMMANDS,        # prepare, validate, presets, check-params
    *encoders.COMMANDS,    # pretrain, cluster
    *runs.COMMANDS,        # train, evaluate, methods
    *metrics.COMMANDS,     # fid
    *registry.COMMANDS,    # registry compare|register|champion, sample
    *report.COMMANDS,      # report
)
for _cmd in COMMANDS:
    main.add_command(_cmd)

__all__ = ["COMMANDS", "main", "user_errors"]
