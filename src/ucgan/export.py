"""Sample export: N images per mixture component into one folder per component.

Why folders: ``ucgan fid REAL FAKE --per-class`` (and any other FID tool) reads one subfolder per
class / cluster, so a generator can be scored by ICFID without ucgan's evaluate stage, on another
machine, or against a reference set ucgan never saw. The PNGs are quantised with
:func:`ucgan.metrics.extractors.to_uint8`, the same arithmetic as the evaluate stage's in-memory
path, so folder-based FIDs equal the in-memory ones.

Layout: ``OUT/component_00/000000.png ...``; 2-D points and vectors (no images) are written as one
``samples.npy`` per component folder. ``OUT/export.json`` records the model, seed, counts and the
learned mixing share of each component.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import UcganError

#: Folder name of component ``c`` (zero-padded so folders sort in component order).
COMPONENT_DIR = "component_{:02d}"
#: Samples drawn per generator call: bounds memory for large N.
CHUNK = 256


def component_dir(root: Path, c: int) -> Path:
    return root / COMPONENT_DIR.format(c)


def export_per_component(method: Any, ema_state: Any, per_component: int, out_dir: str | Path, seed: int = 0,
                         meta: dict[str, Any] | None = None, overwrite: bool = False) -> list[Path]:
    """Write ``per_component`` samples of every component; returns the component folders.

    Seeds: component ``c`` draws from its own generator seeded ``seed + c`` (chunks continue it), so
    one component's files do not depend on how many components the model has, and re-running the
    same command gives the same files.
    """
    import numpy as np
    import torch
    from PIL import Image

    from .metrics.extractors import to_uint8
    from .training import use_ema

    if per_component < 1:
        raise UcganError(f"--per-component must be at least 1, got {per_component}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UcganError(f"--out {out} is a file; with --per-component it must be a folder (one subfolder per component)")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UcganError(f"--out {out} is not empty: choose a new folder or pass --overwrite "
                         "(old images would otherwise mix with the new ones in FID)")
    info = method.info
    k = int(method.num_components)
    method.eval()
    dirs: list[Path] = []
    shares: list[float] | None = None
    try:
        mix = method.mixing()
        shares = [float(v) for v in (mix.tolist() if hasattr(mix, "tolist") else mix)]
    except Exception:  # noqa: BLE001 - mixing is informational here; a method without it still exports
        shares = None
    with use_ema(method, ema_state), torch.no_grad():
        for c in range(k):
            d = component_dir(out, c)
            d.mkdir(parents=True, exist_ok=True)
            g = torch.Generator(device=method.device).manual_seed(int(seed) + c)
            chunks = []
            done = 0
            while done < per_component:
                n = min(CHUNK, per_component - done)
                x = method.sample(n, component=c, generator=g).detach().float().cpu()
                if info.modality == "image":
                    if info.value_range is None:
                        raise UcganError(f"{method.name}: image data without a value range cannot be written as PNG")
                    u8 = to_uint8(x, tuple(info.value_range))
                    for i, img in enumerate(u8):
                        arr = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
                        Image.fromarray(arr).save(d / f"{done + i:06d}.png")
                else:
                    chunks.append(x.numpy())
                done += n
            if chunks:
                np.save(d / "samples.npy", np.concatenate(chunks))
            dirs.append(d)
    record = {"per_component": per_component, "components": k, "seed": seed, "modality": info.modality,
              "mixing_learned": shares, "folders": [p.name for p in dirs], **(meta or {})}
    (out / "export.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return dirs


__all__ = ["COMPONENT_DIR", "component_dir", "export_per_component"]
