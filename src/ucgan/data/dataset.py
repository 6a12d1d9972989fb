"""The prepared-dataset contract shared by every stage after ``prepare``.

``data/prepared/<dataset>/``:

* ``train.npz`` / ``test.npz`` with ``x`` (float32, per-sample shape ``manifest["shape"]``: ``[2]`` for
  2-D points, ``[D]`` for vectors, ``[C, H, W]`` for images) in the value range ``manifest["range"]``
  (``null`` = unbounded, e.g. Gaussian mixtures that are not rescaled) and ``y`` (int64 class ids
  ``0..K-1``; ground truth, used only for evaluation, never for training the unsupervised methods).
* ``manifest.json``: dataset name, source, the resolved spec, ``modality`` (``points`` | ``vector`` |
  ``image``), ``shape``, ``range``, ``class_names``, per-split ``target``/``achieved`` counts per class,
  ``content_hash`` (sha256 of both splits' arrays) and for mixtures the component ``centers``/``std``.
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from ..io import read_json

PREPARED_ROOT = Path("data/prepared")


@dataclasses.dataclass
class Split:
    """One split of a prepared dataset."""

    x: np.ndarray
    y: np.ndarray
    manifest: dict[str, Any]

    @property
    def num_classes(self) -> int:
        return len(self.manifest["class_names"])

    @property
    def modality(self) -> str:
        return str(self.manifest["modality"])

    @property
    def value_range(self) -> tuple[float, float] | None:
        r = self.manifest.get("range")
        return None if r is None else (float(r[0]), float(r[1]))

    def class_shares(self) -> np.ndarray:
        counts = np.bincount(self.y, minlength=self.num_classes).astype(np.float64)
        return counts / max(1.0, counts.sum())


def content_hash(*arrays: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes of the arrays (stable across runs and machines)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def dataset_dir(dataset: str, root: str | Path = PREPARED_ROOT) -> Path:
    return Path(root) / dataset


def load_manifest(dataset: str, root: str | Path = PREPARED_ROOT) -> dict[str, Any]:
    path = dataset_dir(dataset, root) / "manifest.json"
    if not path.is_file():
        raise DataError(
            f"prepared dataset {dataset!r} not found at {path.parent}; run `ucgan prepare --dataset {dataset}` "
            f"(or `dvc repro prepare@{dataset}`) first."
        )
    return read_json(path)


def _read_arrays(path: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return f["x"], f["y"]
    except FileNotFoundError as exc:
        raise DataError(f"{path} is missing; re-run `ucgan prepare --dataset {dataset}`.") from exc
    except Exception as exc:
        raise DataError(f"{path} is corrupt ({exc}); delete it and re-run `ucgan prepare --dataset {dataset}`.") from exc


def load_split(dataset: str, split: str = "train", root: str | Path = PREPARED_ROOT, verify: bool = True) -> Split:
    """Load ``train`` or ``test`` of a prepared dataset, checking it against its manifest.

    ``verify`` recomputes the content hash and compares it with the manifest's: a split copied over
    another, or edited by hand, would otherwise train silently on the wrong data while the run
    records the manifest's hash as its provenance. Hashing runs at ~1 GB/s, negligible next to a
    training run.
    """
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    manifest = load_manifest(dataset, root)
    path = dataset_dir(dataset, root) / f"{split}.npz"
    x, y = _read_arrays(path, dataset)
    if x.dtype != np.float32 or y.dtype != np.int64 or len(x) != len(y):
        raise DataError(f"{path}: expected x float32 and y int64 of equal length, got {x.dtype}{x.shape}, {y.dtype}{y.shape}")
    if list(x.shape[1:]) != list(manifest["shape"]):
        raise DataError(f"{path}: sample shape {list(x.shape[1:])} differs from manifest shape {manifest['shape']}")
    if verify:
        verify_split_hash(dataset, root, split, x, y, manifest)
    return Split(x=x, y=y, manifest=manifest)


def verify_split_hash(dataset: str, root: str | Path, split: str, x: np.ndarray, y: np.ndarray,
                      manifest: dict[str, Any]) -> None:
    """Raise :class:`DataError` unless ``x, y`` are the arrays the manifest's hash describes."""
    path = dataset_dir(dataset, root) / f"{split}.npz"
    expected = (manifest.get("split_hashes") or {}).get(split)
    if expected is not None:
        ok = content_hash(x, y) == expected
    elif "content_hash" in manifest:  # manifests written before per-split hashes: check both splits together
        other = "test" if split == "train" else "train"
        xo, yo = _read_arrays(dataset_dir(dataset, root) / f"{other}.npz", dataset)
        pair = (x, y, xo, yo) if split == "train" else (xo, yo, x, y)
        ok = content_hash(*pair) == manifest["content_hash"]
    else:  # a hand-written manifest (tests, imported data) records no hash: nothing to verify against
        return
    if not ok:
        raise DataError(
            f"{path} does not match the content hash in {path.parent / 'manifest.json'}: the file was changed after "
            f"`ucgan prepare` wrote it (copied over, edited or partly restored). Re-run `ucgan prepare --dataset {dataset}` "
            f"(or `dvc checkout data/prepared/{dataset}` to restore the versioned files).")
