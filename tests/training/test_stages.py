"""`ucgan train` / `ucgan evaluate` as the pipeline runs them, with MLflow on a local SQLite store."""
from __future__ import annotations

import json
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
        "methods": {"wgan": {"default": {"batch_size": 16, "latent_dim": 8, "width": 0.25},
                             "variants": {"wgan+gp": {"note": "WGAN-GP penalty", "default": {"penalty": "gp"}}}}},
        "evaluate": {"default": {"n_fake": 200, "icfid_n": 40}},
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
                "mixing_l1", "extractor", "n_fake_per_component", "protocol", "precision", "recall", "purity"):
        assert key in m, key
    # WGAN is unconditional: no ICFID (a reason instead), representation = D's pre-activation
    assert m["icfid"] is None and m["icfid_reason"] and m["mixing_l1"] is None
    p = m["protocol"]
    assert p["variant"] == "wgan" and p["extractor"] == "raw" and p["extractor_independent"] is True
    assert p["nmi_representation"] == "D penultimate pre-activation" and p["components_excluded"] == 0
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    run = mlflow.get_run(json.loads((run_dir / "run.json").read_text())["run_id"])
    assert "fid" in run.data.metrics and "icfid" not in run.data.metrics and run.data.params["method"] == "wgan"


def test_a_variant_id_runs_under_its_own_name(project: Path) -> None:
    r = CliRunner().invoke(main, ["methods"])
    assert r.exit_code == 0 and "wgan+gp" in r.output and "variant of wgan: WGAN-GP penalty" in r.output
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "wgan+gp", "--seed", "0"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["evaluate", "--dataset", "tiny", "--method", "wgan+gp", "--seed", "0"])
    assert r.exit_code == 0, r.output
    m = json.loads((project / "metrics/tiny/wgan+gp-s0.json").read_text())
    assert m["method"] == "wgan+gp" and m["base_method"] == "wgan" and m["protocol"]["variant"] == "wgan+gp"
    assert m["variant_note"] == "WGAN-GP penalty"
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    run = mlflow.get_run(json.loads((project / "models/tiny/wgan+gp-s0/run.json").read_text())["run_id"])
    assert run.info.run_name == "tiny-wgan+gp-s0" and run.data.tags["method"] == "wgan+gp"
    assert "gp" in run.data.params.values()  # the variant's override reached the config
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "wgan+typo"])
    assert r.exit_code != 0 and "not declared under methods.wgan.variants" in r.output


def test_evaluating_a_model_trained_under_another_tracking_store(project: Path) -> None:
    """A model restored from the team's DVC cache names a run of its trainer's MLflow store: the
    metrics go to a new run that names it, instead of failing after the evaluation."""
    r = CliRunner().invoke(main, ["train", "--dataset", "tiny", "--method", "wgan", "--seed", "0"])
    assert r.exit_code == 0, r.output
    run_json = project / "models/tiny/wgan-s0/run.json"
    foreign = "0123456789abcdef0123456789abcdef"
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "run_id": foreign}))
    r = CliRunner().invoke(main, ["evaluate", "--dataset", "tiny", "--method", "wgan", "--seed", "0"])
    assert r.exit_code == 0, r.output
    assert (project / "metrics/tiny/wgan-s0.json").is_file()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns/mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["ucgan"], filter_string=f"tags.trained_run_id = '{foreign}'",
                              output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.run_name == "tiny-wgan-s0-evaluate" and run.info.status == "FINISHED"
    assert run.data.tags["stage"] == "evaluate" and run.data.tags["method"] == "wgan"
    assert "fid" in run.data.metrics


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
