"""The comparison of registered versions as text: one row per version, and the means per method.

Why apart: ``ucgan registry compare`` prints these (an aligned table, Markdown, CSV or JSON), and
they are pure formatting of :class:`~.versions.VersionRow`: testable without a store.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any, Sequence

from .tags import METRIC_TAGS
from .versions import VersionRow

_COLUMNS = ("version", "method", "seed", "icfid", "fid", "nmi", "mixing_l1", "extractor", "aliases")


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)


def _aligned(header: Sequence[str], cells: Sequence[Sequence[str]], rule: bool) -> str:
    """Left-aligned columns two spaces apart; ``rule`` draws dashes under the header."""
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    if rule:
        lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def format_rows(rows: Sequence[VersionRow], fmt: str = "table") -> str:
    """Render versions as an aligned text table, Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps([dataclasses.asdict(r) for r in rows], indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(_COLUMNS)
        for r in rows:
            w.writerow(["" if getattr(r, c) is None else (";".join(getattr(r, c)) if c == "aliases" else getattr(r, c))
                        for c in _COLUMNS])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(getattr(r, c)) for c in _COLUMNS] for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    return _aligned(_COLUMNS, cells, rule=True)


def method_means(rows: Sequence[VersionRow]) -> list[dict[str, Any]]:
    """Mean ± std over seeds per method of the tagged metrics (the registry's view of the benchmark)."""
    from ..numbers import mean_std

    out = []
    for method in sorted({r.method for r in rows}):
        sel = [r for r in rows if r.method == method]
        d: dict[str, Any] = {"method": method, "n": len(sel)}
        for k in METRIC_TAGS:
            d[k] = mean_std([getattr(r, k) for r in sel])
        out.append(d)
    return out


def format_means(rows: Sequence[VersionRow]) -> str:
    """:func:`method_means` as an aligned text table (method, number of versions, each metric tag)."""
    table = [[m["method"], str(m["n"]), *[m[k] for k in METRIC_TAGS]] for m in method_means(rows)]
    return _aligned(["method", "n", *METRIC_TAGS], table, rule=False)
