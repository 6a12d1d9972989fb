"""Every failure a user can cause, as one table: bad data, bad params, foreign or malicious files,
unwritable or full outputs, an unreachable tracking server, interrupted and killed runs.

Each case starts from a copy of one small, complete workspace (a prepared 3-component mixture, a
trained and evaluated WGAN, an MLflow store), does one wrong thing through the CLI, and checks:
the exit code, a message naming the cause (and, where there is one, the fix), no partial outputs
(no temporary folders, none of the outputs the failed command would have written) and the earlier
good outputs byte-for-byte intact.
"""
from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from ucgan.cli import main

TINY = "tiny"
RUN_DIR = Path("models") / TINY / "wgan-s0"
METRICS = Path("metrics") / TINY / "wgan-s0.json"
PREPARED = Path("data/prepared") / TINY
#: Outputs of the good workspace that no failed command may change.
GOOD = [PREPARED, RUN_DIR, METRICS]

BASE_PARAMS: dict[str, Any] = {
    "data": {"datasets": [TINY], "custom": {TINY: {
        "source": "mixture", "mixture": {"centers": [[0, 1], [1, 0], [0, -1]], "std": 0.05, "weights": [1, 1, 2]},
        "n_train": 400, "n_test": 200, "range": "minmax"}}},
    "train": {"datasets": [TINY], "methods": ["wgan"], "seeds": [0], "steps": 20, "log_every": 5,
              "ckpt_every": 10, "progress": False},
    "methods": {"wgan": {"default": {"batch_size": 16, "latent_dim": 8, "width": 0.25}}},
    "evaluate": {"default": {"n_fake": 200}},
    "tracking": {"enabled": True, "local_dir": "mlruns"},
}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def good_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prepare -> train -> evaluate once; every case works on a copy."""
    ws = tmp_path_factory.mktemp("good")
    old = Path.cwd()
    os.chdir(ws)
    saved_uri = os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        (ws / "params.yaml").write_text(yaml.safe_dump(BASE_PARAMS))
        for argv in (["prepare"], ["train", "--dataset", TINY, "--method", "wgan"],
                     ["evaluate", "--dataset", TINY, "--method", "wgan"]):
            r = invoke(*argv)
            assert r.exit_code == 0, r.output
    finally:
        os.chdir(old)
        if saved_uri is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved_uri
    return ws


@pytest.fixture()
def ws(good_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dst = tmp_path / "ws"
    shutil.copytree(good_workspace, dst, symlinks=True)
    monkeypatch.chdir(dst)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return dst


def digest(root: Path, paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        p = root / p
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            out[str(f.relative_to(root))] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def leftovers(root: Path) -> list[str]:
    """Temporary files/folders of the atomic writers (``.name.XXXX.tmp``, ``.name.old-PID``)."""
    return [str(p.relative_to(root)) for p in root.rglob(".*")
            if re.search(r"\.tmp$|\.old-\d+$", p.name) and "mlruns" not in p.parts]


def set_params(ws: Path, **sections: Any) -> None:
    p = yaml.safe_load((ws / "params.yaml").read_text())
    for dotted, value in sections.items():
        node = p
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value
    (ws / "params.yaml").write_text(yaml.safe_dump(p))


def add_vector_dataset(ws: Path, name: str, file: str, range_: str = "minmax", **spec: Any) -> None:
    custom = yaml.safe_load((ws / "params.yaml").read_text())["data"]["custom"]
    custom[name] = {"source": "vector_file", "source_options": {"path": str(ws / file)}, "split": "stratified",
                    "range": range_, **spec}
    set_params(ws, data__custom=custom)


def vectors(n: int = 200, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), np.repeat([0, 1], n // 2)


def mlflow_runs(ws: Path) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlruns/mlflow.db'}")  # leaves the process's URI alone
    exp = client.get_experiment_by_name("ucgan")
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)


# --------------------------------------------------------------------------- case setups
def nan_vector_file(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, y = vectors()
    x[3, 2] = np.nan
    x[40, 0] = np.nan
    np.savez(ws / "nan.npz", x=x, y=y)
    add_vector_dataset(ws, "vnan", "nan.npz")


def inf_csv(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "inf.csv").write_text("label,a,b\n0,1,2\n1,inf,3\n" + "".join(f"{i % 2},{i},{i}\n" for i in range(40)))
    add_vector_dataset(ws, "vinf", "inf.csv")


def unit_but_0_16(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, y = vectors()
    np.savez(ws / "digits16.npz", x=np.round(x * 16), y=y)
    add_vector_dataset(ws, "v16", "digits16.npz", range_="unit")


def symmetric_out_of_range(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, y = vectors()
    np.savez(ws / "neg.npz", x=x - 0.5, y=y)
    add_vector_dataset(ws, "vneg", "neg.npz", range_="symmetric")


def mixture_without_range(ws: Path, mp: pytest.MonkeyPatch) -> None:
    set_params(ws, data__custom={**BASE_PARAMS["data"]["custom"], "mix": {
        "source": "mixture", "mixture": {"centers": [[0, 0], [1, 1]], "std": 0.05}, "n_train": 200, "n_test": 50}})


def truncated_npz(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, y = vectors()
    np.savez(ws / "full.npz", x=x, y=y)
    data = (ws / "full.npz").read_bytes()
    (ws / "cut.npz").write_bytes(data[: len(data) // 2])
    add_vector_dataset(ws, "vcut", "cut.npz")


def empty_file(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "empty.npz").write_bytes(b"")
    add_vector_dataset(ws, "vempty", "empty.npz")


def empty_csv(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "empty.csv").write_text("")
    add_vector_dataset(ws, "vempty", "empty.csv")


def header_only_csv(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "head.csv").write_text("label,a,b\n")
    add_vector_dataset(ws, "vhead", "head.csv")


def ragged_csv(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "ragged.csv").write_text("label,a,b\n" + "".join(f"{i % 2},{i},{i}\n" for i in range(40)) + "1,2\n")
    add_vector_dataset(ws, "vragged", "ragged.csv")


def npz_without_y(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, _ = vectors()
    np.savez(ws / "noy.npz", x=x, labels=np.zeros(len(x)))
    add_vector_dataset(ws, "vnoy", "noy.npz")


def npz_length_mismatch(ws: Path, mp: pytest.MonkeyPatch) -> None:
    x, y = vectors()
    np.savez(ws / "mis.npz", x=x, y=y[:-3])
    add_vector_dataset(ws, "vmis", "mis.npz")


def npz_pickled_object(ws: Path, mp: pytest.MonkeyPatch) -> None:
    np.savez(ws / "obj.npz", x=np.array([{"a": 1}] * 10, dtype=object), y=np.zeros(10))
    add_vector_dataset(ws, "vobj", "obj.npz")


def missing_vector_file(ws: Path, mp: pytest.MonkeyPatch) -> None:
    add_vector_dataset(ws, "vgone", "gone.npz")


def swap_test_into_train(ws: Path, mp: pytest.MonkeyPatch) -> None:
    shutil.copy(ws / PREPARED / "test.npz", ws / PREPARED / "train.npz")


def garbage_train_npz(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / PREPARED / "train.npz").write_bytes(b"not a zip file at all")


def missing_manifest(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / PREPARED / "manifest.json").unlink()


def foreign_model(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import torch

    torch.save({"state_dict": {"w": torch.zeros(3)}}, ws / RUN_DIR / "model.pt")


def foreign_model_tensor(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import torch

    torch.save(torch.zeros(3), ws / RUN_DIR / "model.pt")


def pickled_code_model(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import torch

    class Payload:
        def __reduce__(self) -> Any:
            return (os.system, ("touch PWNED",))

    torch.save({"meta": Payload()}, ws / RUN_DIR / "model.pt")


def garbage_model(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / RUN_DIR / "model.pt").write_bytes(os.urandom(512))


def wrong_checkpoint(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import torch

    (ws / "checkpoints" / TINY).mkdir(parents=True, exist_ok=True)
    torch.save({"weights": torch.zeros(2)}, ws / "checkpoints" / TINY / "wgan-s1.pt")


def unreachable_server(ws: Path, mp: pytest.MonkeyPatch) -> None:
    mp.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # discard port: nothing listens


def models_not_writable(ws: Path, mp: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        os.chmod(ws / "models" / TINY, 0o555)
        return
    # root ignores permission bits: make the folder refuse new files the way a read-only mount does
    import tempfile

    real = tempfile.TemporaryFile

    def refuse(*a: Any, **kw: Any) -> Any:
        if str(kw.get("dir", "")).endswith(f"models/{TINY}"):
            raise PermissionError(errno.EACCES, "Permission denied", kw["dir"])
        return real(*a, **kw)

    mp.setattr("ucgan.preflight.tempfile.TemporaryFile", refuse)


def out_root_is_a_file(ws: Path, mp: pytest.MonkeyPatch) -> None:
    (ws / "blocked").write_text("a file where a folder should be")
    set_params(ws, train__out_root="blocked/models")


def disk_nearly_full(ws: Path, mp: pytest.MonkeyPatch) -> None:
    real = shutil.disk_usage
    mp.setattr("ucgan.preflight.shutil.disk_usage", lambda p: real(p)._replace(free=10 * 2**20))


def disk_full_while_writing_model(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import ucgan.training as training

    real = training.torch_save

    def full(path: Any, obj: Any) -> None:
        if Path(path).name == "model.pt":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, obj)

    mp.setattr(training, "torch_save", full)
    set_params(ws, train__steps=30)  # a new configuration: the run is redone and fails at its last write


def disk_full_while_preparing(ws: Path, mp: pytest.MonkeyPatch) -> None:
    import ucgan.data.build as build

    real = build.save_npz

    def full(path: Any, **arrays: Any) -> None:
        if str(path).endswith("test.npz"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, **arrays)

    mp.setattr(build, "save_npz", full)
    set_params(ws, data__custom={TINY: {**BASE_PARAMS["data"]["custom"][TINY], "seed": 1}})


def tiny_classes(ws: Path, mp: pytest.MonkeyPatch) -> None:
    set_params(ws, data__custom={**BASE_PARAMS["data"]["custom"], "few": {
        "source": "mixture", "mixture": {"centers": [[0, 1], [1, 0]], "std": 0.05},
        "counts": [8, 4], "test_counts": [6, 3], "range": "minmax"}},
        evaluate__default={"n_fake": 20})
    assert invoke("prepare", "--dataset", "few").exit_code == 0
    r = invoke("train", "--dataset", "few", "--method", "wgan")
    assert r.exit_code == 0, r.output


def params_edit(**kw: Any) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(ws: Path, mp: pytest.MonkeyPatch) -> None:
        set_params(ws, **kw)
    return setup


def params_text(text: str) -> Callable[[Path, pytest.MonkeyPatch], None]:
    def setup(ws: Path, mp: pytest.MonkeyPatch) -> None:
        (ws / "params.yaml").write_text(text)
    return setup


def no_setup(ws: Path, mp: pytest.MonkeyPatch) -> None:
    pass


# --------------------------------------------------------------------------- the table
@dataclasses.dataclass
class Case:
    id: str
    setup: Callable[[Path, pytest.MonkeyPatch], None]
    argv: list[str]
    message: str                          # regex the output must match (the cause, and the fix where there is one)
    code: int = 2
    absent: list[str] = dataclasses.field(default_factory=list)   # outputs the failed command must not leave
    refused: bool = True                  # refused before work: no FAILED/RUNNING MLflow run may remain


TRAIN = ["train", "--dataset", TINY, "--method", "wgan"]
EVAL = ["evaluate", "--dataset", TINY, "--method", "wgan"]
SEED1 = ["--seed", "1"]

CASES = [
    # data files (issue list: 1, 2, 6, 7)
    Case("nan-in-vector-file", nan_vector_file, ["prepare", "--dataset", "vnan"],
         r"nan\.npz has 2 non-finite value\(s\).*first is row 3, column 2.*Remove or impute", absent=["data/prepared/vnan"]),
    Case("inf-in-csv", inf_csv, ["prepare", "--dataset", "vinf"], r"inf\.csv has 1 non-finite.*row 1, column 0",
         absent=["data/prepared/vinf"]),
    Case("declared-unit-but-0-16", unit_but_0_16, ["prepare", "--dataset", "v16"],
         r"digits16\.npz \(train split\) spans \[0, 16\] but range: unit.*Set range: minmax.*or range: none",
         absent=["data/prepared/v16"]),
    Case("declared-symmetric-but-negative", symmetric_out_of_range, ["prepare", "--dataset", "vneg"],
         r"range: symmetric declares.*\[0, 1\].*range: minmax", absent=["data/prepared/vneg"]),
    Case("mixture-without-range", mixture_without_range, ["prepare", "--dataset", "mix"],
         r"mixture's points \(train split\) spans.*range: unit.*range: minmax", absent=["data/prepared/mix"]),
    Case("truncated-npz", truncated_npz, ["prepare", "--dataset", "vcut"], r"cut\.npz is malformed, unreadable or truncated",
         absent=["data/prepared/vcut"]),
    Case("empty-npz", empty_file, ["prepare", "--dataset", "vempty"], r"empty\.npz is empty \(0 bytes\)",
         absent=["data/prepared/vempty"]),
    Case("empty-csv", empty_csv, ["prepare", "--dataset", "vempty"], r"empty\.csv is empty", absent=["data/prepared/vempty"]),
    Case("header-only-csv", header_only_csv, ["prepare", "--dataset", "vhead"], r"head\.csv holds no rows",
         absent=["data/prepared/vhead"]),
    Case("ragged-csv", ragged_csv, ["prepare", "--dataset", "vragged"], r"data row 40 has 2 fields, the header 3",
         absent=["data/prepared/vragged"]),
    Case("npz-without-y", npz_without_y, ["prepare", "--dataset", "vnoy"], r"has no array\(s\) \['y'\].*np\.savez",
         absent=["data/prepared/vnoy"]),
    Case("npz-length-mismatch", npz_length_mismatch, ["prepare", "--dataset", "vmis"], r"x has 200 rows but y has 197",
         absent=["data/prepared/vmis"]),
    Case("npz-with-pickled-objects", npz_pickled_object, ["prepare", "--dataset", "vobj"],
         r"obj\.npz is malformed.*allow_pickle=False", absent=["data/prepared/vobj"]),
    Case("missing-vector-file", missing_vector_file, ["prepare", "--dataset", "vgone"], r"gone\.npz not found.*source_options\.path",
         absent=["data/prepared/vgone"]),
    Case("test-copied-over-train", swap_test_into_train, TRAIN + SEED1,
         r"train\.npz does not match the content hash.*ucgan prepare --dataset tiny", absent=["models/tiny/wgan-s1"]),
    Case("validate-sees-the-swap", swap_test_into_train, ["validate", "--dataset", TINY],
         r"content hash:.*does not match", absent=[]),
    Case("garbage-train-npz", garbage_train_npz, TRAIN + SEED1, r"train\.npz is corrupt.*re-run `ucgan prepare",
         absent=["models/tiny/wgan-s1"]),
    Case("missing-manifest", missing_manifest, TRAIN + SEED1, r"prepared dataset 'tiny' not found.*ucgan prepare",
         absent=["models/tiny/wgan-s1"]),
    Case("fewer-than-15-per-class-evaluates", tiny_classes, ["evaluate", "--dataset", "few", "--method", "wgan"],
         r"FID .*ICFID", code=0),
    # foreign and malicious model files (7)
    Case("foreign-tensors-only-model", foreign_model, EVAL, r"model\.pt is not a ucgan trained model.*missing \['meta'",
         absent=[]),
    Case("bare-tensor-model", foreign_model_tensor, EVAL, r"model\.pt is not a ucgan trained model \(it holds a Tensor"),
    Case("pickled-code-model", pickled_code_model, EVAL, r"cannot load .*model\.pt as a tensors-only checkpoint",
         absent=["PWNED"]),
    Case("garbage-model", garbage_model, EVAL, r"cannot load .*model\.pt as a tensors-only checkpoint"),
    Case("checkpoint-of-wrong-structure", wrong_checkpoint, TRAIN + SEED1,
         r"wgan-s1\.pt is not a ucgan training checkpoint.*delete it", absent=["models/tiny/wgan-s1"]),
    # params (8)
    Case("seed-overflow", no_setup, TRAIN + ["--seed", str(2**64)], r"Invalid value for '--seed'", absent=[]),
    Case("negative-seed", no_setup, TRAIN + ["--seed", "-1"], r"Invalid value for '--seed'"),
    Case("empty-seeds", params_edit(train__seeds=[]), ["check-params"], r"train\.seeds: is empty.*DVC drop"),
    Case("empty-datasets", params_edit(train__datasets=[]), ["check-params"], r"train\.datasets: is empty"),
    Case("seed-listed-twice", params_edit(train__seeds=[0, 0]), ["check-params"], r"train\.seeds: lists an entry twice"),
    Case("seed-out-of-range-in-params", params_edit(train__seeds=[2**40]), ["check-params"], r"train\.seeds: seeds must be"),
    Case("infinite-lr", params_text(yaml.safe_dump(BASE_PARAMS).replace("width: 0.25", "width: 0.25\n      lr: .inf")),
         ["check-params"], r"methods\.wgan\.default\.lr: expected a finite number"),
    Case("nan-weight", params_edit(validate__share_tolerance=float("nan")), ["check-params"],
         r"validate\.share_tolerance: expected a finite number"),
    Case("negative-steps", params_edit(train__steps=-5), TRAIN + SEED1, r"train\.steps: must be positive",
         absent=["models/tiny/wgan-s1"]),
    Case("unknown-top-level-key", params_edit(trian={"steps": 3}), TRAIN + SEED1, r"unknown top-level key 'trian'.*did you mean 'train'"),
    Case("invalid-yaml", params_text("train: [unclosed\n"), ["check-params"], r"params\.yaml is not valid YAML"),
    Case("missing-params-file", no_setup, ["check-params", "--params", "nope.yaml"], r"params file nope\.yaml not found"),
    Case("unknown-method", no_setup, ["train", "--dataset", TINY, "--method", "slogann"], r"unknown method 'slogann'"),
    Case("unknown-dataset", no_setup, ["train", "--dataset", "tinyy", "--method", "wgan"],
         r"prepared dataset 'tinyy' not found.*ucgan prepare --dataset tinyy"),
    Case("ratio-zero", params_edit(data__custom={**BASE_PARAMS["data"]["custom"], "r0": {"source": "mnist5k", "classes": [0, 4], "ratio": [0, 1],
                                                         "split": "stratified"}}),
         ["check-params"], r"ratio: ratios must be positive"),
    # outputs: unwritable, full disk (4, 5)
    Case("models-not-writable", models_not_writable, TRAIN + SEED1, r"cannot write models/tiny/wgan-s1.*not writable.*Nothing was computed",
         absent=["models/tiny/wgan-s1", "checkpoints/tiny/wgan-s1.pt"]),
    Case("out-root-is-a-file", out_root_is_a_file, TRAIN + SEED1, r"not writable.*Nothing was computed",
         absent=["blocked/models"]),
    Case("disk-nearly-full", disk_nearly_full, TRAIN + SEED1, r"not enough disk space for the run models/tiny/wgan-s1.*MiB free",
         absent=["models/tiny/wgan-s1", "checkpoints/tiny/wgan-s1.pt"]),
    Case("disk-full-while-writing-model", disk_full_while_writing_model, TRAIN,
         r"cannot write .*model\.pt: the disk is full.*previous complete ones are unchanged", refused=False),
    Case("disk-full-while-preparing", disk_full_while_preparing, ["prepare", "--dataset", TINY],
         r"cannot write .*test\.npz: the disk is full"),
    Case("disk-nearly-full-prepare", disk_nearly_full, ["prepare", "--dataset", TINY], r"not enough disk space for the prepared datasets"),
    # tracking server (3)
    Case("evaluate-unreachable-server", unreachable_server, EVAL + SEED1,
         r"http://127\.0\.0\.1:9 is unreachable.*Start it, fix MLFLOW_TRACKING_URI", absent=["metrics/tiny/wgan-s1.json"]),
    Case("evaluate-unreachable-server-no-stats", unreachable_server, EVAL, r"is unreachable", absent=[]),
    Case("train-unreachable-server", unreachable_server, TRAIN + SEED1, r"is unreachable",
         absent=["models/tiny/wgan-s1", "checkpoints/tiny/wgan-s1.pt"]),
    Case("report-unreachable-server", unreachable_server, ["report"], r"is unreachable", absent=["reports"]),
    Case("pretrain-unreachable-server", unreachable_server, ["pretrain", "--dataset", TINY], r"is unreachable",
         absent=["models/encoders/tiny", "checkpoints/encoders"]),
    Case("cluster-unreachable-server", unreachable_server, ["cluster", "--dataset", TINY], r"is unreachable",
         absent=["models/clusters/tiny"]),
    Case("evaluate-before-train", no_setup, EVAL + SEED1, r"checkpoint .*wgan-s1/model\.pt does not exist.*run the stage",
         absent=["metrics/tiny/wgan-s1.json"]),
    Case("method-needs-cluster-stage", no_setup, ["train", "--dataset", TINY, "--method", "infoscc"],
         r"needs the pretrain/cluster outputs.*dvc repro cluster@tiny", absent=["models/tiny/infoscc-s0"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_user_failure(case: Case, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs_before = {r.info.run_id for r in mlflow_runs(ws)}  # first: mlflow.set_tracking_uri also sets the env var
    case.setup(ws, monkeypatch)
    before = digest(ws, GOOD)
    r = invoke(*case.argv)
    out = r.output
    assert r.exit_code == case.code, f"{case.id}: exit {r.exit_code}\n{out}\n{r.exception!r}"
    assert re.search(case.message, out, re.S), f"{case.id}: message does not match {case.message!r}:\n{out}"
    assert "Traceback" not in out
    for rel in case.absent:
        assert not (ws / rel).exists(), f"{case.id}: left {rel}"
    assert leftovers(ws) == [], f"{case.id}: temporary files left: {leftovers(ws)}"
    assert digest(ws, GOOD) == before, f"{case.id}: earlier outputs changed"
    if case.code != 0 and case.refused:  # a refused command leaves no FAILED (or RUNNING) run behind
        new = [x for x in mlflow_runs(ws) if x.info.run_id not in runs_before]
        assert [x.info.status for x in new if x.info.status != "KILLED"] == [], f"{case.id}: left MLflow runs {new}"


# --------------------------------------------------------------------------- lifecycle cases
def test_sigterm_ends_the_run_killed_and_resume_continues_it(ws: Path) -> None:
    from ucgan.stages import train_one
    from ucgan.training import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        train_one("params.yaml", TINY, "wgan", 2, stop_after=10)
    runs = [r for r in mlflow_runs(ws) if r.data.tags.get("seed") == "2"]
    assert [r.info.status for r in runs] == ["KILLED"]
    assert not (ws / "models/tiny/wgan-s2").exists()  # nothing published before the run completes
    train_one("params.yaml", TINY, "wgan", 2)
    runs = [r for r in mlflow_runs(ws) if r.data.tags.get("seed") == "2"]
    assert [r.info.status for r in runs] == ["FINISHED"]  # the same run, resumed and finished
    assert (ws / "models/tiny/wgan-s2/run.json").is_file()
    import json

    assert json.loads((ws / "models/tiny/wgan-s2/run.json").read_text())["run_id"] == runs[0].info.run_id


def test_a_run_killed_with_sigkill_does_not_stay_running(ws: Path) -> None:
    import mlflow

    from ucgan.tracking import HOST_TAG, PID_TAG, TrackingConfig, setup

    dead = subprocess.Popen(["true"])
    dead.wait()
    setup(TrackingConfig(local_dir="mlruns"))
    tags = {"dataset": TINY, "method": "wgan", "seed": "3", "stage": "train"}
    import socket

    with mlflow.start_run(run_name="killed", tags={**tags, HOST_TAG: socket.gethostname(), PID_TAG: str(dead.pid)}) as r:
        stale = r.info.run_id
    mlflow.MlflowClient().update_run(stale, status="RUNNING")  # what kill -9 leaves
    assert invoke(*TRAIN, "--seed", "3").exit_code == 0
    statuses = {x.info.run_id: x.info.status for x in mlflow_runs(ws) if x.data.tags.get("seed") == "3"}
    assert statuses.pop(stale) == "KILLED" and list(statuses.values()) == ["FINISHED"]


def test_failed_evaluation_does_not_mark_the_training_run_failed(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ucgan.registry as registry

    def broken(*a: Any, **kw: Any) -> None:
        raise RuntimeError("registry down")

    monkeypatch.setattr(registry, "register_generator", broken)
    with pytest.raises(RuntimeError, match="registry down"):
        CliRunner().invoke(main, EVAL, catch_exceptions=False)
    statuses = {r.info.status for r in mlflow_runs(ws) if r.data.tags.get("stage") == "train"}
    assert statuses == {"FINISHED"}


def test_outputs_honour_a_group_writable_umask(ws: Path) -> None:
    old = os.umask(0o002)
    try:
        set_params(ws, data__custom={TINY: {**BASE_PARAMS["data"]["custom"][TINY], "seed": 5}})
        assert invoke("prepare").exit_code == 0
        assert invoke(*TRAIN, "--seed", "4").exit_code == 0
        assert invoke(*EVAL, "--seed", "4").exit_code == 0
    finally:
        os.umask(old)
    for p in [PREPARED / "train.npz", PREPARED / "manifest.json", Path("models/tiny/wgan-s4/model.pt"),
              Path("models/tiny/wgan-s4/losses.csv"), Path("metrics/tiny/wgan-s4.json")]:
        assert (ws / p).stat().st_mode & 0o777 == 0o664, p
    for d in [PREPARED, Path("models/tiny/wgan-s4"), Path("models/tiny/wgan-s4/grids")]:
        assert (ws / d).stat().st_mode & 0o777 == 0o775, d
    import json

    run_id = json.loads((ws / "models/tiny/wgan-s4/run.json").read_text())["run_id"]
    from urllib.parse import urlparse

    from mlflow.tracking import MlflowClient

    uri = MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlruns/mlflow.db'}").get_run(run_id).info.artifact_uri
    art = [f for f in Path(urlparse(uri).path).rglob("*") if f.is_file()]
    assert {f.name for f in art} >= {"losses.csv", "final.png", "wgan-s4.json"}
    assert all(f.stat().st_mode & 0o777 == 0o664 for f in art), {f.name: oct(f.stat().st_mode) for f in art}


def test_umask_022_gives_the_usual_modes(ws: Path) -> None:
    old = os.umask(0o022)
    try:
        assert invoke(*TRAIN, "--seed", "5").exit_code == 0
    finally:
        os.umask(old)
    assert (ws / "models/tiny/wgan-s5/model.pt").stat().st_mode & 0o777 == 0o644
    assert (ws / "models/tiny/wgan-s5").stat().st_mode & 0o777 == 0o755



def test_changed_config_stops_the_resume_with_a_diff_and_fresh_starts_over(ws: Path) -> None:
    from ucgan.stages import train_one
    from ucgan.training import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        train_one("params.yaml", TINY, "wgan", 6, stop_after=10)
    set_params(ws, train__steps=30)
    runs_before = {r.info.run_id for r in mlflow_runs(ws)}
    r = invoke(*TRAIN, "--seed", "6")
    assert r.exit_code == 2
    assert re.search(r"wgan-s6\.pt \(step 10\) was written under another configuration or data; changed: loop\.steps: 20 -> 30\. "
                     r"Re-run with --fresh", r.output), r.output
    assert {x.info.run_id for x in mlflow_runs(ws)} == runs_before  # refused before an MLflow run opened
    r = invoke(*TRAIN, "--seed", "6", "--fresh")
    assert r.exit_code == 0, r.output
    import json

    cfg = json.loads((ws / "models/tiny/wgan-s6/config.json").read_text())
    manifest = json.loads((ws / PREPARED / "manifest.json").read_text())
    assert cfg["loop"]["steps"] == 30 and cfg["config"]["batch_size"] == 16 and cfg["seed"] == 6
    assert cfg["data"]["content_hash"] == manifest["content_hash"]
    assert cfg["packages"]["torch"] and "git_commit" in cfg and cfg["fingerprint"]
