"""Small number helpers shared by the report, the registry and the sweeps: finite-or-None, mean and
sample std over seeds, and the one number format of the tables.

A leaf module (standard library only), so that no reader of numbers imports a module above it.
"""
from __future__ import annotations

import math
from typing import Any, Iterable


def finite(v: Any) -> float | None:
    """``float(v)`` when it is a finite number, else None (JSON ``null`` = infinite/undefined)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def stats(values: Iterable[Any]) -> tuple[float | None, float | None, int]:
    """(mean, sample std or None with < 2 values, number of finite values)."""
    xs = [f for f in (finite(v) for v in values) if f is not None]
    if not xs:
        return None, None, 0
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, None, len(xs)
    var = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)
    return m, math.sqrt(var), len(xs)


def _num(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "-"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def mean_std(values: Iterable[Any]) -> str:
    """``"m ± s"`` over seeds, ``"m"`` for a single seed, ``"-"`` when nothing is finite."""
    m, s, n = stats(values)
    if n == 0:
        return "-"
    return _num(m) if s is None else f"{_num(m)} ± {_num(s, 2)}"
