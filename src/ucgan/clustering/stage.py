"""The ``cluster`` stage: k-means pseudo-labels on the pretrained encoder's embeddings, the linear
classifier on them (InfoSCC-GAN stage 2), and evaluation-only scores against the truth.

Reads ``<encoder_dir>/{encoder.pt, embeddings.npz}`` (the ``pretrain`` outputs) and writes
``<out_dir>/``:

* ``clusters.npz`` — ``train_labels``/``test_labels`` (pseudo-labels, cluster 0 = largest),
  ``centers`` (in the clustered representation), ``shares``/``test_shares``, ``k``;
* ``classifier.pt`` — tensors only; :func:`ucgan.clustering.probe.load_classifier` gives a module
  mapping *backbone features* (what ``load_encoder`` returns) to pseudo-label logits;
* ``metrics.json`` — DVC metrics; ``embedding.png`` — 2-D view coloured by truth and by cluster.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import layout
from ..config import flatten, to_dict
from ..errors import ConfigError, DataError
from ..io import atomic_dir, save_npz, torch_load, write_json
from ..tracking import TrackingConfig, start_run
from .config import ClusterConfig
from .kmeans import VARIANTS, Representation, cluster_accuracy, fit_kmeans, nmi, nmi_over_seeds, order_by_size
from .neighbours import chance_share, same_class_neighbour_share
from .plot import plot_embedding
from .probe import linear_probe_accuracy, predict, save_classifier, train_classifier


def _load_embeddings(encoder_dir: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    emb_path = encoder_dir / "embeddings.npz"
    if not emb_path.is_file():
        raise DataError(f"{emb_path} not found; run `ucgan pretrain` (or `dvc repro pretrain@<dataset>`) first.")
    obj = torch_load(encoder_dir / "encoder.pt")
    try:
        with np.load(emb_path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise DataError(f"{emb_path} is corrupt ({exc}); re-run `ucgan pretrain`.") from exc
    missing = {"train_h", "test_h", "train_y", "test_y"} - set(arrays)
    if missing:
        raise DataError(f"{emb_path} lacks {sorted(missing)}; re-run `ucgan pretrain`.")
    return dict(obj["meta"]), arrays


def cluster(
    dataset: str, cfg: ClusterConfig, encoder_dir: str | Path | None = None, out_dir: str | Path | None = None,
    tracking_cfg: TrackingConfig | None = None,
) -> dict[str, Any]:
    """Fit the pseudo-labels and their classifier for ``dataset``; returns the metrics dict."""
    enc_dir = Path(encoder_dir) if encoder_dir is not None else layout.encoder_dir(dataset)
    out = Path(out_dir) if out_dir is not None else layout.clusters_dir(dataset)
    meta, emb = _load_embeddings(enc_dir)
    k = cfg.k or int(meta["num_classes"])
    src = "train_h" if cfg.representation == "backbone" else "train_z"
    if src not in emb:
        raise ConfigError(
            f"cluster.representation: 'projection' needs a SimCLR projection head, but backbone "
            f"{meta['backbone']!r} of {dataset} has none; set cluster.representation: backbone "
            f"(e.g. under cluster.overrides.{dataset})."
        )
    x_tr, x_te = emb[src], emb[src.replace("train", "test")]
    h_tr, h_te, y_tr, y_te = emb["train_h"], emb["test_h"], emb["train_y"], emb["test_y"]
    if k > len(x_tr):
        raise ConfigError(f"cluster.k={k} exceeds the {len(x_tr)} training samples of {dataset}; lower cluster.k")

    with start_run(f"cluster-{dataset}", tracking_cfg or TrackingConfig(),
                   tags={"stage": "cluster", "dataset": dataset}) as run:
        run.log_params({"dataset": dataset, "k_resolved": k, **to_dict(cfg)})
        rep = Representation(cfg.standardize, cfg.l2_normalize).fit(x_tr)
        r_tr, r_te = rep.transform(x_tr), rep.transform(x_te)
        km = fit_kmeans(r_tr, k, n_init=cfg.n_init, seed=cfg.seed)
        lab_tr, centers, old_to_new = order_by_size(km.labels_.astype(np.int64), km.cluster_centers_, k)
        lab_te = old_to_new[km.predict(r_te)]
        shares = np.bincount(lab_tr, minlength=k) / len(lab_tr)
        test_shares = np.bincount(lab_te, minlength=k) / max(1, len(lab_te))

        cc = cfg.classifier
        clf = train_classifier(h_tr, lab_tr, k, epochs=cc.epochs, lr=cc.lr, weight_decay=cc.weight_decay,
                               batch_size=cc.batch_size, seed=cfg.seed)
        agree_tr = float((predict(clf, h_tr) == lab_tr).mean())
        agree_te = float((predict(clf, h_te) == lab_te).mean())

        ev = cfg.evaluation
        metrics: dict[str, Any] = {
            "dataset": dataset, "k": k, "representation": cfg.variant_name, "backbone": meta["backbone"],
            "nmi_train": nmi(y_tr, lab_tr), "nmi_test": nmi(y_te, lab_te),
            "acc_train": cluster_accuracy(y_tr, lab_tr), "acc_test": cluster_accuracy(y_te, lab_te),
            "classifier_agreement_train": agree_tr, "classifier_agreement_test": agree_te,
            "cluster_shares": [round(float(s), 4) for s in shares],
            "min_share": float(shares.min()), "max_share": float(shares.max()),
            "true_shares": [round(float(s), 4) for s in np.bincount(y_tr) / len(y_tr)],
            "probe_acc": linear_probe_accuracy(h_tr, y_tr, h_te, y_te),
        }
        # evaluation statistics on a fixed subset: they are O(n^2) (neighbours) or repeated k-means fits
        sub = np.random.default_rng(cfg.seed).permutation(len(y_tr))[:ev.max_points]
        sub.sort()
        metrics["nmi_variants"] = _variant_nmis({k_: v[sub] for k_, v in emb.items() if k_.startswith("train_")},
                                                y_tr[sub], k, cfg) if ev.variants else {}
        ks = sorted(set(ev.neighbour_ks))
        if max(ks) < len(sub):
            metric = ev.neighbour_metric
            metrics["neighbours"] = {
                "metric": metric,
                "backbone": _kth(same_class_neighbour_share(h_tr[sub], y_tr[sub], ks, metric)),
                cfg.variant_name: _kth(same_class_neighbour_share(r_tr[sub], y_tr[sub], ks, metric)),
                "chance": chance_share(y_tr[sub]),
                "points": int(len(sub)),
            }

        with atomic_dir(out) as tmp:
            save_npz(tmp / "clusters.npz", train_labels=lab_tr, test_labels=lab_te.astype(np.int64),
                     centers=centers.astype(np.float32), shares=shares, test_shares=test_shares,
                     k=np.int64(k))
            save_classifier(tmp / "classifier.pt", clf, {
                "dataset": dataset, "k": k, "input": "backbone", "feature_dim": int(h_tr.shape[1]),
                "pseudo_labels": cfg.variant_name, "encoder_data_hash": str(meta.get("data_hash", "")),
            })
            write_json(tmp / "metrics.json", metrics)
            if ev.plot != "none":
                plot_embedding(tmp / "embedding.png", r_tr, y_tr, lab_tr, method=ev.plot,
                               max_points=ev.plot_points, seed=cfg.seed,
                               title=f"{dataset}: {cfg.variant_name}, k={k}, NMI {metrics['nmi_train']:.3f}")
        run.log_metrics(_flat_numbers(metrics))
        for f in ("metrics.json", "embedding.png", "classifier.pt"):
            if (out / f).is_file():
                run.log_artifact(out / f, artifact_path="cluster")
    return metrics


def _kth(d: dict[int, float]) -> dict[str, float]:
    names = {1: "1st", 2: "2nd", 3: "3rd"}
    return {names.get(k, f"{k}th"): round(v, 4) for k, v in d.items()}


def _variant_nmis(emb: dict[str, np.ndarray], y: np.ndarray, k: int, cfg: ClusterConfig) -> dict[str, Any]:
    """NMI vs truth (mean over ``nmi_seeds`` k-means seeds, train split) for every representation variant."""
    out: dict[str, Any] = {}
    for name, (src, std, l2) in VARIANTS.items():
        key = "train_h" if src == "backbone" else "train_z"
        if key not in emb:
            continue
        x = Representation(std, l2).fit(emb[key]).transform(emb[key])
        mean, vals = nmi_over_seeds(x, y, k, seeds=cfg.evaluation.nmi_seeds, n_init=cfg.n_init)
        out[name] = round(mean, 4)
        out[f"{name}_min"] = round(min(vals), 4)   # k-means optima differ between seeds on imbalanced data
    return out


def _flat_numbers(d: dict[str, Any]) -> dict[str, float]:
    """The numeric leaves of nested metrics, keys joined by dots (MLflow metrics)."""
    return {k: float(v) for k, v in flatten(d).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


__all__ = ["cluster"]
