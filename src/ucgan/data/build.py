"""Imbalance construction: spec -> ``data/prepared/<name>/{train,test}.npz`` + ``manifest.json``."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import to_dict
from ..errors import DataError
from ..io import atomic_dir, save_npz, write_json
from ..preflight import check_free_space
from .checks import check_finite, check_in_range
from .dataset import PREPARED_ROOT, content_hash
from .mixtures import exact_counts
from .sources import (
    ImageFolderSource, Mnist5kSource, RawData, SklearnDigitsSource, Source, TorchvisionSource, VectorFileSource,
)
from .spec import DatasetSpec, counts_for_ratio


def make_source(spec: DatasetSpec, download: bool = False) -> Source:
    o = dict(spec.source_options)
    if spec.source == "mnist5k":
        return Mnist5kSource()
    if spec.source == "digits":
        return SklearnDigitsSource()
    if spec.source in ("mnist", "fmnist", "cifar10"):
        return TorchvisionSource(spec.source, root=o.get("root", "data/raw"), download=download or bool(o.get("download", False)))
    if spec.source == "image_folder":
        return ImageFolderSource(**o)
    if spec.source == "vector_file":
        return VectorFileSource(**o)
    raise DataError(f"source {spec.source!r} has no loader")  # mixtures are generated, never loaded


def _describe_source(desc: dict[str, Any]) -> str:
    """How a message names the data: the file for file sources, else the source kind."""
    if "path" in desc:
        return f"vector file {desc['path']}"
    if "labels_csv" in desc:
        return f"image folder {desc['root']}"
    return f"source {desc.get('name', desc.get('kind'))}"


def _relabel(raw: RawData, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Keep/merge classes; returns x, new labels (-1 = dropped) and class names."""
    n_src = len(raw.class_names)
    if spec.merges is not None:
        groups = spec.merges
        names = [" + ".join(raw.class_names[c] for c in g) for g in groups]
    else:
        groups = [[c] for c in (spec.classes if spec.classes is not None else range(n_src))]
        names = [raw.class_names[g[0]] for g in groups]
    bad = sorted({c for g in groups for c in g if not 0 <= c < n_src})
    if bad:
        raise DataError(f"class id(s) {bad} do not exist in source {spec.source} (it has classes 0..{n_src - 1}: {raw.class_names})")
    lut = np.full(n_src, -1, dtype=np.int64)
    for new, g in enumerate(groups):
        lut[g] = new
    y = lut[raw.y]
    return raw.x, y, list(spec.class_names or names)


