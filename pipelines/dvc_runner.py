"""Running the ``dvc`` tool as a subprocess: the one way the flows touch the pipeline.

Owns the environment spawned tools get (telemetry off, this venv's ``bin`` first), streaming a
tool's output line by line into the run's log, telling transient failures from permanent ones
(:class:`StageFailed`, :func:`classify_failure`), reading what ``dvc repro`` did from its output,
and short read-only ``dvc`` queries. Prefect is imported only when a tool runs without a logger
(inside a flow run), so this module is importable without it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

#: Telemetry of every tool this flow starts is off (also set by the Makefile; repeated here because
#: workers and deployments do not go through the Makefile).
TELEMETRY_OFF = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
}
for _k, _v in TELEMETRY_OFF.items():
    os.environ.setdefault(_k, _v)

#: Lines of tool output kept for the error message of a failed task.
TAIL_LINES = 40

_RAN = re.compile(r"Running stage '([^']+)'")
_SKIPPED = re.compile(r"Stage '([^']+)' didn't change, skipping")
_RESTORED = re.compile(r"Stage '([^']+)' is cached - skipping run, checking out outputs")
_USER_ERROR = re.compile(r"exited with 2\b")
#: Failures worth a retry even when ucgan exits 2 (TrackingError): DVC's repository lock held by a
#: parallel dvc, SQLite busy with a parallel stage's MLflow write, a tracking server restarting.
_TRANSIENT_MARKERS = ("Unable to acquire lock", "database is locked", "is unreachable")
#: DVC's messages for a broken dvc.yaml/params.yaml: the same on every retry.
_DEFINITION_ERRORS = ("overlap and are thus in the same tracked directory", "failed to parse",
                      "Did not find expected", "is not a valid", "already tracked by SCM", "cannot be a dependency")


class StageFailed(RuntimeError):
    """A ``dvc`` command failed; ``transient`` says whether retrying can help."""

    def __init__(self, what: str, rc: int, tail: Sequence[str], transient: bool) -> None:
        self.what, self.rc, self.tail, self.transient = what, rc, list(tail), transient
        kind = "transient, will be retried" if transient else "not retried: fix the cause first"
        super().__init__(f"{what} failed (exit {rc}; {kind}). Last output:\n" + "\n".join(self.tail[-15:]))


def classify_failure(rc: int, lines: Sequence[str]) -> bool:
    """True when a failed ``dvc`` call may succeed on retry.

    ``ucgan`` exits 2 on user errors (:class:`ucgan.errors.UcganError`: bad params, missing data,
    unknown method): DVC reports ``exited with 2`` and retrying would only repeat the message; so
    do DVC's own errors about a broken pipeline definition. Everything else (lock contention,
    network, OOM kills, CUDA hiccups, a busy SQLite store) is worth another try.
    """
    text = "\n".join(lines)
    if any(m in text for m in _TRANSIENT_MARKERS):  # also when ucgan reported them as exit 2
        return True
    if _USER_ERROR.search(text) or any(m in text for m in _DEFINITION_ERRORS):
        return False
    return rc != 0


def tool_env() -> dict[str, str]:
    """Environment of spawned tools: telemetry off, unbuffered Python, and this interpreter's
    ``bin`` first on PATH so ``dvc`` and the stages' ``ucgan`` commands come from the same venv."""
    env = dict(os.environ)
    env.update(TELEMETRY_OFF)
    env["PYTHONUNBUFFERED"] = "1"
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def dvc_exe() -> str:
    cand = Path(sys.executable).parent / "dvc"
    if cand.is_file():
        return str(cand)
    found = shutil.which("dvc")
    if not found:
        raise RuntimeError("dvc is not installed in this environment (pip install -e . installs it)")
    return found


def _split_lines(chunks: Iterable[bytes]) -> Iterable[str]:
    """Lines of a byte stream, split on \\n *and* \\r: progress bars (tqdm) redraw with \\r and
    would otherwise arrive as one endless line."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for p in parts:
            yield p.decode("utf-8", "replace")
    if buf:
        yield buf.decode("utf-8", "replace")


def run_tool(args: Sequence[str], cwd: str | Path, label: str, logger: Any = None,
             timeout: float | None = None) -> tuple[int, list[str], float]:
    """Run a command, streaming its output line by line into the Prefect log (that is the
    progress a user watches in the UI); returns (exit code, all lines, seconds)."""
    log = logger
    if not log:
        from prefect import get_run_logger  # here, not at the top: only a flow run has a run logger

        log = get_run_logger()
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(args), cwd=str(cwd), env=tool_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        for line in _split_lines(iter(lambda: proc.stdout.read1(65536), b"")):  # type: ignore[union-attr]
            line = line.rstrip()
            if line.strip():
                lines.append(line)
                log.info("[%s] %s", label, line)
        rc = proc.wait(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return rc, lines, time.perf_counter() - t0


def dvc(args: Sequence[str], repo: str | Path, label: str | None = None, check: bool = True,
        logger: Any = None) -> tuple[int, list[str], float]:
    """``dvc <args>`` in ``repo``; raises :class:`StageFailed` on failure when ``check``."""
    what = label or "dvc " + " ".join(args)
    rc, lines, secs = run_tool([dvc_exe(), *args], repo, what, logger)
    if rc and check:
        raise StageFailed(f"dvc {' '.join(args)}", rc, lines[-TAIL_LINES:], classify_failure(rc, lines))
    return rc, lines, secs


def dvc_quiet(args: Sequence[str], repo: str | Path) -> subprocess.CompletedProcess[str]:
    """A short read-only ``dvc`` query (not logged line by line)."""
    return subprocess.run([dvc_exe(), *args], cwd=str(repo), env=tool_env(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def default_remote(repo: str | Path) -> str | None:
    """Name of the default DVC remote, None when there is none (then pull/push are skipped)."""
    r = dvc_quiet(["remote", "default"], repo)
    name = r.stdout.strip()
    return name if r.returncode == 0 and name else None


def summarize_repro(lines: Sequence[str]) -> dict[str, list[str]]:
    """The stages a ``dvc repro`` ran, found unchanged, and restored from the run cache, read from its output."""
    out: dict[str, list[str]] = {"ran": [], "skipped": [], "restored": []}
    for line in lines:
        for key, rx in (("ran", _RAN), ("skipped", _SKIPPED), ("restored", _RESTORED)):
            m = rx.search(line)
            if m:
                out[key].append(m.group(1))
    return out
