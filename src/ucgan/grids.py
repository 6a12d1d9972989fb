"""Labelled sample grids of readable size: one row per component, a label column on the left.

Why: torchvision's ``save_image`` of 8 MNIST samples per component gave a 247x58 px picture with no
labels, so nobody could tell which row was which component, how much of the data a component
claims, or which class it was matched to. Here every cell is upscaled (nearest neighbour, no
blur) to at least ``min_cell`` px, and every row starts with its label (``c3  share 12.5%``; the
report adds ``-> class 7`` once evaluation has matched components to classes).

Geometry is written beside the PNG (``<name>.json``: cell size, rows, label width), so the report
can redraw only the label column of a training grid with the matched classes instead of sampling
the generator again.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: Smallest cell edge in pixels (MNIST's 28 px become 84 px).
MIN_CELL = 64
PAD = 2
LABEL_WIDTH = 170
TITLE_HEIGHT = 22
BACKGROUND = (255, 255, 255)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _to_rgb_uint8(x: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """(N, C, H, W) float in the data range -> (N, H, W, 3) uint8 (as a saved PNG would hold it)."""
    lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
    t = np.clip((x.astype(np.float32) - lo) / max(hi - lo, 1e-8), 0, 1)
    u8 = np.clip(t * 255 + 0.5, 0, 255).astype(np.uint8)
    u8 = np.repeat(u8, 3, axis=1) if u8.shape[1] == 1 else u8[:, :3]
    return u8.transpose(0, 2, 3, 1)


def share_label(c: int, share: float | None, matched: str | None = None) -> str:
    """Row label: component, learned share, and the class evaluation matched it to (if known)."""
    parts = [f"c{c}"]
    if share is not None:
        parts.append(f"share {100 * share:.1f}%")
    if matched is not None:
        parts.append(f"-> class {matched}")
    return "  ".join(parts)


def labelled_grid(samples: Sequence[Any], path: str | Path, value_range: tuple[float, float] | None,
                  labels: Sequence[str] | None = None, title: str = "", min_cell: int = MIN_CELL) -> Path:
    """Write one row per component (``samples[c]``: (n, C, H, W) tensor or array) with a label column."""
    from PIL import Image, ImageDraw

    from .io import atomic_path

    rows = [np.asarray(s.detach().cpu().numpy() if hasattr(s, "detach") else s) for s in samples]
    if not rows or rows[0].ndim != 4:
        raise ValueError("labelled_grid needs a list of (n, C, H, W) image batches, one per component")
    h, w = rows[0].shape[2:]
    scale = max(1, int(np.ceil(min_cell / max(h, w))))
    ch, cw = h * scale, w * scale
    ncol = max(len(r) for r in rows)
    top = TITLE_HEIGHT if title else 0
    width = LABEL_WIDTH + ncol * (cw + PAD) + PAD
    height = top + len(rows) * (ch + PAD) + PAD
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((PAD + 2, 3), title, fill=(0, 0, 0), font=_font(14))
    for r, batch in enumerate(rows):
        y0 = top + PAD + r * (ch + PAD)
        for i, img in enumerate(_to_rgb_uint8(batch, value_range)):
            tile = Image.fromarray(img).resize((cw, ch), Image.NEAREST)
            canvas.paste(tile, (LABEL_WIDTH + PAD + i * (cw + PAD), y0))
    layout = {"rows": len(rows), "cell": [ch, cw], "pad": PAD, "label_width": LABEL_WIDTH, "top": top,
              "font": max(12, min(18, ch // 4))}
    _draw_labels(canvas, layout, labels or [f"c{c}" for c in range(len(rows))])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        canvas.save(tmp, format="png")
    with atomic_path(path.with_suffix(".json"), suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(layout) + "\n", encoding="utf-8")
    return path


def _draw_labels(canvas: Any, layout: dict[str, Any], labels: Sequence[str]) -> None:
    from PIL import ImageDraw

    draw = ImageDraw.Draw(canvas)
    ch = layout["cell"][0]
    font = _font(int(layout["font"]))
    for r in range(int(layout["rows"])):
        y0 = layout["top"] + layout["pad"] + r * (ch + layout["pad"])
        draw.rectangle([0, y0, layout["label_width"] - 1, y0 + ch - 1], fill=BACKGROUND)
        text = labels[r] if r < len(labels) else f"c{r}"
        # long labels wrap onto two lines at the double space between parts
        lines = text.split("  ") if len(text) > 18 else [text]
        for j, line in enumerate(lines):
            draw.text((4, y0 + 4 + j * (layout["font"] + 3)), line, fill=(0, 0, 0), font=font)


def relabel(src: str | Path, dest: str | Path, labels: Sequence[str]) -> bool:
    """Copy a grid written by :func:`labelled_grid` to ``dest`` with new row labels; False when
    ``src`` has no layout file (an old or non-image grid: the caller copies it unchanged)."""
    from PIL import Image

    from .io import atomic_path

    src = Path(src)
    meta = src.with_suffix(".json")
    if not meta.is_file():
        return False
    layout = json.loads(meta.read_text(encoding="utf-8"))
    with Image.open(src) as im:
        canvas = im.convert("RGB")
    _draw_labels(canvas, layout, labels)
    with atomic_path(Path(dest), suffix=".png") as tmp:
        canvas.save(tmp, format="png")
    return True


def matched_labels(rec: dict[str, Any], k: int, shares: Sequence[float] | None = None) -> list[str]:
    """Row labels from an evaluate record: ``assignment[class] = component`` inverted per component,
    learned shares from ``mixing_components`` / the given ``shares``."""
    assign = rec.get("assignment") or []
    names = rec.get("class_names") or []
    by_comp: dict[int, str] = {}
    for y, c in enumerate(assign):
        if isinstance(c, int) and c >= 0:
            by_comp[c] = str(names[y]) if y < len(names) else str(y)
    sh = list(shares) if shares is not None else None
    return [share_label(c, sh[c] if sh is not None and c < len(sh) else None, by_comp.get(c)) for c in range(k)]


__all__ = ["labelled_grid", "matched_labels", "relabel", "share_label"]
