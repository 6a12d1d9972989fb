"""dvc.yaml declares exactly the paths and stage names that :mod:`ucgan.layout` gives the code."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ucgan import layout
from ucgan import params as P
from ucgan.stages_params import _check_train

ROOT = Path(__file__).resolve().parents[2]


def _stages(repo: Path) -> dict[str, tuple[list[str], list[str]]]:
    """stage name -> (outs, metrics) as DVC resolves dvc.yaml with that repo's params.yaml."""
    from dvc.repo import Repo

    out: dict[str, tuple[list[str], list[str]]] = {}
    with Repo(str(repo)) as r:
        for st in r.index.stages:
            outs = [Path(o.def_path).as_posix() for o in st.outs if not o.metric]
            mets = [Path(o.def_path).as_posix() for o in st.outs if o.metric]
            out[st.addressing] = (outs, mets)
    return out


@pytest.mark.parametrize("profile", ["params.yaml", "profiles/repro-cpu.yaml"])
def test_dvc_yaml_agrees_with_layout(profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = ROOT
    if profile != "params.yaml":
        repo = tmp_path
        shutil.copy(ROOT / "dvc.yaml", repo)
        shutil.copy(ROOT / profile, repo / "params.yaml")
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    monkeypatch.chdir(repo)  # DVC resolves ${...} against the params.yaml of the working directory
    prm = P.load(repo / "params.yaml")
    t = _check_train(prm.raw["train"], prm.raw)
    stages = _stages(repo)
    listed = {(r.dataset, r.method, r.seed): i for i, r in enumerate(t.runs)}
    for d, m, s in t.all_runs():
        i = listed.get((d, m, s))
        assert stages[layout.train_stage(d, m, s, i)][0] == [layout.run_dir(t.out_root, d, m, s).as_posix()]
        assert stages[layout.evaluate_stage(d, m, s, i)][1] == [layout.metrics_path("metrics", d, m, s).as_posix()]
    for d in prm.data.datasets:
        assert stages[f"pretrain@{d}"][0] == [layout.encoder_dir(d).as_posix()]
        assert stages[f"cluster@{d}"][0] == [layout.clusters_dir(d).as_posix()]
    for d in t.datasets:
        assert stages[f"eval-encoder@{d}"][0] == [layout.encoder_dir(d, "eval").as_posix()]