def _subsample(y: np.ndarray, k: int, ratio: list[float] | None, counts: list[int] | None,
               rng: np.random.Generator, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Indices realising the target counts (random subset per class); returns (indices, target)."""
    avail = np.bincount(y[y >= 0], minlength=k)
    if counts is not None:
        target = np.asarray(counts, dtype=np.int64)
        short = [(c, int(t), int(a)) for c, (t, a) in enumerate(zip(target, avail)) if t > a]
        if short:
            raise DataError(f"{what}: asked for more examples than exist (class, asked, available): {short}")
    elif ratio is not None:
        target = counts_for_ratio(avail, ratio)
    else:
        target = avail.astype(np.int64)
    if (avail == 0).any():
        raise DataError(f"{what}: class(es) {np.flatnonzero(avail == 0).tolist()} have no examples")
    idx = []
    for c in range(k):
        members = np.flatnonzero(y == c)
        idx.append(np.sort(rng.choice(members, size=int(target[c]), replace=False)))
    out = np.concatenate(idx)
    return out[rng.permutation(len(out))], target


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train, test = [], []
    for c in np.unique(y[y >= 0]):
        members = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(len(members) * fraction))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.concatenate(train), np.concatenate(test)


def _scale(x_train: np.ndarray, x_test: np.ndarray, spec: DatasetSpec,
           what: str = "the data") -> tuple[np.ndarray, np.ndarray, list[float] | None, dict[str, Any]]:
    """Put data into the model's value range; returns the range and the affine map used.

    ``unit`` and ``symmetric`` assume [0, 1] input (images as the sources load them) and do not
    rescale, so the assumption is verified here on both splits: a declared range that the data
    does not have would otherwise give the generator the wrong output layer, silently.
    """
    for x, split in ((x_train, "train"), (x_test, "test")):
        check_finite(x, f"{what} ({split} split)")
    if spec.range in ("unit", "symmetric"):
        for x, split in ((x_train, "train"), (x_test, "test")):
            check_in_range(x, 0.0, 1.0, f"{what} ({split} split)", spec.range)
    if spec.range == "unit":
        return x_train, x_test, [0.0, 1.0], {}
    if spec.range == "symmetric":
        return 2 * x_train - 1, 2 * x_test - 1, [-1.0, 1.0], {"scale": 2.0, "shift": -1.0}
    if spec.range == "minmax":
        # Feature-wise min-max to [-1, 1] fitted on train (SLOGAN scales the ring with MinMaxScaler).
        axes = tuple(i for i in range(x_train.ndim) if i != 1) if x_train.ndim > 2 else (0,)
        lo = x_train.min(axis=axes, keepdims=True)
        hi = x_train.max(axis=axes, keepdims=True)
        scale = 2.0 / np.where(hi > lo, hi - lo, 1.0)
        shift = -1.0 - lo * scale
        # test points outside the train min/max (rare tail samples) are clipped to the declared range
        x_tr = np.clip(x_train * scale + shift, -1.0, 1.0).astype(np.float32)
        x_te = np.clip(x_test * scale + shift, -1.0, 1.0).astype(np.float32)
        return x_tr, x_te, [-1.0, 1.0], {
            "scale": scale.reshape(-1).tolist(), "shift": shift.reshape(-1).tolist()}
    return x_train, x_test, None, {}


def build_arrays(spec: DatasetSpec, download: bool = False) -> dict[str, Any]:
    """Build train/test arrays and the manifest fields (no I/O besides reading the source)."""
    rng = np.random.default_rng(spec.seed)
    extra: dict[str, Any] = {}
    if spec.source == "mixture":
        mix = spec.mixture
        assert mix is not None
        w = mix.norm_weights()
        t_train = np.asarray(spec.counts) if spec.counts is not None else exact_counts(spec.n_train, w)
        t_test = np.asarray(spec.test_counts) if spec.test_counts is not None else exact_counts(spec.n_test, w)
        x_tr, y_tr = mix.sample_counts(t_train, rng)
        x_te, y_te = mix.sample_counts(t_test, rng)
        names = list(spec.class_names or [f"mode{k}" for k in range(mix.k)])
        modality, source_desc = "points", {"kind": "mixture"}
        centers = np.asarray(mix.centers, dtype=np.float64)
        stds = mix.stds()
    else:
        source = make_source(spec, download)
        source_desc = source.describe()
        if source.pooled or spec.pool_native_splits:
            if source.pooled:
                raw = source.load("all")
            else:
                a, b = source.load("train"), source.load("test")
                raw = RawData(np.concatenate([a.x, b.x]), np.concatenate([a.y, b.y]), a.class_names, a.modality)
            x, y, names = _relabel(raw, spec)
            keep = np.flatnonzero(y >= 0)
            x, y = x[keep], y[keep]
            if spec.split == "same_as_train":
                tr_idx = te_idx = np.arange(len(y))
            elif spec.split == "stratified" or source.pooled:
                tr_idx, te_idx = _stratified_split(y, spec.test_fraction, rng)
            else:
                raise DataError("split 'native' is impossible when the native splits are pooled; use stratified")
            pools = ((x[tr_idx], y[tr_idx]), (x[te_idx], y[te_idx]))
        else:
            if spec.split != "native":
                raise DataError(f"source {spec.source} has native splits; set pool_native_splits: true to use split {spec.split!r}")
            parts = []
            for s in ("train", "test"):
                raw = source.load(s)
                x, y, names = _relabel(raw, spec)
                keep = np.flatnonzero(y >= 0)
                parts.append((x[keep], y[keep]))
            pools = (parts[0], parts[1])
        k = len(names)
        (xa, ya), (xb, yb) = pools
        tr_sel, t_train = _subsample(ya, k, spec.ratio, spec.counts, rng, "train split")
        if spec.split == "same_as_train":
            te_sel, t_test = tr_sel, t_train
        else:
            test_ratio = spec.ratio if spec.test_ratio == "same" else None
            te_sel, t_test = _subsample(yb, k, test_ratio, spec.test_counts, rng, "test split")
        x_tr, y_tr, x_te, y_te = xa[tr_sel], ya[tr_sel], xb[te_sel], yb[te_sel]
        modality = raw.modality
        centers = stds = None
    what = "the mixture's points" if spec.source == "mixture" else _describe_source(source_desc)
    x_tr, x_te, value_range, affine = _scale(np.asarray(x_tr, np.float32), np.asarray(x_te, np.float32), spec, what)
    if centers is not None:
        if affine:
            scale = np.asarray(affine["scale"], dtype=np.float64).reshape(1, -1)
            shift = np.asarray(affine["shift"], dtype=np.float64).reshape(1, -1)
            centers = centers * scale + shift
            std_dims = stds[:, None] * np.abs(scale)
        else:
            std_dims = np.repeat(stds[:, None], centers.shape[1], axis=1)
        extra = {"centers": centers.tolist(), "std": float(std_dims.mean()), "std_per_dim": std_dims.tolist()}
    x_tr = np.ascontiguousarray(x_tr, dtype=np.float32)
    x_te = np.ascontiguousarray(x_te, dtype=np.float32)
    y_tr = np.ascontiguousarray(y_tr, dtype=np.int64)
    y_te = np.ascontiguousarray(y_te, dtype=np.int64)
    k = len(names)
    counts = {
        "train": {"target": [int(v) for v in t_train], "achieved": np.bincount(y_tr, minlength=k).tolist()},
        "test": {"target": [int(v) for v in t_test], "achieved": np.bincount(y_te, minlength=k).tolist()},
    }
    fin = [float(np.nanmin(x_tr)), float(np.nanmax(x_tr))]
    return {
        "arrays": {"train": (x_tr, y_tr), "test": (x_te, y_te)},
        "manifest": {
            "source": source_desc,
            "modality": modality,
            "shape": list(x_tr.shape[1:]),
            "range": value_range,
            "observed_range": fin,
            "class_names": names,
            "counts": counts,
            "n_train": int(len(y_tr)),
            "n_test": int(len(y_te)),
            "test_is_train": spec.split == "same_as_train",
            "affine": affine,
            **extra,
        },
    }


def prepare(name: str, spec: DatasetSpec, root: str | Path = PREPARED_ROOT, download: bool = False,
            preset: str | None = None, doc: str = "") -> dict[str, Any]:
    """Build dataset ``name`` and write it atomically to ``root/name`` (all files or none)."""
    t0 = time.perf_counter()
    built = build_arrays(spec, download)
    (x_tr, y_tr), (x_te, y_te) = built["arrays"]["train"], built["arrays"]["test"]
    manifest = {
        "dataset": name,
        "preset": preset,
        "description": doc.strip(),
        "spec": to_dict(spec),
        **built["manifest"],
        "content_hash": content_hash(x_tr, y_tr, x_te, y_te),
        "split_hashes": {"train": content_hash(x_tr, y_tr), "test": content_hash(x_te, y_te)},
        "build_seconds": round(time.perf_counter() - t0, 3),
    }
    check_free_space(Path(root) / name, sum(a.nbytes for a in (x_tr, y_tr, x_te, y_te)), f"dataset {name}")
    with atomic_dir(Path(root) / name) as tmp:
        save_npz(tmp / "train.npz", x=x_tr, y=y_tr)
        save_npz(tmp / "test.npz", x=x_te, y=y_te)
        write_json(tmp / "manifest.json", manifest)
    return manifest
