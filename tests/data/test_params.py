"""Every bad-params case is rejected before any work, with a message naming the key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ucgan import params as P
from ucgan.errors import ConfigError

BASE = {"data": {"datasets": ["gauss4"], "custom": {}}}


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _custom(spec: dict) -> dict:
    return {"data": {"datasets": ["x"], "custom": {"x": spec}}}


@pytest.mark.parametrize(
    "data, match",
    [
        ({"dataa": {}}, "unknown top-level key 'dataa'.*did you mean 'data'"),
        ({"data": {"datasets": ["nope"]}}, "unknown preset 'nope'"),
        ({"data": {"datasets": ["gauss4"], "root_dir": "x"}}, r"unknown key data\.root_dir"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, 0]}), r"data\.custom\.x\.ratio: ratios must be positive"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, -3]}), r"ratio: ratios must be positive"),
        (_custom({"source": "mnist5k", "classes": [0, 12]}), r"classes: unknown class \[12\]"),
        (_custom({"source": "mnist5k", "merges": [[0, 1], [1, 2]]}), r"merges: groups overlap: class\(es\) \[1\]"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratio": [7, 3, 1]}), r"ratio: needs 2 values"),
        (_custom({"source": "mnist5k", "classes": [0, 4], "ratoi": [7, 3]}), r"unknown key data\.custom\.x\.ratoi.*did you mean 'ratio'"),
        (_custom({"source": "mnist5k", "test_fraction": 1.5}), r"test_fraction: must be in \(0, 1\)"),
        (_custom({"source": "webdataset"}), r"source: unknown source 'webdataset'"),
        (_custom({"preset": "ring8-1to3", "counts": [1, 2]}), r"counts: needs 8 values"),
        (_custom({"source": "mixture", "mixture": {"centers": [[0, 0]], "std": -1}, "n_train": 10, "n_test": 5}), r"mixture\.std: must be positive"),
        (_custom({"source": "mnist5k", "range": "0-1"}), r"range: '0-1' is not one of"),
        ({**BASE, "validate": {"share_tolerance": 2}}, r"validate\.share_tolerance"),
        ({**BASE, "tracking": {"enabled": "yes"}}, r"tracking\.enabled: expected true or false"),
        # train.runs: the listed runs beside the matrix
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "ring8", "method": "wgan"}]}}, r"train\.runs\[0\]\.dataset: 'ring8' is not in train\.datasets"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "gauss4", "method": "wgan"}, {"dataset": "gauss4", "method": "wgan"}]}},
         r"train\.runs\[1\]: lists gauss4/wgan/seed 0 twice"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": ["wgan"], "seeds": [0],
                            "runs": [{"dataset": "gauss4", "method": "wgan", "seed": 0}]}}, r"already in the datasets x methods x seeds matrix"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "gauss4", "method": "wgam"}]}}, r"unknown method 'wgam'"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "gauss4", "method": "slogan+nope"}]}}, r"variant 'slogan\+nope' is not declared"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "gauss4", "method": "wgan", "steps": -1}]}}, r"train\.runs\[0\]\.steps: must be >= 0"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [0]}}, r"train\.methods: is empty"),
        ({**BASE, "train": {"datasets": ["gauss4"], "methods": [], "seeds": [],
                            "runs": [{"dataset": "gauss4", "methd": "wgan"}]}}, r"unknown key train\.runs\[0\]\.methd"),
    ],
)
def test_bad_params_are_rejected_naming_the_key(tmp_path: Path, data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        P.load(_write(tmp_path, data))


def test_repository_params_file_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    prm = P.load(root / "params.yaml")
    assert prm.data.datasets


def test_listed_runs_follow_the_matrix_and_set_their_own_steps(tmp_path: Path) -> None:
    from ucgan.stages_params import _check_train

    data = {**BASE, "train": {"datasets": ["gauss4"], "methods": ["wgan"], "seeds": [0], "steps": 50,
                              "steps_per_dataset": {"gauss4": 70},
                              "runs": [{"dataset": "gauss4", "method": "cgpgan", "seed": 1, "steps": 90},
                                       {"dataset": "gauss4", "method": "slogan", "seed": 0}]}}
    prm = P.load(_write(tmp_path, data))
    t = _check_train(prm.raw["train"], prm.raw)
    assert t.all_runs() == [("gauss4", "wgan", 0), ("gauss4", "cgpgan", 1), ("gauss4", "slogan", 0)]
    assert t.loop("gauss4", "cgpgan", 1).steps == 90   # its own entry
    assert t.loop("gauss4", "slogan", 0).steps == 70   # steps: 0 -> the dataset's
    assert t.loop("gauss4", "cgpgan", 0).steps == 70   # another seed is another run
    assert t.loop("gauss4").steps == 70


@pytest.mark.parametrize("profile", ["params.yaml", "profiles/paper.yaml", "profiles/repro-cpu.yaml", "profiles/sweep-cpu.yaml",
                                     "profiles/sweep-paper.yaml"])
def test_profiles_expand_into_the_stages_dvc_lists(profile: str) -> None:
    """Every run a profile declares is a train and an evaluate stage of dvc.yaml (what `dvc repro` runs)."""
    import subprocess
    import sys

    from ucgan.stages_params import _check_train

    root = Path(__file__).resolve().parents[2]
    prm = P.load(root / profile)
    t = _check_train(prm.raw["train"], prm.raw)
    runs = t.all_runs()
    assert len(set(runs)) == len(runs)
    sys.path.insert(0, str(root))
    try:
        from pipelines import plan as planner  # the Prefect flow's planner: the same names the flow will submit
    finally:
        sys.path.pop(0)
    if profile != "params.yaml":  # dvc reads params.yaml: check the other profiles through a copy
        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(root / "dvc.yaml", tmp)
            shutil.copy(root / profile, Path(tmp) / "params.yaml")
            subprocess.run(["git", "init", "-q"], cwd=tmp, check=True)
            subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=tmp, check=True)
            stages = planner.list_stages(tmp)
            d, m, s, listed = planner.read_matrix(tmp)
    else:
        stages = planner.list_stages(root)
        d, m, s, listed = planner.read_matrix(root)
    plan = planner.make_plan(stages, d, m, s, listed=listed)  # raises when a run has no stage
    assert plan.runs == runs


def test_missing_params_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        P.load(tmp_path / "nope.yaml")


def test_a_dataset_built_from_a_preset_takes_the_presets_settings(tmp_path: Path) -> None:
    """ring8-1to9 built from ring8-1to3 trains, pretrains and evaluates with the ring's settings;
    a block of its own wins; a dataset from a source (no preset) gets the defaults."""
    from ucgan.encoders.config import load_pretrain_config
    from ucgan.stages_params import eval_profile, method_config

    data = {"data": {"datasets": ["ring8-1to3", "r9", "r5", "m"], "custom": {
                "r9": {"preset": "ring8-1to3", "counts": [20] * 4 + [180] * 4, "test_counts": [5] * 8},
                "r5": {"preset": "ring8-1to3", "counts": [20] * 4 + [100] * 4, "test_counts": [5] * 8},
                "m": {"source": "mnist5k", "classes": [0, 4]}}},
            "pretrain": {"epochs": 40, "overrides": {"ring8-1to3": {"epochs": 1}}},
            "evaluate": {"default": {"knn_k": 3}, "datasets": {"ring8-1to3": {"knn_k": 5}}},
            "methods": {"slogan": {"default": {"lr": 2.0e-4}, "datasets": {"ring8-1to3": {"lr": 1.0e-3},
                                                                           "r5": {"lr": 5.0e-4}}}}}
    raw = P.load(_write(tmp_path, data)).raw
    assert method_config(raw, "slogan", "r9").lr == 1.0e-3      # the preset's block
    assert method_config(raw, "slogan", "r5").lr == 5.0e-4      # its own block
    assert method_config(raw, "slogan", "m").lr == 2.0e-4       # no preset: the default
    assert load_pretrain_config(raw, "r9").epochs == 1 and load_pretrain_config(raw, "m").epochs == 40
    assert eval_profile(raw, "r9").knn_k == 5 and eval_profile(raw, "m").knn_k == 3
    assert P.settings_key(raw, "r9", ["ring8-1to3"]) == "ring8-1to3" and P.settings_key(raw, "m", ["ring8-1to3"]) is None
