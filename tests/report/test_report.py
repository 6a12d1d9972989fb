"""Report and registry logic without servers: summary statistics, the Wilcoxon rank-sum tests,
champion selection, the written files (CSV, Markdown, DVC plot data) on hand-made metrics files."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from ucgan import report as R
from ucgan.cli.report import report_command
from ucgan.registry import VersionRow, fmt_tag, parse_tag, pick_champion

# dataset "toy" (2 classes): slogan and wgan with 3 seeds, infogan with 1; "pts" (2-D): mode metrics
ICFID = {"slogan": [5.0, 6.0, 7.0], "wgan": [9.0, 11.0, 10.0], "infogan": [8.0]}
FID = {"slogan": [4.0, 4.5, 5.0], "wgan": [6.0, 6.5, 7.5], "infogan": [5.0]}
NMI = {"slogan": [0.9, 0.8, None], "wgan": [0.5, 0.6, 0.4], "infogan": [0.7]}


def _metric(dataset: str, method: str, seed: int, i: int, **extra: Any) -> dict[str, Any]:
    return {
        "dataset": dataset, "method": method, "seed": seed, "fid": FID[method][i], "icfid": ICFID[method][i],
        "icfid_per_class": [ICFID[method][i] - 1, ICFID[method][i] + 1], "nmi": NMI[method][i],
        "mixing_true": [0.7, 0.3], "mixing_learned": [0.6 + 0.01 * i, 0.4 - 0.01 * i],
        "mixing_l1": abs(0.2 - 0.02 * i), "extractor": "raw", **extra,
    }


@pytest.fixture
def metrics_root(tmp_path: Path) -> Path:
    root = tmp_path / "metrics"
    for method, seeds in (("slogan", [0, 1, 2]), ("wgan", [0, 1, 2]), ("infogan", [0])):
        for i, s in enumerate(seeds):
            p = root / "toy" / f"{method}-s{s}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(_metric("toy", method, s, i)))
    for i, s in enumerate([0, 1]):
        p = root / "pts" / f"slogan-s{s}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(_metric("pts", "slogan", s, i, modes_covered=8 - i, num_modes=8,
                                        high_quality_share=0.9, reverse_kl=0.01 * (i + 1))))
    return root


def _runs(metrics_root: Path) -> R.Runs:
    return R.load_runs(metrics_root, [(d, m, s) for d in ("toy", "pts") for m in ("slogan", "wgan", "infogan") for s in (0, 1, 2)])


def test_load_runs_collects_missing(metrics_root: Path) -> None:
    runs = _runs(metrics_root)
    assert len(runs.records) == 3 + 3 + 1 + 2
    assert ("toy", "infogan", 1) in runs.missing and ("pts", "wgan", 0) in runs.missing
    assert all(r["_path"].endswith(".json") for r in runs.records)


def test_summary_mean_and_sample_std(metrics_root: Path) -> None:
    rows = {(r["dataset"], r["method"]): r for r in R.summarize(_runs(metrics_root).records)}
    s = rows[("toy", "slogan")]
    assert s["n_seeds"] == 3 and s["seeds"] == "0;1;2"
    assert s["icfid_mean"] == pytest.approx(6.0) and s["icfid_std"] == pytest.approx(np.std([5, 6, 7], ddof=1))
    assert s["nmi_n"] == 2 and s["nmi_mean"] == pytest.approx(0.85)  # the null NMI is left out
    one = rows[("toy", "infogan")]
    assert one["icfid_mean"] == 8.0 and one["icfid_std"] is None
    assert "modes_covered_mean" not in s  # mode metrics only where present (2-D dataset)
    assert rows[("pts", "slogan")]["modes_covered_mean"] == pytest.approx(7.5)
    assert R.mean_std([5, 6, 7]) == "6 ± 1" and R.mean_std([8.0]) == "8" and R.mean_std([None, float("inf")]) == "-"


def test_wilcoxon_rank_sum_against_reference(metrics_root: Path) -> None:
    tests = R.rank_sum_tests(_runs(metrics_root).records, reference="slogan")
    by = {(t["dataset"], t["method"], t["metric"]): t for t in tests}
    t = by[("toy", "wgan", "icfid")]
    # exact two-sided Mann-Whitney: 3 vs 3 completely separated -> p = 2 / C(6, 3) = 0.1, never below
    # (scipy.stats.ranksums' normal approximation says 0.0495 and would star it)
    assert t["p_value"] == pytest.approx(0.1) and t["statistic"] == 0.0 and t["min_p_possible"] == pytest.approx(0.1)
    assert "*" not in t["result"] and "cannot reach 0.05 with 3 vs 3 seeds" in t["result"]
    pooled = np.sqrt((np.var(ICFID["slogan"], ddof=1) + np.var(ICFID["wgan"], ddof=1)) / 2)
    assert t["cohens_d"] == pytest.approx((6.0 - 10.0) / pooled)
    assert "slogan better" in t["result"] and (t["n_reference"], t["n_method"]) == (3, 3)
    nmi = by[("toy", "wgan", "nmi")]
    assert nmi["n_reference"] == 2 and "slogan better" in nmi["result"]  # higher NMI is better
    assert by[("toy", "infogan", "icfid")]["result"] == R.NEEDS_SEEDS == "n/a (needs ≥2 seeds)"
    assert by[("toy", "infogan", "icfid")]["p_value"] is None
    assert not [t for t in tests if t["dataset"] == "pts"]  # slogan alone: nothing to compare
    assert R.rank_sum_tests(_runs(metrics_root).records, reference="slogan-v2") == []


def test_champion_selection() -> None:
    rows = [{"method": "a", "seed": 0, "icfid": 3.0, "fid": 2.0},
            {"method": "b", "seed": 0, "icfid": None, "fid": 0.1},
            {"method": "c", "seed": 1, "icfid": float("inf"), "fid": 0.1},
            {"method": "d", "seed": 2, "icfid": 3.0, "fid": 1.0},
            {"method": "e", "seed": 0, "icfid": 4.0, "fid": 0.5}]
    assert pick_champion(rows)["method"] == "d"  # tie on ICFID -> lower FID
    assert pick_champion(rows[1:3]) is None
    assert pick_champion([{"method": "z", "seed": 1, "icfid": 1.0}, {"method": "y", "seed": 0, "icfid": 1.0}])["method"] == "y"
    vr = [VersionRow("toy", v, "m", v, icfid, 1.0, None, None, "raw", [], "", 0) for v, icfid in ((1, 5.0), (2, 4.0), (3, None))]
    assert pick_champion(vr).version == 2


def test_tags_roundtrip() -> None:
    assert parse_tag(fmt_tag(0.1 + 0.2)) == 0.1 + 0.2
    assert fmt_tag(None) == fmt_tag(float("nan")) == fmt_tag(float("inf")) == "null"
    assert parse_tag("null") is None and parse_tag(None) is None and parse_tag("x") is None


def test_build_report_writes_tables_pictures_and_plot_data(metrics_root: Path, tmp_path: Path) -> None:
    runs = _runs(metrics_root)
    models = tmp_path / "models"
    grid = models / "toy" / "slogan-s0" / "grids" / "final.png"
    grid.parent.mkdir(parents=True)
    grid.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (models / "toy" / "slogan-s0" / "losses.csv").write_text("step,g_loss\n1,0.5\n2,0.4\n")
    calls = []

    def registry(dataset: str, champ: dict[str, Any], recs: list[dict[str, Any]]) -> str:
        calls.append((dataset, champ["method"], int(champ["seed"]), len(recs)))
        return "Registry: stub."

    res = R.build_report(runs.records, tmp_path / "reports", models, "slogan", runs.missing, registry)
    out = tmp_path / "reports"
    assert sorted(calls) == [("pts", "slogan", 0, 2), ("toy", "slogan", 0, 7)]
    assert res.champions["toy"] == {"method": "slogan", "seed": 0, "icfid": 5.0, "note": "Registry: stub."}

    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert {(r["dataset"], r["method"]) for r in summary} == {("toy", "slogan"), ("toy", "wgan"), ("toy", "infogan"), ("pts", "slogan")}
    wg = next(r for r in summary if r["method"] == "wgan")
    assert float(wg["icfid_mean"]) == pytest.approx(10.0) and float(wg["icfid_std"]) == pytest.approx(1.0)
    assert next(r for r in summary if r["method"] == "infogan")["icfid_std"] == ""
    with open(out / "wilcoxon.csv", newline="") as f:
        assert any(r["result"] == R.NEEDS_SEEDS for r in csv.DictReader(f))

    md = (out / "toy.md").read_text()
    assert "| slogan | 3 | **4.5 ± 0.5** | **6 ± 1** |" in md  # best mean in bold
    assert R.NEEDS_SEEDS in md and "Lowest ICFID: **slogan**, seed 0" in md and "Registry: stub." in md
    assert "![learned vs true mixing](figures/toy/mixing.png)" in md and "(figures/toy/samples/slogan-s0.png)" in md
    assert "_not available:" in md and "`evaluate@toy-infogan-1`" in md  # missing grid / run are named
    assert (out / "figures" / "toy" / "samples" / "slogan-s0.png").read_bytes() == grid.read_bytes()
    for name in ("mixing.png", "icfid_per_class.png"):
        assert (out / "figures" / "toy" / name).read_bytes()[:4] == b"\x89PNG"
    assert "modes covered ↑" in (out / "pts.md").read_text() and "8 / 8" not in md

    # DVC plot data: one file per dataset and chart kind, each row headed with its extractor
    with open(out / "plots" / "mixing" / "toy.csv", newline="") as f:
        mix = list(csv.DictReader(f))
    assert {"bar", "share", "panel"} <= set(mix[0]) and {"class 0 | true", "class 1 | slogan"} <= {r["bar"] for r in mix}
    with open(out / "plots" / "icfid_per_class" / "toy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    ic = {r["bar"]: float(r["icfid"]) for r in rows}
    assert ic["class 0 | wgan"] == pytest.approx(9.0) and "extractor" in rows[0]["panel"]
    assert sorted(p.name for p in (out / "plots" / "icfid").iterdir()) == ["pts.csv", "toy.csv"]
    with open(out / "plots" / "icfid" / "toy.csv", newline="") as f:
        assert {r["method"] for r in csv.DictReader(f)} == {"slogan", "wgan", "infogan"}
    losses = (out / "plots" / "losses" / "toy" / "slogan-s0.csv").read_text().splitlines()
    assert losses[0] == "step,value,term,kind,panel"

    # same inputs -> byte-identical text outputs (clean DVC/git diffs)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.suffix in (".csv", ".md")}
    R.build_report(runs.records, out, models, "slogan", runs.missing, registry)
    assert all(p.read_bytes() == b for p, b in before.items())


def test_report_command_reads_the_matrix(tmp_path: Path, metrics_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    params = {
        "data": {"datasets": ["toy"], "custom": {"toy": {"preset": "gauss4", "counts": [10, 10, 10, 10],
                                                           "test_counts": [5, 5, 5, 5]}}},
        "tracking": {"enabled": False},
        "train": {"datasets": ["toy"], "methods": ["slogan", "wgan"], "seeds": [0, 1, 2]},
        "evaluate": {"out_root": str(metrics_root)},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep"])
    assert res.exit_code == 0, res.output
    assert "toy: champion slogan seed 0 (ICFID 5)" in res.output and "rep/toy.md" in res.output
    assert "infogan" not in (tmp_path / "rep" / "summary.csv").read_text()  # not in the matrix
    bad = CliRunner().invoke(report_command, ["--params", "params.yaml", "--dataset", "nope"])
    assert bad.exit_code != 0 and "train.datasets" in str(bad.exception)


def test_stats_helpers() -> None:
    m, s, n = R.stats([1, 2, None, float("nan"), 3])
    assert (m, n) == (2.0, 3) and s == pytest.approx(1.0)
    assert R.stats([]) == (None, None, 0)
    assert R.finite(True) is None and R.finite("1.5") == 1.5 and math.isinf(float("inf")) and R.finite(float("inf")) is None
