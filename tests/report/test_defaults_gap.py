"""The built-in ``<method>-defaults`` variant and the report's defaults-vs-tuned table."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ucgan.defaults_gap import defaults_gap, defaults_gap_markdown, defaults_id
from ucgan.errors import ConfigError
from ucgan.stages_params import method_config, resolve_method, variant_note

ROOT = Path(__file__).resolve().parents[2]


def _rec(method: str, seed: int, **metrics: float) -> dict:
    return {"dataset": "ring8-1to3", "method": method, "seed": seed, **metrics}


def test_defaults_variant_is_the_default_block_alone() -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert resolve_method(raw, "slogan-defaults") == ("slogan", "slogan-defaults")
    tuned = method_config(raw, "slogan", "ring8-1to3")
    alone = method_config(raw, "slogan-defaults", "ring8-1to3")
    default_block = raw["methods"]["slogan"]["default"]
    assert alone.lr == default_block["lr"] and alone.width == default_block["width"]
    assert tuned.lr != alone.lr  # the ring's own block is not applied
    # a dataset without its own block: the defaults run is the method's run
    assert method_config(raw, "slogan-defaults", "mnist5k-2-7to3") == method_config(raw, "slogan", "mnist5k-2-7to3")
    assert "default block alone" in variant_note(raw, "slogan-defaults")
    assert variant_note(raw, "slogan") == ""


def test_declaring_the_builtin_id_is_refused() -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["methods"]["wgan"]["variants"] = {"wgan-defaults": {"note": "mine", "default": {"lr": 1.0e-3}}}
    with pytest.raises(ConfigError, match="built in"):
        method_config(raw, "wgan", "ring8-1to3")


def test_gap_pairs_runs_and_calls_only_gaps_beyond_the_seed_spread() -> None:
    recs = [_rec("scgan", s, icfid=0.10 + 0.01 * s, nmi=0.95) for s in range(3)]
    recs += [_rec(defaults_id("scgan"), s, icfid=0.50 + 0.01 * s, nmi=0.949 + 0.001 * s) for s in range(3)]
    recs += [_rec("wgan", 0, icfid=1.0)]  # no defaults run: no row
    rows = {(r["method"], r["metric"]): r for r in defaults_gap(recs)}
    assert set(rows) == {("scgan", "icfid"), ("scgan", "nmi")}
    icfid = rows[("scgan", "icfid")]
    assert icfid["gap"] == pytest.approx(0.40) and icfid["worse"] and not icfid["better"]
    assert icfid["tuned_n"] == icfid["defaults_n"] == 3
    nmi = rows[("scgan", "nmi")]
    assert not nmi["worse"] and not nmi["better"]  # same mean, inside one std
    md = defaults_gap_markdown(list(rows.values()))
    assert "| ring8-1to3 | scgan | icfid (lower is better) |" in md and "worse" in md and "within noise" in md


def test_one_finite_seed_is_not_judged() -> None:
    recs = [_rec("cgpgan", s, icfid=0.3) for s in range(3)]
    recs += [_rec(defaults_id("cgpgan"), 0, icfid=0.001), _rec(defaults_id("cgpgan"), 1, icfid=float("nan"))]
    (row,) = defaults_gap(recs)
    assert row["defaults_n"] == 1 and not row["judged"] and not row["better"] and not row["worse"]
    assert "too few seeds" in defaults_gap_markdown([row])


def test_empty_table_says_why() -> None:
    assert "No `<method>-defaults` run" in defaults_gap_markdown([])
