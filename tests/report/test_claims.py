"""Claims as data: verdicts, derived metrics, the claims file's checks, and the report's claims table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ucgan import claims as C
from ucgan import params as P
from ucgan.cli.report import report_command
from ucgan.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _claim(**kw: Any) -> C.Claim:
    base = {"id": "x", "title": "t", "dataset": "d", "method": "m", "metric": "nmi", "direction": "higher",
            "threshold": 0.8, "rule": "every_seed", "seeds": 3, "paper": {"value": 0.92}}
    from ucgan.config import from_mapping
    return from_mapping(C.Claim, {**base, **kw}, "claim")


@pytest.mark.parametrize("kw, values, expected", [
    ({}, [], "not run"),
    ({}, [0.95, 0.95], "too few seeds"),
    ({}, [0.85, 0.9, 0.79], "not reproduced"),            # every seed must meet the bar
    ({"rule": "mean"}, [0.85, 0.9, 0.79], "reproduced"),  # the mean does
    ({}, [0.85, 0.9, 0.81], "reproduced"),
    ({}, [0.95, 0.96, 0.97], "better than the paper"),
    ({}, [0.90, 0.93, 0.96], "reproduced"),                # better on average, but within the seeds' spread
    ({"direction": "lower", "threshold": 0.1, "paper": {"value": None}}, [0.05, 0.09, 0.1], "reproduced"),
    ({"direction": "lower", "threshold": 0.1}, [0.05, 0.11, 0.02], "not reproduced"),
    ({"seeds": 1}, [0.85], "reproduced"),
])
def test_verdicts(kw: dict, values: list[float], expected: str) -> None:
    assert C.verdict(_claim(**kw), values) == expected


def test_derived_metrics_and_missing_values() -> None:
    rec = {"mixing_true": [0.1, 0.2, 0.3, 0.4], "mixing_learned": [0.12, 0.19, 0.27, 0.42], "modes_covered": 8,
           "num_modes": 8, "nmi": None}
    assert C.metric_value(_claim(metric="derived:mixing_max_abs_error"), rec) == pytest.approx(0.03)
    assert C.metric_value(_claim(metric="derived:majority_share_error"), rec) == pytest.approx(0.02)
    assert C.metric_value(_claim(metric="derived:majority_share"), rec) == pytest.approx(0.42)
    assert C.metric_value(_claim(metric="derived:all_modes"), rec) == 1.0
    assert C.metric_value(_claim(metric="derived:all_modes"), {**rec, "modes_covered": 7}) == 0.0
    assert C.metric_value(_claim(metric="nmi"), rec) is None           # null in the JSON: no value, not 0
    assert C.metric_value(_claim(metric="derived:mixing_max_abs_error"), {}) is None


def test_evaluate_claims_rows() -> None:
    recs = [{"dataset": "d", "method": "m", "seed": s, "nmi": v} for s, v in ((2, 0.9), (0, 0.85), (1, 0.95))]
    recs.append({"dataset": "d", "method": "other", "seed": 0, "nmi": 0.1})
    (row,) = C.evaluate_claims([_claim()], recs)
    assert row["verdict"] == "reproduced" and row["n_seeds"] == 3 and list(row["ours_per_seed"]) == [0, 1, 2]
    assert row["ours_mean"] == pytest.approx(0.9) and row["ours_std"] == pytest.approx(0.05)
    md = C.claims_markdown([row])
    assert "| t | d / m | nmi (≥ 0.8 in every seed) | 0.92 | — | 0.9 ± 0.05 (3) | **reproduced** |" in md
    assert json.loads(json.dumps(C.claims_json([row])))[0]["ours_per_seed"] == {"0": 0.85, "1": 0.95, "2": 0.9}


@pytest.mark.parametrize("text, match", [
    ("claims: [{id: a, title: t, dataset: d, method: m, metric: nmi}, {id: a, title: t, dataset: d, method: m, metric: nmi}]",
     "claim id 'a' is used twice"),
    ("claims: [{id: a, title: t, dataset: d, method: m, metric: 'derived:nope'}]", "unknown derived metric 'nope'"),
    ("claims: [{id: a, title: t, dataset: d, method: m, metric: nmi, treshold: 1}]", "unknown key.*treshold"),
    ("claims: [{id: a, title: t, dataset: d, method: m, metric: nmi, direction: up}]", "'up' is not one of"),
    ("claims: [{id: a, dataset: d, method: m, metric: nmi}]", r"title: is required"),
    ("claims: [", "not valid YAML"),
])
def test_bad_claims_files_name_the_entry(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "claims.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        C.load_claims(p)
    with pytest.raises(ConfigError, match="not found"):
        C.load_claims(tmp_path / "none.yaml")


def test_every_claim_is_run_by_the_repro_profile_with_enough_seeds() -> None:
    """The repro profile and the claims file agree: a claim nobody runs is a defect of one of them."""
    from ucgan.stages_params import _check_train

    claims = C.load_claims(ROOT / "benchmarks" / "claims.yaml")
    prm = P.load(ROOT / "profiles" / "repro-cpu.yaml")
    runs = _check_train(prm.raw["train"], prm.raw).all_runs()
    for c in claims:
        seeds = {s for d, m, s in runs if (d, m) == (c.dataset, c.method)}
        assert len(seeds) >= c.seeds, f"claim {c.id}: the repro profile runs {c.dataset}/{c.method} on {len(seeds)} seeds"


def test_report_writes_the_claims_table_for_listed_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "metrics"
    for s, nmi in enumerate((0.81, 0.84, 0.9)):
        p = root / "toy" / f"slogan-s{s}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"dataset": "toy", "method": "slogan", "seed": s, "fid": 1.0, "icfid": 2.0, "nmi": nmi,
                                 "icfid_per_class": [2.0, 2.0], "mixing_true": [0.7, 0.3], "mixing_learned": [0.7, 0.3],
                                 "mixing_l1": 0.0, "extractor": "raw"}))
    params = {
        "data": {"datasets": ["toy"], "custom": {"toy": {"preset": "gauss4", "counts": [10, 10, 10, 10],
                                                           "test_counts": [5, 5, 5, 5]}}},
        "tracking": {"enabled": False},
        "train": {"datasets": ["toy"], "methods": [], "seeds": [],
                  "runs": [{"dataset": "toy", "method": "slogan", "seed": s} for s in range(3)]},
        "evaluate": {"out_root": str(root)},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump({"claims": [
        {"id": "nmi", "title": "NMI", "dataset": "toy", "method": "slogan", "metric": "nmi", "direction": "higher",
         "threshold": 0.8, "paper": {"value": 0.92, "source": "Table 7"}},
        {"id": "far", "title": "not in the runs", "dataset": "toy", "method": "wgan", "metric": "fid"}]}))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep", "--claims", "claims.yaml"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads((tmp_path / "rep" / "claims.json").read_text())}
    assert rows["nmi"]["verdict"] == "reproduced" and rows["nmi"]["n_seeds"] == 3 and rows["nmi"]["paper"] == 0.92
    assert set(rows["nmi"]) >= {"id", "paper", "official", "ours_mean", "ours_std", "n_seeds", "verdict"}
    assert rows["far"]["verdict"] == "not run" and rows["far"]["rerun"] == ""
    assert rows["nmi"]["rerun"] == "dvc repro evaluate-listed@run0 evaluate-listed@run1 evaluate-listed@run2 report"
    assert "**reproduced**" in (tmp_path / "rep" / "claims.md").read_text()
    # without a claims file in the working directory the default is skipped; a named missing file is an error
    (tmp_path / "claims.yaml").unlink()
    assert CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep2"]).exit_code == 0
    assert not (tmp_path / "rep2" / "claims.md").exists()
    bad = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep3", "--claims", "claims.yaml"])
    assert bad.exit_code != 0 and "not found" in str(bad.exception)
