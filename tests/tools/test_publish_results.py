"""benchmarks/publish_results.py: copies a finished run's report with its params, commit and stage times."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_publish_copies_the_report_and_records_times(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "reports" / "figures" / "d").mkdir(parents=True)
    (ws / "reports" / "summary.csv").write_text("dataset,method\nd,m\n")
    (ws / "reports" / "claims.json").write_text(json.dumps([{"id": "a", "verdict": "reproduced"},
                                                             {"id": "b", "verdict": "not run"}]))
    (ws / "reports" / "claims.md").write_text("# claims\n")
    (ws / "reports" / "d.md").write_text("# d\n")
    (ws / "reports" / "figures" / "d" / "mixing.png").write_bytes(b"png")
    (ws / "reports" / "sweeps" / "ring").mkdir(parents=True)
    (ws / "reports" / "sweeps" / "ring.md").write_text("# ring sweep\n")
    (ws / "reports" / "sweeps" / "ring" / "share.png").write_bytes(b"png")
    (ws / "reports" / "defaults_gap.md").write_text("# gap\n")
    (ws / "reports" / "defaults_gap.json").write_text("[]")
    (ws / "params.yaml").write_text("train: {out_root: models}\n")
    run = ws / "models" / "d" / "m-s0"
    run.mkdir(parents=True)
    (run / "train.json").write_text(json.dumps({"seconds": 12.5, "steps": 100, "images_per_second": 50.0}))
    (ws / "models" / "encoders" / "d").mkdir(parents=True)
    (ws / "models" / "encoders" / "d" / "metrics.json").write_text(json.dumps({"train_seconds": 3.0}))
    (ws / "metrics" / "d").mkdir(parents=True)
    (ws / "metrics" / "d" / "m-s0.json").write_text(json.dumps({"seconds": {"total": 2.0}}))
    out = tmp_path / "results" / "x"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "publish_results.py"), "--workspace", str(ws),
                        "--out", str(out), "--note", "made here"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in out.iterdir()} >= {"README.md", "claims.md", "claims.json", "summary.csv", "d.md",
                                               "params.yaml", "provenance.json", "figures", "sweeps",
                                               "defaults_gap.md", "defaults_gap.json"}
    assert (out / "sweeps" / "ring" / "share.png").is_file()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seconds_per_stage_kind"] == {"evaluate": 2.0, "pretrain": 3.0, "train": 12.5}
    readme = (out / "README.md").read_text()
    assert "1 not run, 1 reproduced" in readme and "made here" in readme
    assert "sweeps/ring.md" in readme and "defaults_gap.md" in readme
    assert not (tmp_path / "results" / "x.tmp").exists()
    # every run's metrics file travels with the report, so the tables re-render without the workspace
    assert json.loads((out / "metrics" / "d" / "m-s0.json").read_text()) == {"seconds": {"total": 2.0}}
    assert "one metrics file per run (1)" in readme and "ucgan report --params params.yaml" in readme
    # no report yet: a message, and nothing written
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "publish_results.py"), "--workspace", str(tmp_path),
                        "--out", str(tmp_path / "y")], capture_output=True, text=True)
    assert r.returncode != 0 and "summary.csv not found" in r.stderr and not (tmp_path / "y").exists()
