"""Loaders on tiny files written in the real on-disk formats (no network)."""
from __future__ import annotations

import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from ucgan.config import from_mapping
from ucgan.data.build import build_arrays
from ucgan.data.sources import ImageFolderSource, TorchvisionSource, VectorFileSource
from ucgan.data.spec import DatasetSpec
from ucgan.errors import DataError


def _write_idx(path: Path, arr: np.ndarray) -> None:
    """MNIST idx format: magic (0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    path.write_bytes(header + arr.astype(np.uint8).tobytes())


def write_mnist_like(root: Path, folder: str, n_train: int = 60, n_test: int = 20, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        imgs = rng.integers(0, 256, size=(n, 28, 28))
        imgs[:, 0, 0] = labels * 20  # recognisable pixel to check the label pairing
        _write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", labels)


def write_cifar_like(root: Path, monkeypatch: pytest.MonkeyPatch, n: int = 30) -> None:
    """CIFAR-10 python format: pickled dicts of uint8 rows (3072 = 3x32x32) + labels, md5-checked."""
    import torchvision

    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    entries = {}
    for fname in ["data_batch_1", "test_batch"]:
        labels = (np.arange(n) % 10).tolist()
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        data[:, 0] = np.asarray(labels) * 20
        with open(base / fname, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        entries[fname] = hashlib.md5((base / fname).read_bytes()).hexdigest()
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}, f)
    meta = dict(torchvision.datasets.CIFAR10.meta, md5=hashlib.md5((base / "batches.meta").read_bytes()).hexdigest())
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "train_list", [["data_batch_1", entries["data_batch_1"]]])
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "test_list", [["test_batch", entries["test_batch"]]])
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "meta", meta)


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fmnist", "FashionMNIST")])
def test_torchvision_mnist_formats(tmp_path: Path, name: str, folder: str) -> None:
    write_mnist_like(tmp_path, folder)
    raw = TorchvisionSource(name, root=str(tmp_path)).load("train")
    assert raw.x.shape == (60, 1, 28, 28) and raw.x.dtype == np.float32
    assert raw.x.max() <= 1.0
    assert np.allclose(raw.x[:, 0, 0, 0] * 255, raw.y * 20)
    assert TorchvisionSource(name, root=str(tmp_path)).load("test").x.shape == (20, 1, 28, 28)


def test_cifar10_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar_like(tmp_path, monkeypatch)
    raw = TorchvisionSource("cifar10", root=str(tmp_path)).load("train")
    assert raw.x.shape == (30, 3, 32, 32)
    assert np.allclose(raw.x[:, 0, 0, 0] * 255, raw.y * 20)
    # the CIFAR-2 construction on it: frog vs airplane, pooled train+test, 7:3
    spec = from_mapping(DatasetSpec, {"source": "cifar10", "classes": [6, 0], "ratio": [7, 3], "pool_native_splits": True,
                                      "split": "same_as_train", "range": "symmetric", "source_options": {"root": str(tmp_path)}}, "t")
    (x, y), _ = build_arrays(spec)["arrays"].values()
    assert np.bincount(y).tolist() == [6, 2]  # 6 frogs, int(6*3/7) = 2 planes
    assert x.min() >= -1 and x.max() <= 1


@pytest.mark.parametrize("name, expected", [("mnist", "MNIST"), ("fmnist", "FashionMNIST"), ("cifar10", "cifar-10-batches-py")])
def test_missing_torchvision_files_name_dataset_path_and_flag(tmp_path: Path, name: str, expected: str) -> None:
    with pytest.raises(DataError) as e:
        TorchvisionSource(name, root=str(tmp_path)).load("train")
    msg = str(e.value)
    assert expected in msg and str(tmp_path) in msg and "--download" in msg


def test_merges_build_fmnist5_groups(tmp_path: Path) -> None:
    write_mnist_like(tmp_path, "FashionMNIST", n_train=100, n_test=50)
    spec = from_mapping(DatasetSpec, {"source": "fmnist", "merges": [[1], [8], [0, 3], [2, 4, 6], [5, 7, 9]],
                                      "source_options": {"root": str(tmp_path)}}, "t")
    built = build_arrays(spec)
    (_, y), (_, yt) = built["arrays"]["train"], built["arrays"]["test"]
    assert np.bincount(y).tolist() == [10, 10, 20, 30, 30]  # 1:1:2:3:3
    assert np.bincount(yt).tolist() == [5, 5, 10, 15, 15]
    assert built["manifest"]["class_names"][2] == "T-shirt/top + Dress"


def test_image_folder_with_labels_csv(tmp_path: Path) -> None:
    from PIL import Image

    rows = ["file,label"]
    for i in range(12):
        lab = "cat" if i % 3 == 0 else "dog"
        Image.fromarray(np.full((20, 20, 3), 40 if lab == "cat" else 200, np.uint8)).save(tmp_path / f"im{i}.png")
        rows.append(f"im{i}.png,{lab}")
    (tmp_path / "labels.csv").write_text("\n".join(rows))
    src = ImageFolderSource(root=str(tmp_path), labels_csv="labels.csv", size=8)
    raw = src.load("all")
    assert raw.x.shape == (12, 3, 8, 8) and raw.class_names == ["cat", "dog"]
    assert np.bincount(raw.y).tolist() == [4, 8]
    assert np.allclose(raw.x[raw.y == 0], 40 / 255, atol=1e-3)
    (tmp_path / "labels.csv").write_text("file,label\nmissing.png,cat\n")
    with pytest.raises(DataError, match="does not exist"):
        ImageFolderSource(root=str(tmp_path), labels_csv="labels.csv").load("all")


def test_vector_file_npz_and_csv_with_log2_scaling(tmp_path: Path) -> None:
    counts = np.array([[0, 1, 3], [7, 15, 0], [1, 0, 255]], dtype=np.float64)
    np.savez(tmp_path / "v.npz", x=counts, y=np.array([2, 0, 2]))
    raw = VectorFileSource(str(tmp_path / "v.npz"), transform="log2p1_minmax").load("all")
    assert np.allclose(raw.x, np.log2(counts + 1) / 8.0)  # log2(256) = 8 is the global max
    assert raw.y.tolist() == [1, 0, 1] and raw.class_names == ["0", "2"]
    (tmp_path / "v.csv").write_text("label,g1,g2\nT,1,2\nB,3,4\n")
    raw = VectorFileSource(str(tmp_path / "v.csv")).load("all")
    assert raw.x.tolist() == [[1, 2], [3, 4]] and raw.class_names == ["B", "T"] and raw.modality == "vector"
    (tmp_path / "bad.csv").write_text("label,g1\nT,abc\n")
    with pytest.raises(DataError, match="malformed"):
        VectorFileSource(str(tmp_path / "bad.csv")).load("all")
