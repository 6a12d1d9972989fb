"""Side-by-side table of two metrics folders (e.g. before and after a protocol change).

    python benchmarks/compare_metrics.py BEFORE_DIR AFTER_DIR [--keys fid icfid nmi mixing_l1]

Each folder is an evaluate-stage output root (``<dir>/<dataset>/<run>-s<seed>.json``). Runs are
matched by dataset and file name; a key missing or null on one side prints ``-`` (an unconditional
method's ICFID is ``null`` by design). Prints Markdown.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_KEYS = ("fid", "icfid", "nmi", "mixing_l1")


def _load(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for p in sorted(root.glob("*/*.json")):
        out[(p.parent.name, p.stem)] = json.loads(p.read_text())
    return out


def _fmt(v: Any) -> str:
    if v is None or isinstance(v, (dict, list)):
        return "-"
    try:
        return f"{float(v):.4g}"
    except (TypeError, ValueError):
        return str(v)


def table(before: Path, after: Path, keys: tuple[str, ...] = DEFAULT_KEYS) -> str:
    """Markdown rows ``dataset | run | key before -> after ...`` over the union of both folders' runs."""
    b, a = _load(before), _load(after)
    header = ["dataset", "run"] + [f"{k} before → after" for k in keys] + ["extractor before → after"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for ds, run in sorted(set(b) | set(a)):
        rb, ra = b.get((ds, run), {}), a.get((ds, run), {})
        cells = [ds, run] + [f"{_fmt(rb.get(k))} → {_fmt(ra.get(k))}" for k in keys]
        cells.append(f"{rb.get('extractor', '-')} → {ra.get('extractor', '-')}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--keys", nargs="+", default=list(DEFAULT_KEYS))
    args = ap.parse_args()
    print(table(args.before, args.after, tuple(args.keys)))


if __name__ == "__main__":
    main()
