"""Checks that run in seconds before a stage does expensive work.

Why: without them a read-only ``models/``, a full disk or an unreachable MLflow server shows up
only at the end, after an hour of training or of Inception features, as a raw traceback. Every
stage calls :func:`preflight` with the outputs it is about to write, a size estimate and the
tracking config; each failure names the cause and the fix.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from .errors import UcganError

#: Free space kept beyond every estimate (logs, MLflow's SQLite journal, temporary copies).
MARGIN_BYTES = 64 * 2**20


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_writable(output: str | os.PathLike[str]) -> None:
    """The folder that will receive ``output`` (a file or a folder) exists or can be made, and
    accepts new files: atomic writes create a temporary sibling there and rename it over ``output``."""
    parent = Path(output).absolute().parent
    target = _existing_ancestor(parent)  # folders still to be made must be makeable in the nearest existing one
    try:
        if not target.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, f"{target} is a file, not a folder", str(target))
        with tempfile.TemporaryFile(dir=target, prefix=".ucgan-preflight-"):
            pass
    except OSError as exc:
        raise UcganError(
            f"cannot write {output}: {target} is not writable ({exc.strerror or exc}). Fix its permissions "
            f"(e.g. `chmod u+w {target}`), or point the stage's output setting in params.yaml elsewhere. "
            "Nothing was computed.") from exc


def check_free_space(output: str | os.PathLike[str], need_bytes: int, what: str) -> None:
    """At least ``need_bytes`` plus a margin free on the file system that receives ``output``."""
    where = _existing_ancestor(Path(output))
    free = shutil.disk_usage(where).free
    need = int(need_bytes) + MARGIN_BYTES
    if free < need:
        raise UcganError(
            f"not enough disk space for {what}: {free / 2**20:.0f} MiB free on the file system of {where}, about "
            f"{need / 2**20:.0f} MiB needed. Free some space (e.g. `dvc gc`, old checkpoints/) or write elsewhere. "
            "Nothing was computed.")


def preflight(outputs: Iterable[str | os.PathLike[str]], need_bytes: int = 0, tracking: object | None = None,
              what: str = "the outputs") -> None:
    """Run every check: writable output folders, free space, reachable tracking server (when enabled)."""
    outs = [Path(o) for o in outputs]
    for o in outs:
        check_writable(o)
    if outs:
        check_free_space(outs[0], need_bytes, what)
    if tracking is not None and getattr(tracking, "enabled", False):
        from .tracking import check_reachable, resolve_uri

        uri = resolve_uri(tracking)  # type: ignore[arg-type]
        check_reachable(uri)
        if uri.startswith("sqlite:///"):
            check_writable(Path(uri[len("sqlite:///"):]))


#: OS errors a user's environment causes; the CLI prints them as one message instead of a traceback.
USER_OS_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                  errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                  errno.EPERM: "operation not permitted"}


def describe_os_error(exc: OSError) -> str | None:
    """One-line message for an :data:`USER_OS_ERRORS` error, else None (a bug keeps its traceback)."""
    cause = USER_OS_ERRORS.get(exc.errno or -1)
    if cause is None:
        return None
    name = exc.filename or "an output file"
    return (f"cannot write {name}: {cause} ({exc.strerror}). Free space or fix permissions, then re-run the same "
            "command; outputs are written atomically, so the previous complete ones are unchanged.")
