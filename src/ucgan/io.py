"""Atomic file writes.

Outputs are shared through DVC caches across a team, so a crash or Ctrl-C must never leave a
half-written file that a later stage (or a teammate) would read as valid. Every writer here writes
to a temporary file in the destination directory and ``os.replace``-s it into place, which is
atomic on POSIX file systems.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read by setting and restoring it; there is no read-only call)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _honour_umask(path: Path, directory: bool) -> None:
    """Give a temporary file/dir the mode a plain ``open``/``mkdir`` would have given it.

    ``mkstemp``/``mkdtemp`` create 0600/0700 whatever the umask; outputs that end up in a
    group-shared DVC cache or workspace must instead follow the user's umask (e.g. 0002 -> 0664/0775)
    so teammates can read and replace them.
    """
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it over ``path``, else delete it."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix + ".tmp", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        _honour_umask(tmp_path, directory=False)
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``path`` (a directory) only if the block succeeds.

    Used by stages whose output is a whole folder (e.g. a prepared dataset): either the complete
    new folder appears or the old one stays untouched.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _honour_umask(tmp, directory=True)
        yield tmp
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
            os.replace(dest, old)
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def _default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON atomically (sorted keys are not forced: insertion order is the documented order)."""
    write_text(path, json.dumps(obj, indent=2, default=_default, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save_npz(path: str | os.PathLike[str], **arrays: np.ndarray) -> None:
    """``np.savez`` atomically (uncompressed: fast to load, DVC dedups by content anyway)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(path, buf.getvalue())


def torch_save(path: str | os.PathLike[str], obj: Any) -> None:
    """``torch.save`` atomically. ``obj`` must hold tensors and plain data only so that it loads
    with ``torch.load(weights_only=True)``: caches are shared, unpickling code from them is unsafe."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes(path, buf.getvalue())


def torch_load(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True`` (never executes code from the file)."""
    import torch

    from .errors import DataError

    p = Path(path)
    if not p.is_file():
        raise DataError(f"checkpoint {p} does not exist; run the stage that produces it first (e.g. `dvc repro`).")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # corrupt or foreign (pickled code) file
        raise DataError(
            f"cannot load {p} as a tensors-only checkpoint ({type(exc).__name__}: {exc}); "
            "delete it and re-run the producing stage."
        ) from exc


def require_structure(obj: Any, keys: tuple[str, ...], path: str | os.PathLike[str], what: str, fix: str) -> dict[str, Any]:
    """Check that a loaded checkpoint is a mapping holding ``keys``.

    A tensors-only file from another tool (or another ucgan version) loads fine with
    ``weights_only=True`` and would otherwise fail later with a bare ``KeyError``.
    """
    from .errors import DataError

    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a ucgan {what} (it holds a {type(obj).__name__}, not a mapping); {fix}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataError(f"{path} is not a ucgan {what} (missing {missing}; it has {sorted(map(str, obj))[:8]}); {fix}")
    return obj
