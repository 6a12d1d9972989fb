"""Imbalance sweeps: per-run quantities, the per-method summary, the files of the report section,
and the params checks of ``sweeps:``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ucgan import params as P
from ucgan import sweeps as S
from ucgan.errors import ConfigError

# a 4-class "ring" at three ratios: classes 0-1 small (share t/2 each), 2-3 large
RATIOS = {"r1": 1.0, "r3": 3.0, "r9": 9.0}


def _rec(d: str, m: str, seed: int, learned_small: float, matched: bool = True) -> dict[str, Any]:
    k = RATIOS[d]
    t = 1.0 / (1.0 + k)  # true share of the two small classes together
    return {"dataset": d, "method": m, "seed": seed, "icfid": 1.0 + k, "fid": 1.0,
            "mixing_true": [t / 2, t / 2, (1 - t) / 2, (1 - t) / 2],
            "mixing_learned": [learned_small / 2, learned_small / 2, (1 - learned_small) / 2, (1 - learned_small) / 2],
            "icfid_per_class": [k, k if matched else None, 1.0, 1.0],
            "assignment": [0, 1 if matched else -1, 2, 3]}


def _records() -> list[dict[str, Any]]:
    recs = []
    for s in range(3):
        # "good" follows the truth everywhere; "flat" stays at 0.5 (uniform); "lost" loses class 1 at 1:9
        for d, k in RATIOS.items():
            t = 1 / (1 + k)
            recs.append(_rec(d, "good", s, t + 0.01 * (s - 1)))
            recs.append(_rec(d, "flat", s, 0.5))
            recs.append(_rec(d, "lost", s, t, matched=not (d == "r9" and s == 2)))
            recs.append(_rec(d, "lucky", s, t if d != "r3" else 0.5))  # fails at 1:3, right again at 1:9
    return recs


def test_run_rows_and_summary() -> None:
    spec = S.SweepSpec(datasets=["r1", "r3", "r9"], classes=[0, 1], label="small")
    rows = [r for r in (S.run_row(x, spec.classes) for x in _records()) if r]
    r = next(r for r in rows if (r["dataset"], r["method"], r["seed"]) == ("r9", "good", 2))
    assert r["true_share"] == pytest.approx(0.1) and r["learned_share"] == pytest.approx(0.11)
    assert r["imbalance"] == pytest.approx(9.0) and r["rare_fid"] == pytest.approx(9.0) and r["rare_generated"]
    lost = next(r for r in rows if (r["dataset"], r["method"], r["seed"]) == ("r9", "lost", 2))
    assert not lost["rare_generated"] and lost["rare_fid"] is None
    agg = S.aggregate(rows, spec.datasets)
    a = next(a for a in agg if (a["method"], a["dataset"]) == ("good", "r3"))
    assert a["learned_share"] == pytest.approx(0.25) and a["learned_share_std"] == pytest.approx(0.01) and a["n_seeds"] == 3
    summ = {s["method"]: s for s in S.summary(agg)}
    assert summ["good"]["largest_imbalance_ok"] == pytest.approx(9.0) and summ["good"]["failed_at"] == []
    assert summ["flat"]["largest_imbalance_ok"] == pytest.approx(1.0) and summ["flat"]["failed_at"] == ["r3", "r9"]
    assert summ["lost"]["largest_imbalance_ok"] == pytest.approx(3.0) and summ["lost"]["failed_at"] == ["r9"]
    # a pass beyond a failure does not count: it holds up to the failure only
    assert summ["lucky"]["largest_imbalance_ok"] == pytest.approx(1.0) and summ["lucky"]["failed_at"] == ["r3"]
    with pytest.raises(ConfigError, match="do not exist"):
        S.run_row(_records()[0], [7])


def test_write_sweep_files(tmp_path: Path) -> None:
    spec = S.SweepSpec(datasets=["r1", "r3", "r9"], classes=[0, 1], label="small")
    files = S.write_sweep("ring", spec, _records(), tmp_path, tmp_path / "models")
    md = (tmp_path / "sweeps" / "ring.md").read_text()
    assert "| good | 9 | r9 | — | 3 |" in md and "| flat | 1 | r1 | r3, r9 | 3 |" in md
    for f in ("share.png", "icfid.png", "rare_fid.png"):
        assert (tmp_path / "sweeps" / "ring" / f).stat().st_size > 1000
    # no model.pt: the rare-sample entry says where to get it instead of failing
    assert "dvc pull" in md
    share = (tmp_path / "plots" / "sweep_share" / "ring.csv").read_text().splitlines()
    assert share[0] == "panel,method,dataset,true_share,learned_share,learned_share_lo,learned_share_hi,n_seeds"
    assert "ring,truth (y = x),r9,0.1,0.1,0.1,0.1,0" in share
    assert all(p.exists() for p in files)


def _params(tmp_path: Path, sweeps: Any) -> Path:
    data = {"data": {"datasets": ["gauss4", "ring8-1to3"]}, "tracking": {"enabled": False},
            "train": {"datasets": ["gauss4", "ring8-1to3"], "methods": ["wgan"], "seeds": [0]}, "sweeps": sweeps}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("sweeps, match", [
    ({"s": {"datasets": ["gauss4"], "classes": [0]}}, r"sweeps\.s\.datasets: a sweep needs at least two datasets"),
    ({"s": {"datasets": ["gauss4", "ring8"], "classes": [0]}}, r"'ring8' is not in train\.datasets"),
    ({"s": {"datasets": ["gauss4", "ring8-1to3"], "classes": []}}, r"sweeps\.s\.classes"),
    ({"s": {"datasets": ["gauss4", "ring8-1to3"], "classes": [0], "tolerance": 2}}, r"tolerance: must be in"),
    ({"s": {"datasets": ["gauss4", "ring8-1to3"], "clases": [0]}}, r"unknown key sweeps\.s\.clases"),
    ([1, 2], "sweeps: expected a mapping"),
])
def test_bad_sweeps_are_rejected(tmp_path: Path, sweeps: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        P.load(_params(tmp_path, sweeps))


def test_report_stage_writes_the_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from ucgan.cli.report import report_command

    root = tmp_path / "metrics"
    for rec in _records():  # the "good" runs on two of the ratios, as the evaluate stage would write them
        if rec["dataset"] in ("r1", "r9") and rec["method"] == "good":
            p = root / rec["dataset"] / f"wgan-s{rec['seed']}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({**rec, "method": "wgan", "extractor": "raw", "nmi": 1.0, "mixing_l1": 0.0}))
    custom = {d: {"preset": "gauss4", "counts": [10, 10, 10, 10], "test_counts": [5, 5, 5, 5]} for d in ("r1", "r9")}
    params = {"data": {"datasets": ["r1", "r9"], "custom": custom}, "tracking": {"enabled": False},
              "train": {"datasets": ["r1", "r9"], "methods": ["wgan"], "seeds": [0, 1, 2]},
              "evaluate": {"out_root": str(root)},
              "sweeps": {"ring": {"datasets": ["r1", "r9"], "classes": [0, 1], "label": "small"}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(report_command, ["--params", "params.yaml", "--out", "rep", "--no-registry"])
    assert res.exit_code == 0, res.output
    assert "| wgan | 9 | r9 | — | 3 |" in (tmp_path / "rep" / "sweeps" / "ring.md").read_text()
    assert (tmp_path / "rep" / "plots" / "sweep_icfid" / "ring.csv").is_file()


def test_share_counts_every_component_and_marks_given_shares() -> None:
    """An over-clustering method's share is its grouped mixing (every component to its majority class),
    not the one matched component per class; shares a method was given by the cluster stage are marked."""
    rec = _rec("r3", "over", 0, 0.1)
    rec["mixing_learned_grouped"] = [0.125, 0.125, 0.375, 0.375]  # 50 components summed per class
    row = S.run_row(rec, [0, 1])
    assert row is not None and row["learned_share"] == pytest.approx(0.25) and not row["given"]
    given = S.run_row({**_rec("r3", "cond", 0, 0.25), "attributes_from": "cluster-stage"}, [0, 1])
    assert given is not None and given["given"]
    agg = S.aggregate([given], ["r3"])
    assert agg[0]["given"] and S.summary(agg)[0]["given"]


def test_a_rare_class_without_a_component_of_its_own_is_not_generated() -> None:
    """SLOGAN A.7's shape: the rare class's true share is 0.01, the method gives it no component (grouped
    share 0, within 0.05 of the truth), yet the matching still pairs it with some component: not held."""
    recs = []
    for s in range(3):
        for d, k in (("r1", 1.0), ("r9", 9.0)):
            t = 1.0 / (1.0 + k)
            for m, small in (("kept", t / 2), ("dropped", 0.0 if d == "r9" else t / 2)):
                rec = _rec(d, m, s, t)
                rec["mixing_learned_grouped"] = [small, t / 2, (1 - t) / 2, (1 - t) / 2 + t / 2 - small]
                recs.append(rec)
    rows = [r for r in (S.run_row(x, [0]) for x in recs) if r]
    dropped = next(r for r in rows if (r["dataset"], r["method"]) == ("r9", "dropped"))
    assert dropped["learned_share"] == 0.0 and abs(dropped["true_share"] - 0.05) < 1e-9
    assert dropped["rare_fid"] is not None and not dropped["rare_generated"]
    summ = {x["method"]: x for x in S.summary(S.aggregate(rows, ["r1", "r9"]), tolerance=0.06)}
    assert summ["kept"]["largest_imbalance_ok"] == pytest.approx(9.0)
    assert summ["dropped"]["largest_imbalance_ok"] == pytest.approx(1.0) and summ["dropped"]["failed_at"] == ["r9"]
