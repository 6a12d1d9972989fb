"""``ucgan fid``: score any generator from folders of images (no ucgan model needed).

Images are read by clean-fid (``mode="clean"``: PIL, RGB, bicubic float resize to 299) and embedded
by the project's offline Inception (:class:`~ucgan.metrics.extractors.InceptionExtractor`), so the
numbers equal those of the evaluate stage for PNGs written with :func:`~ucgan.metrics.extractors.to_uint8`.
Kept import-light: the CLI imports this module at start-up.
"""
from __future__ import annotations

from pathlib import Path

import click

_EXTS = {"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp", "npy"}


def _count_images(d: Path) -> int:
    return sum(1 for p in d.rglob("*") if p.suffix.lower().lstrip(".") in _EXTS)


def _subdirs(d: Path) -> list[Path]:
    from ..errors import DataError

    subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise DataError(f"--per-class needs one subfolder per class/cluster in {d}, found none")
    return subs


def folder_features(path: Path, extractor, batch_size: int, device) -> "np.ndarray":  # noqa: ANN001, F821
    """(N, 2048) Inception features of every image under ``path`` (recursive), clean-fid reading."""
    from cleanfid import fid as cfid

    from ..errors import DataError

    if not path.is_dir():
        raise DataError(f"{path} is not a folder of images")
    if _count_images(path) == 0:
        raise DataError(f"{path} contains no images ({', '.join(sorted(_EXTS))})")
    return cfid.get_folder_features(
        str(path), model=extractor, num_workers=0, batch_size=batch_size, device=device,
        mode="clean", verbose=False,
    )


@click.command("fid")
@click.argument("real_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("fake_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--per-class", is_flag=True,
              help="Each dir holds one subfolder per class (real) / per cluster (fake): report ICFID with the assignment.")
@click.option("--matching", type=click.Choice(["greedy", "hungarian"]), default="greedy", show_default=True,
              help="ICFID matching: greedy in class order (SLOGAN Algorithm 2) or minimum total FID.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", default=50, show_default=True, type=click.IntRange(1))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON here.")
def fid_command(real_dir: Path, fake_dir: Path, per_class: bool, matching: str, device: str,
                batch_size: int, json_path: Path | None) -> None:
    """FID between two image folders, or ICFID with --per-class (offline Inception, clean-fid resize)."""
    from ..env import resolve_device
    from ..io import write_json
    from .extractors import InceptionExtractor
    from .fid import fid, icfid
    from .suite import json_safe

    dev = resolve_device(device)
    ext = InceptionExtractor(None, device=dev, batch_size=batch_size)
    out: dict = {"extractor": ext.id, "preprocessing": "clean-fid folder reading (PIL -> RGB uint8); "
                 "per-channel PIL bicubic float resize to 299x299; (x-128)/128",
                 "real_dir": str(real_dir), "fake_dir": str(fake_dir)}
    if not per_class:
        fr = folder_features(real_dir, ext, batch_size, dev)
        ff = folder_features(fake_dir, ext, batch_size, dev)
        out.update({"fid": fid(fr, ff), "n_real": len(fr), "n_fake": len(ff)})
        click.echo(f"FID {out['fid']:.4f}  (real {len(fr)} images, fake {len(ff)} images)")
    else:
        rdirs, fdirs = _subdirs(real_dir), _subdirs(fake_dir)
        rf = [folder_features(d, ext, batch_size, dev) for d in rdirs]
        ff = [folder_features(d, ext, batch_size, dev) for d in fdirs]
        res = icfid(rf, ff, matching=matching, device=str(dev) if dev.type == "cuda" else None)
        names = [d.name for d in fdirs]
        out.update({
            "icfid": res.value, "matching": matching,
            "classes": [d.name for d in rdirs], "clusters": names,
            "icfid_per_class": res.per_class.tolist(),
            "assignment": {d.name: (names[c] if c >= 0 else None) for d, c in zip(rdirs, res.assignment)},
            "fid_matrix": res.fid_matrix.tolist(),
            "n_real_per_class": [len(f) for f in rf], "n_fake_per_cluster": [len(f) for f in ff],
        })
        click.echo(f"ICFID {res.value:.4f}  ({matching} matching, {len(rdirs)} classes, {len(fdirs)} clusters)")
        w = max(len(d.name) for d in rdirs)
        for d, c, v in zip(rdirs, res.assignment, res.per_class):
            click.echo(f"  {d.name:<{w}} -> {names[c] if c >= 0 else '-':<12} FID {v:.4f}")
        if len(fdirs) < len(rdirs):
            click.echo("  (fewer clusters than classes: unmatched classes count as inf)")
    if json_path is not None:
        write_json(json_path, json_safe(out))
        click.echo(f"wrote {json_path}")


__all__ = ["fid_command", "folder_features"]
