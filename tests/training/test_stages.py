"""`ucgan train` / `ucgan evaluate` as the pipeline runs them, with MLflow on a local SQLite store."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ucgan.cli import main
from ucgan.errors import TrackingError
from ucgan.tracking import TrackingConfig, check_reachable


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = {
        "data": {"datasets": ["tiny"], "custom": {"tiny": {
            "source": "mixture", "mixture": {"centers": [[0, 1], [1, 0], [0, -1]], "std": 0.05, "weights": [1, 1, 2]},
            "n_train": 400, "n_test": 200, "range": "minmax"}}},
        "train": {"datasets": ["tiny"], "methods": ["wgan"], "seeds": [0], "steps": 20, "log_every": 5,
                  "ckpt_every": 10, "progress": False},
        "methods": {"wgan": {"default": {"batch_size": 16, "latent_dim": 8, "width": 0.25}}},
        "evaluate": {"default": {"n_fake": 200, "n_fake_per_component": 100}},
        "tracking": {"enabled": True, "local_dir": str(tmp_path / "mlruns")},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    r = CliRunner().invoke(main, ["prepare"])
    assert r.exit_code == 0, r.output
    return tmp_path


def test_train_then_evaluate_writes_the_metrics_contract(project: Path) -> None:
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "wgan", "--seed", "0"])
    assert r.exit_code == 0, r.output
    run_dir = project / "models/tiny/wgan-s0"
    assert (run_dir / "model.pt").is_file() and (run_dir / "run.json").is_file()
    r = CliRunner().invoke(main, ["evaluate", "--dataset", "tiny", "--method", "wgan", "--seed", "0"])
    assert r.exit_code == 0, r.output
    m = json.loads((project / "metrics/tiny/wgan-s0.json").read_text())
    for key in ("fid", "icfid", "icfid_per_class", "assignment", "nmi", "mixing_true", "mixing_learned",
                "mixing_l1", "extractor", "n_fake_per_component"):
        assert key in m, key
    assert m["n_fake_per_component"] == 100 and len(m["icfid_per_class"]) == 3
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    run = mlflow.get_run(json.loads((run_dir / "run.json").read_text())["run_id"])
    assert "icfid" in run.data.metrics and run.data.params["method"] == "wgan"


def test_unknown_method_and_unreachable_server_fail_before_training(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "slogann"])
    assert r.exit_code == 2 and "unknown method 'slogann'" in r.output
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "wgan"])
    assert r.exit_code == 2 and "http://127.0.0.1:9 is unreachable" in r.output
    assert not (project / "models/tiny/wgan-s0").exists()


def test_check_reachable_ignores_local_stores() -> None:
    check_reachable("sqlite:///x.db")
    with pytest.raises(TrackingError, match="unreachable"):
        check_reachable("http://127.0.0.1:9", timeout=1)
    assert TrackingConfig().enabled
