"""FID, ICFID and KID of folders of images: what ``ucgan fid`` computes (no ucgan model needed).

FID, or ICFID with ``per_class`` (one subfolder per class / cluster, the layout
``ucgan sample --per-component`` writes), with KID beside it (:mod:`ucgan.metrics.kid`: unbiased,
comparable across sample sizes). With ``ref=DATASET`` the fake folder is compared with a prepared
dataset's cached real statistics (:mod:`ucgan.metrics.reference`) instead of a real folder.

Images are read by clean-fid (``mode="clean"``: PIL, RGB, bicubic float resize to 299) and embedded
by the project's offline Inception (:class:`~ucgan.metrics.extractors.InceptionExtractor`), so the
numbers equal those of the evaluate stage for PNGs written with :func:`~ucgan.metrics.extractors.to_uint8`.
The command's wiring (arguments, printed lines, ``--json``) is :mod:`ucgan.cli.metrics`; torch and
the extractors are imported inside the functions.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # annotations only: torch and the extractors load when a folder is scored
    import numpy as np
    import torch

    from .fid import FeaturesOrStats, Matching
    from .reference import ReferenceStats

_EXTS = {"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp", "npy"}


def _subdirs(d: Path) -> list[Path]:
    from ..errors import DataError

    subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise DataError(f"--per-class needs one subfolder per class/cluster in {d}, found none")
    return subs


def image_files(path: Path) -> list[Path]:
    """Every image under ``path`` (recursive), sorted so runs read files in the same order."""
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower().lstrip(".") in _EXTS)


def _read_uint8(p: Path) -> np.ndarray:
    """One file as uint8 ``(3, H, W)``, read as clean-fid reads folders (PIL -> RGB; .npy as stored)."""
    import numpy as np
    from PIL import Image

    if p.suffix.lower() == ".npy":
        from ..errors import DataError

        if p.name == "samples.npy":  # `ucgan sample --per-component` output of points/vectors
            raise DataError(f"{p} holds 2-D points or vectors, not an image; `ucgan fid` compares images "
                            "(score point/vector generators with `ucgan evaluate`)")
        a = np.load(p, allow_pickle=False)
        a = a[..., None] if a.ndim == 2 else a
        a = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a
        return np.ascontiguousarray(a.transpose(2, 0, 1)).astype(np.uint8)
    with Image.open(p) as im:
        return np.asarray(im.convert("RGB")).transpose(2, 0, 1)


def folder_features(path: Path, extractor: Callable[[torch.Tensor], torch.Tensor], batch_size: int,
                    device: torch.device | str) -> np.ndarray:
    """(N, 2048) Inception features of every image under ``path`` (recursive).

    Same reading and resizing as clean-fid's folder mode (PIL -> RGB uint8, per-channel PIL bicubic
    float resize to 299), done here so that a batch is read and resized in parallel threads while
    a progress bar shows img/s; the features equal ``cleanfid.fid.get_folder_features``.
    """
    import numpy as np
    import torch

    from ..errors import DataError
    from .extractors import progress_bar, resize_clean_batch

    if not path.is_dir():
        raise DataError(f"{path} is not a folder of images")
    files = image_files(path)
    if not files:
        raise DataError(f"{path} contains no images ({', '.join(sorted(_EXTS))})")
    parts = []
    with progress_bar(len(files), f"inception {path.name}", enabled=len(files) > batch_size) as bar:
        for s in range(0, len(files), batch_size):
            chunk = files[s : s + batch_size]
            u8 = [_read_uint8(p) for p in chunk]
            x = torch.from_numpy(resize_clean_batch(u8))
            parts.append(extractor(x).float().cpu().numpy())
            bar.update(len(chunk))
    return np.concatenate(parts).astype(np.float32, copy=False)


def _kid_fields(real: np.ndarray, fake: np.ndarray, subsets: int, subset_size: int) -> dict[str, float | int]:
    from .kid import kid

    return kid(real, fake, subset_size=subset_size, n_subsets=subsets).to_dict()


def _n_samples(x: FeaturesOrStats) -> int:
    """Sample count of a feature array or of cached statistics."""
    from .frechet import GaussianStats

    return x.n if isinstance(x, GaussianStats) else len(x)


def _features(x: FeaturesOrStats) -> np.ndarray:
    """``x`` as a feature array; cached statistics (``--ref``) hold no features, which KID needs."""
    from ..errors import UcganError
    from .frechet import GaussianStats

    if isinstance(x, GaussianStats):
        raise UcganError("KID needs real features, not cached statistics (use --no-kid with --ref)")
    return x



@dataclasses.dataclass
class FolderScore:
    """What ``ucgan fid`` reports about two folders (or a folder and ``--ref``)."""

    #: the result as ``--json`` writes it (after :func:`~ucgan.metrics.suite.json_safe`)
    record: dict[str, Any]
    #: ICFID only: per real class, the fake subfolder ICFID matched to it (``None``: unmatched)
    matched: list[str | None] = dataclasses.field(default_factory=list)


def score_folders(real_dir: Path | None, fake_dir: Path, *, ref: str | None = None, params_path: str = "params.yaml",
                  per_class: bool = False, matching: Matching = "greedy", with_kid: bool = True,
                  kid_subsets: int = 100, kid_subset_size: int = 1000, device: str = "auto",
                  batch_size: int = 50) -> FolderScore:
    """FID (and KID) between ``real_dir`` and ``fake_dir``, or ICFID with ``per_class``; with
    ``ref=DATASET`` (and no ``real_dir``) the real side is that dataset's cached statistics, which
    hold no features, so KID is left out."""
    from ..env import resolve_device
    from .extractors import InceptionExtractor
    from .fid import fid, icfid

    dev = resolve_device(device)
    ext = InceptionExtractor(None, device=dev, batch_size=batch_size)
    out: dict[str, Any] = {"extractor": ext.id, "preprocessing": "clean-fid folder reading (PIL -> RGB uint8); "
                 "per-channel PIL bicubic float resize to 299x299; (x-128)/128",
                 "real_dir": str(real_dir) if real_dir else None, "fake_dir": str(fake_dir)}
    refs: ReferenceStats | None = None
    if ref:
        from .reference import reference_stats

        refs = reference_stats(ref, params_path, dev, batch_size, per_class=per_class)
        out.update({"ref": ref, "ref_split": refs.split, "ref_cache": {"hits": refs.cache_hits, "misses": refs.cache_misses}})
        with_kid = False  # the cache keeps mean and covariance, not the features KID needs
    if not per_class:
        ff = folder_features(fake_dir, ext, batch_size, dev)
        fr: FeaturesOrStats
        if refs is not None:
            fr = refs.all
        else:
            assert real_dir is not None  # two folders were given when there is no --ref
            fr = folder_features(real_dir, ext, batch_size, dev)
        out.update({"fid": fid(fr, ff), "n_real": _n_samples(fr), "n_fake": len(ff)})
        if with_kid:
            out.update(_kid_fields(_features(fr), ff, kid_subsets, kid_subset_size))
        return FolderScore(out)
    fdirs = _subdirs(fake_dir)
    rf: list[FeaturesOrStats]
    if refs is not None:
        rf = list(refs.per_class)
        rnames = refs.class_names
    else:
        assert real_dir is not None  # two folders were given when there is no --ref
        rdirs = _subdirs(real_dir)
        rf = [folder_features(d, ext, batch_size, dev) for d in rdirs]
        rnames = [d.name for d in rdirs]
    ffs = [folder_features(d, ext, batch_size, dev) for d in fdirs]
    res = icfid(rf, ffs, matching=matching, device=str(dev) if dev.type == "cuda" else None)
    names = [d.name for d in fdirs]
    matched: list[str | None] = [names[c] if c >= 0 else None for c in res.assignment]
    out.update({
        "icfid": res.value, "matching": matching,
        "classes": rnames, "clusters": names,
        "icfid_per_class": res.per_class.tolist(),
        "assignment": dict(zip(rnames, matched)),
        "fid_matrix": res.fid_matrix.tolist(),
        "n_real_per_class": [_n_samples(f) for f in rf], "n_fake_per_cluster": [len(f) for f in ffs],
    })
    if with_kid:
        # KID of each class against its matched cluster: unbiased, so small minority classes
        # are not penalised by sample size the way their FIDs are.
        out["kid_per_class"] = [(_kid_fields(_features(rf[y]), ffs[c], kid_subsets, kid_subset_size)["kid"]
                                 if c >= 0 and _n_samples(rf[y]) >= 2 and len(ffs[c]) >= 2 else None)
                                for y, c in enumerate(res.assignment)]
    return FolderScore(out, matched)


__all__ = ["FolderScore", "folder_features", "image_files", "score_folders"]
