"""A paper's comparison table beside ours: ranks, Kendall's tau, clear flips, the file's checks, the report files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ucgan import params as P
from ucgan.cli.report import report_command
from ucgan.errors import ConfigError
from ucgan.orderings import PaperMetric, PaperTable, compare_orderings, load_paper_tables, orderings_markdown

ROOT = Path(__file__).resolve().parents[2]


def _recs(dataset: str, method: str, values: list[float], metric: str = "nmi") -> list[dict]:
    return [{"dataset": dataset, "method": method, "seed": s, metric: v} for s, v in enumerate(values)]


def _table(**paper: list[float]) -> PaperTable:
    return PaperTable(id="t", title="T", dataset="d", metrics={"nmi": PaperMetric("higher", dict(paper))})


def test_same_order_gives_tau_one_and_no_flips() -> None:
    recs = _recs("d", "a", [0.9, 0.92, 0.91]) + _recs("d", "b", [0.5, 0.52, 0.51]) + _recs("d", "c", [0.1, 0.1, 0.12])
    (row,) = compare_orderings([_table(a=[0.8, 0.01], b=[0.6, 0.01], c=[0.2, 0.01])], recs)
    assert row["kendall_tau"] == pytest.approx(1.0) and row["same_best"] and row["clear_flips"] == []
    ranks = {m["method"]: (m["paper_rank"], m["ours_rank"]) for m in row["methods"]}
    assert ranks == {"a": (1.0, 1.0), "b": (2.0, 2.0), "c": (3.0, 3.0)}


def test_flips_count_only_beyond_both_spreads() -> None:
    # a/b and a/c reversed clearly on both sides; b/c reversed but the paper's stds overlap: not a clear flip
    recs = _recs("d", "a", [0.2, 0.21, 0.2]) + _recs("d", "b", [0.9, 0.9, 0.91]) + _recs("d", "c", [0.95, 0.95, 0.96])
    (row,) = compare_orderings([_table(a=[0.9, 0.01], b=[0.5, 0.1], c=[0.45, 0.1])], recs)
    assert row["clear_flips"] == [{"paper_better": "a", "ours_better": "b"}, {"paper_better": "a", "ours_better": "c"}]
    assert row["kendall_tau"] == pytest.approx(-1.0) and row["paper_best"] == "a" and row["ours_best"] == "c"
    md = orderings_markdown([row])
    assert "paper: a better than b, ours: the reverse" in md and "Kendall's tau over 3 methods: -1.00" in md


def test_lower_is_better_missing_methods_and_other_datasets() -> None:
    t = PaperTable(id="t", title="T", dataset="d", metrics={"fid": PaperMetric("lower", {"a": [1.0], "b": [2.0], "z": [3.0]})})
    other = PaperTable(id="o", title="O", dataset="cifar", metrics={"fid": PaperMetric("lower", {"a": [1.0], "b": [2.0]})})
    recs = _recs("d", "a", [5.0, 5.0], "fid") + _recs("d", "b", [9.0, 9.5], "fid")
    rows = compare_orderings([t, other], recs)
    assert [r["table"] for r in rows] == ["t"]  # no runs of the other table's dataset: no row
    (row,) = rows
    assert row["missing"] == ["z"] and row["n_shared"] == 2 and row["kendall_tau"] is None  # too few to test
    assert row["paper_best"] == row["ours_best"] == "a"
    assert "Not run here: z." in orderings_markdown(rows)


def test_one_seed_cannot_flip_the_papers_order() -> None:
    recs = _recs("d", "a", [0.1]) + _recs("d", "b", [0.9, 0.91])
    (row,) = compare_orderings([_table(a=[0.9, 0.01], b=[0.2, 0.01])], recs)
    assert row["clear_flips"] == [] and row["paper_best"] == "a" and row["ours_best"] == "b"
    assert "| a | 0.9 ± 0.01 | 1 | 0.1 (1) | 2 |" in orderings_markdown([row])


@pytest.mark.parametrize("text, match", [
    ("tables: [{id: a, title: t, dataset: d, metrics: {nmi: {paper: {x: [1.0]}}}}]", "at least two methods"),
    ("tables: [{id: a, title: t, dataset: d, metrics: {nmi: {direction: up, paper: {x: [1], y: [2]}}}}]", "'up' is not one of"),
    ("tables: [{id: a, title: t, dataset: d, metrics: {nmi: {paper: {x: [1, 2, 3], y: [2]}}}}]", r"\[mean\] or \[mean, std\]"),
    ("tables: [{id: a, dataset: d, metrics: {}}]", "title: is required"),
    ("tabels: []", "unknown key.*tabels"),
    ("tables: [", "not valid YAML"),
])
def test_bad_paper_tables_name_the_entry(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_paper_tables(p)
    with pytest.raises(ConfigError, match="not found"):
        load_paper_tables(tmp_path / "none.yaml")


def test_the_shipped_tables_name_methods_the_registry_has() -> None:
    from ucgan.methods import available

    tables = load_paper_tables(ROOT / "benchmarks" / "paper_tables.yaml")
    assert {t.dataset for t in tables} >= {"mnist5k-2-7to3", "cifar2-7to3"}
    prm = P.load(ROOT / "profiles" / "repro-cpu.yaml")
    for t in tables:
        for metric, pm in t.metrics.items():
            unknown = set(pm.paper) - set(available())
            assert not unknown, f"{t.id}.{metric}: {unknown} are not registered methods"
    # the offline table's methods are all run by the repro profile on 3 seeds
    offline = next(t for t in tables if t.dataset == "mnist5k-2-7to3")
    runs = {(m, s) for d, m, s in prm.train.all_runs() if d == "mnist5k-2-7to3"}
    for m in offline.metrics["nmi"].paper:
        assert len({s for mm, s in runs if mm == m}) >= 3, m


def test_report_writes_orderings_for_datasets_with_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "metrics"
    for method, nmis in {"slogan": (0.9, 0.91), "wgan": (0.3, 0.31), "scgan": (0.6, 0.62)}.items():
        for s, nmi in enumerate(nmis):
            p = root / "toy" / f"{method}-s{s}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"dataset": "toy", "method": method, "seed": s, "fid": 1.0, "nmi": nmi,
                                     "extractor": "raw"}))
    params = {
        "data": {"datasets": ["toy"], "custom": {"toy": {"preset": "gauss4", "counts": [10, 10, 10, 10],
                                                           "test_counts": [5, 5, 5, 5]}}},
        "tracking": {"enabled": False},
        "train": {"datasets": ["toy"], "methods": [], "seeds": [],
                  "runs": [{"dataset": "toy", "method": m, "seed": s} for m in ("slogan", "wgan", "scgan") for s in range(2)]},
        "evaluate": {"out_root": str(root)},
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "tables.yaml").write_text(yaml.safe_dump({"tables": [
        {"id": "t7", "title": "Table 7", "dataset": "toy", "source": "paper",
         "metrics": {"nmi": {"direction": "higher", "paper": {"slogan": [0.9, 0.01], "wgan": [0.2, 0.01], "scgan": [0.5, 0.01]}}}}]}))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep", "--claims", "",
                                              "--paper-tables", "tables.yaml"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads((tmp_path / "rep" / "orderings.json").read_text())
    assert row["kendall_tau"] == pytest.approx(1.0) and row["same_best"]
    assert "## Table 7 (toy)" in (tmp_path / "rep" / "orderings.md").read_text()
    # '' skips; a named missing file stops before any work
    assert CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep2", "--claims", "",
                                               "--paper-tables", ""]).exit_code == 0
    assert not (tmp_path / "rep2" / "orderings.md").exists()
    bad = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep3", "--claims", "",
                                              "--paper-tables", "missing.yaml"])
    assert bad.exit_code != 0 and "not found" in str(bad.exception) and not (tmp_path / "rep3" / "summary.csv").exists()
