"""Stop on SIGINT/SIGTERM at a safe point instead of dying mid-write.

A scheduler (Kubernetes, Prefect, a shell's Ctrl-C) asks a long job to stop with a signal. The loops
(GAN training, SimCLR pretraining) install :class:`StopRequest`, look at its flag after each step,
write a checkpoint the same command resumes from, and raise :class:`~ucgan.errors.Interrupted`, which
tracking records as KILLED. A process that starts with a signal ignored (a background job of a
non-interactive shell ignores SIGINT) keeps it ignored, and no handler is installed outside the main
thread (e.g. inside a Prefect task thread).
"""
from __future__ import annotations

import signal
from typing import Any


class StopRequest:
    """Context manager: SIGINT/SIGTERM set :attr:`signum`; the caller decides when to stop."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        for s in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(s) is signal.SIG_IGN:
                    continue
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not in the main thread: no handlers
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name (``SIGTERM``), or '' when none arrived."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
