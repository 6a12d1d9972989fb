"""The cluster stage end to end on synthetic embeddings, and on a real (tiny) pretrain output."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ucgan.clustering.config import ClusterConfig, load_cluster_config
from ucgan.clustering.probe import load_classifier, predict
from ucgan.clustering.stage import cluster
from ucgan.config import from_mapping
from ucgan.errors import ConfigError, DataError
from ucgan.io import save_npz, torch_save
from ucgan.tracking import TrackingConfig

OFF = TrackingConfig(enabled=False)
FAST = {"n_init": 2, "classifier": {"epochs": 20}, "evaluation": {"nmi_seeds": 1}}


def _fake_encoder_dir(path: Path, with_z: bool = True, counts=(120, 60, 20)) -> Path:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 6, size=(len(counts), 8))

    def split(scale):
        y = np.concatenate([np.full(int(n * scale), i) for i, n in enumerate(counts)])
        h = centers[y] + rng.normal(0, 0.5, size=(len(y), 8))
        return h.astype(np.float32), y.astype(np.int64)

    h_tr, y_tr = split(1.0)
    h_te, y_te = split(0.5)
    arrays = dict(train_h=h_tr, test_h=h_te, train_y=y_tr, test_y=y_te)
    if with_z:
        arrays.update(train_z=h_tr[:, :4] * 2, test_z=h_te[:, :4] * 2)
    path.mkdir(parents=True)
    save_npz(path / "embeddings.npz", **arrays)
    torch_save(path / "encoder.pt", {"format": 1, "meta": {
        "backbone": "small_cnn" if with_z else "alexnet_random", "num_classes": len(counts), "data_hash": "x"}})
    return path


def test_cluster_stage_outputs_and_round_trip(tmp_path):
    enc = _fake_encoder_dir(tmp_path / "enc")
    cfg = from_mapping(ClusterConfig, {**FAST, "evaluation": {"nmi_seeds": 1, "plot": "tsne", "plot_points": 100}}, "cluster")
    m = cluster("fake", cfg, enc, tmp_path / "out", OFF)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["classifier.pt", "clusters.npz", "embedding.png", "metrics.json"]
    assert m["k"] == 3 and m["nmi_train"] == pytest.approx(1.0) and m["acc_test"] == pytest.approx(1.0)
    assert m["cluster_shares"] == [0.6, 0.3, 0.1] and m["classifier_agreement_test"] == 1.0
    names = {"backbone_raw", "backbone_std", "backbone_l2", "projection_raw", "projection_l2"}
    assert set(m["nmi_variants"]) == names | {f"{n}_min" for n in names}
    assert m["neighbours"]["backbone"] == {"1st": 1.0, "2nd": 1.0, "5th": 1.0}
    assert json.loads((out / "metrics.json").read_text())["k"] == 3
    c = np.load(out / "clusters.npz")
    assert c["train_labels"].shape == (200,) and c["centers"].shape == (3, 4) and int(c["k"]) == 3
    clf = load_classifier(out / "classifier.pt")
    emb = np.load(enc / "embeddings.npz")
    assert np.array_equal(predict(clf, emb["test_h"]), c["test_labels"])


def test_projection_request_without_head_is_a_config_error(tmp_path):
    enc = _fake_encoder_dir(tmp_path / "enc", with_z=False)
    with pytest.raises(ConfigError, match="representation: backbone"):
        cluster("fake", ClusterConfig(), enc, tmp_path / "out", OFF)
    cfg = from_mapping(ClusterConfig, {**FAST, "representation": "backbone", "k": 4,
                                       "evaluation": {"plot": "none", "nmi_seeds": 1}}, "cluster")
    m = cluster("fake", cfg, enc, tmp_path / "out", OFF)
    assert m["k"] == 4 and "projection_l2" not in m["nmi_variants"]
    assert not (tmp_path / "out" / "embedding.png").exists()


def test_missing_pretrain_outputs_name_the_fix(tmp_path):
    with pytest.raises(DataError, match="ucgan pretrain"):
        cluster("fake", ClusterConfig(), tmp_path / "nothing", tmp_path / "out", OFF)


def test_cluster_config_validation_and_overrides():
    with pytest.raises(ConfigError, match=r"cluster\.reprezentation"):
        load_cluster_config({"cluster": {"reprezentation": "backbone"}}, "x")
    with pytest.raises(ConfigError, match=r"cluster\.overrides\.ring\.k"):
        load_cluster_config({"cluster": {"overrides": {"ring": {"k": -2}}}}, "x")
    with pytest.raises(ConfigError, match=r"cluster\.representation"):
        load_cluster_config({"cluster": {"representation": "pixels"}}, "x")
    cfg = load_cluster_config({"cluster": {"k": 5, "overrides": {"ring": {"representation": "backbone",
                                                                        "l2_normalize": False}}}}, "ring")
    assert (cfg.k, cfg.variant_name) == (5, "backbone_raw")


def test_pretrain_then_cluster_contract(tmp_path):
    """load_encoder -> load_classifier on prepared data reproduces the stored test pseudo-labels."""
    from ucgan.encoders.config import PretrainConfig
    from ucgan.encoders.simclr import load_encoder, pretrain
    from ucgan.io import write_json

    rng = np.random.default_rng(0)
    root = tmp_path / "prep" / "tiny"
    root.mkdir(parents=True)
    for split, n in (("train", 48), ("test", 24)):
        y = np.arange(n) % 2
        x = np.clip(rng.random((n, 1, 8, 8)) * 0.5 + y[:, None, None, None] * 0.5, 0, 1)
        save_npz(root / f"{split}.npz", x=x.astype(np.float32), y=y.astype(np.int64))
    write_json(root / "manifest.json", {"dataset": "tiny", "modality": "image", "shape": [1, 8, 8],
                                        "range": [0, 1], "class_names": ["a", "b"]})
    pretrain("tiny", PretrainConfig(epochs=1, batch_size=16, width=4, proj_hidden_dim=16, proj_dim=8, probe=False),
             tmp_path / "prep", tmp_path / "enc", "cpu", OFF, progress=False)
    cfg = from_mapping(ClusterConfig, {**FAST, "classifier": {"epochs": 200}}, "cluster")
    m = cluster("tiny", cfg, tmp_path / "enc", tmp_path / "cl", OFF)
    enc = load_encoder(tmp_path / "enc" / "encoder.pt")
    clf = load_classifier(tmp_path / "cl" / "classifier.pt")
    x_te = torch.as_tensor(np.load(root / "test.npz")["x"])
    pred = clf(enc(x_te)).argmax(1).numpy()
    labels = np.load(tmp_path / "cl" / "clusters.npz")["test_labels"]
    assert (pred == labels).mean() == pytest.approx(m["classifier_agreement_test"])
